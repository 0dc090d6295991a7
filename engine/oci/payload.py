"""Read an OpenShift release image: resolve its tag to a digest and read ``release-manifests/release-metadata``
and ``release-manifests/image-references`` out of its layers.

Layers are streamed through the tar(.gz) reader, newest first, and every byte read is checked against the
layer's digest; nothing is held in memory but the two small files. The result is a :class:`ReleaseInfo`:
version, digest, architecture, every component (name, pullspec by digest), errata URL, channels and the
versions it updates from.

Public API (used by the release-selection and mirroring steps)::

    info = read_release_pullspec("quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64", auth_file=..., ca_file=...)
    info = read_release(store, "openshift-release-dev/ocp-release", "4.17.3-x86_64", architecture="x86_64")

``store`` is anything that implements :class:`engine.oci.registry.ImageStore` (a registry client or a mirror folder).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.authfile import AuthFile
from engine.errors import RegistryError
from engine.oci.registry import (
    HashingIterator,
    ImageStore,
    Manifest,
    Reference,
    RegistryClient,
    check_digest,
    is_digest,
)

METADATA_PATH = "release-manifests/release-metadata"
REFERENCES_PATH = "release-manifests/image-references"

GO_TO_OCP_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
OCP_TO_GO_ARCH = {v: k for k, v in GO_TO_OCP_ARCH.items()}


def ocp_arch(go_arch: str) -> str:
    """Image-config architecture → release tag suffix, as ``oc adm release mirror`` maps it."""
    return GO_TO_OCP_ARCH.get(go_arch, go_arch)


def go_arch(arch: str) -> str:
    return OCP_TO_GO_ARCH.get(arch, arch)


@dataclass(frozen=True)
class Component:
    name: str
    pullspec: str
    """``registry/repository@sha256:...`` as written in image-references."""

    @property
    def reference(self) -> Reference:
        return Reference.parse(self.pullspec)

    @property
    def digest(self) -> str:
        return self.reference.digest


@dataclass
class ReleaseInfo:
    version: str
    digest: str
    """Digest of the release image manifest (or of the manifest list for a multi-arch release)."""
    architecture: str
    """x86_64, aarch64, s390x, ppc64le or multi."""
    pullspec: str
    """Where it was read, by digest."""
    components: list[Component] = field(default_factory=list)
    errata_url: str = ""
    channels: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    next: list[str] = field(default_factory=list)
    media_type: str = ""

    @property
    def tag(self) -> str:
        """``<version>-<arch>`` as ``oc adm release mirror`` tags the release image."""
        return f"{self.version}-{self.architecture}"

    def component_tag(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def component_repositories(self) -> list[str]:
        """Every distinct ``registry/repository`` the components come from."""
        return sorted({c.reference.repo_path for c in self.components})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["components"] = [[c.name, c.pullspec] for c in self.components]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReleaseInfo:
        d = dict(data)
        d["components"] = [Component(str(n), str(p)) for n, p in d.get("components", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


class _IterReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def read_layer_files(
    store: ImageStore, repository: str, layer_digest: str, size: int, wanted: set[str]
) -> dict[str, bytes]:
    """Stream one layer (tar, tar+gzip) and return the wanted files; the layer's digest is checked."""
    found: dict[str, bytes] = {}
    with store.open_blob(repository, layer_digest) as chunks:
        hashing = HashingIterator(chunks)
        raw = _IterReader(hashing)
        try:
            with tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member in tar:
                    name = _norm(member.name)
                    if name in wanted and member.isfile():
                        f = tar.extractfile(member)
                        if f is not None:
                            found[name] = f.read(16 * 1024 * 1024 + 1)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise RegistryError(
                f"layer {layer_digest} of the release image is not a readable tar archive ({exc})",
                fix="Check that the reference points to an OpenShift release image.",
            ) from None
        for _ in hashing:  # drain: the whole layer is checked against its digest
            pass
        hashing.check(layer_digest, size, f"layer {layer_digest} of {store.name}/{repository}")
    return found


def resolve_release(
    store: ImageStore, repository: str, ref: str, *, architecture: str = ""
) -> tuple[Manifest, Manifest]:
    """(top manifest, image manifest): for a manifest list the platform's manifest is picked (unless
    ``architecture`` is ``multi``, when the first one is used for reading)."""
    top = store.get_manifest(repository, ref)
    if not top.is_index:
        return top, top
    children = top.children()
    if not children:
        raise RegistryError(f"{store.name}/{repository}:{ref} is an empty manifest list")
    want = go_arch(architecture) if architecture and architecture != "multi" else ""
    chosen = None
    for d in children:
        plat = d.platform or {}
        if not want or plat.get("architecture") == want:
            chosen = d
            break
    if chosen is None:
        have = ", ".join(sorted(str((d.platform or {}).get("architecture", "?")) for d in children))
        raise RegistryError(
            f"{store.name}/{repository}:{ref} has no image for architecture {architecture} (it has {have})",
            fix="Set release.architecture in the plan to one the release provides.",
        )
    image = store.get_manifest(repository, chosen.digest)
    return top, image


def read_release(store: ImageStore, repository: str, ref: str, *, architecture: str = "") -> ReleaseInfo:
    """Resolve ``repository:ref`` in ``store`` and read its release metadata and image references."""
    top, image = resolve_release(store, repository, ref, architecture=architecture)
    where = f"{store.name}/{repository}@{top.digest}"
    arch = architecture if architecture == "multi" else ""
    cfg = image.config()
    if not arch and cfg is not None:
        with store.open_blob(repository, cfg.digest) as chunks:
            data = b"".join(chunks)
        check_digest(data, cfg.digest, f"config of {where}")
        try:
            arch = ocp_arch(str(json.loads(data).get("architecture", "")))
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            arch = ""
    if top.is_index and architecture == "multi":
        arch = "multi"
    wanted = {METADATA_PATH, REFERENCES_PATH}
    found: dict[str, bytes] = {}
    for layer in reversed(image.layers()):
        got = read_layer_files(store, repository, layer.digest, layer.size, wanted - set(found))
        found.update(got)
        if wanted <= set(found):
            break
    missing = sorted(wanted - set(found))
    if missing:
        raise RegistryError(
            f"{where} is not an OpenShift release image: it has no {', '.join('/' + m for m in missing)}",
            fix="Check endpoints.release_source and the release version in the plan.",
        )
    info = parse_release_files(found[METADATA_PATH], found[REFERENCES_PATH], where=where)
    # a single-architecture mirror of a manifest list carries the platform's manifest, as oc does
    release = top if (arch == "multi" or not top.is_index) else image
    info.digest = release.digest
    info.architecture = arch or architecture or "x86_64"
    info.pullspec = f"{store.name}/{repository}@{release.digest}"
    info.media_type = release.media_type
    return info


def parse_release_files(
    metadata: bytes, references: bytes, *, where: str = "the release image"
) -> ReleaseInfo:
    """Build a ReleaseInfo (without digest/architecture) from the two payload files."""
    try:
        meta = json.loads(metadata)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{where}: release-metadata is not valid JSON ({exc})") from None
    try:
        stream = json.loads(references)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{where}: image-references is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("kind") != "cincinnati-metadata-v0":
        raise RegistryError(f"{where}: release-metadata is not of kind cincinnati-metadata-v0")
    version = str(meta.get("version", ""))
    if not version:
        raise RegistryError(f"{where}: release-metadata has no version")
    if not isinstance(stream, dict) or stream.get("kind") != "ImageStream":
        raise RegistryError(f"{where}: image-references is not an ImageStream")
    name = str((stream.get("metadata") or {}).get("name", ""))
    if name and name != version:
        raise RegistryError(
            f"{where}: image-references names version {name} but release-metadata says {version}"
        )
    components: list[Component] = []
    for tag in (stream.get("spec") or {}).get("tags") or []:
        src = (tag.get("from") or {}) if isinstance(tag, dict) else {}
        pullspec = str(src.get("name", ""))
        comp_name = str(tag.get("name", "")) if isinstance(tag, dict) else ""
        if not comp_name or not pullspec:
            continue
        ref = Reference.parse(pullspec)
        if not is_digest(ref.digest):
            raise RegistryError(
                f"{where}: image-references should only contain pointers to images by digest ({comp_name}: {pullspec})"
            )
        components.append(Component(comp_name, pullspec))
    md = meta.get("metadata") or {}
    channels = [c.strip() for c in str(md.get("io.openshift.upgrades.graph.release.channels", "")).split(",")]
    return ReleaseInfo(
        version=version,
        digest="",
        architecture=str(md.get("release.openshift.io/architecture", "")),
        pullspec="",
        components=components,
        errata_url=str(md.get("url", "")),
        channels=[c for c in channels if c],
        previous=[str(v) for v in meta.get("previous") or []],
        next=[str(v) for v in meta.get("next") or []],
    )


def read_release_pullspec(
    pullspec: str, *, auth_file: str = "", ca_file: str = "", architecture: str = ""
) -> ReleaseInfo:
    """Convenience: read a release given as ``registry/repo:tag`` or ``registry/repo@digest``."""
    ref = Reference.parse(pullspec)
    auth = AuthFile.discover(auth_file)
    with RegistryClient(
        ref.registry, auth=auth, ca_file=ca_file, ca_setting="endpoints.source_ca_file"
    ) as client:
        return read_release(client, ref.repository, ref.ref, architecture=architecture)


__all__ = [
    "Component",
    "ReleaseInfo",
    "go_arch",
    "ocp_arch",
    "parse_release_files",
    "read_layer_files",
    "read_release",
    "read_release_pullspec",
    "resolve_release",
]
