"""Index images: read the file-based catalog out of one, and build a filtered one.

An index image (operator-framework/operator-registry, the Dockerfile ``opm generate dockerfile`` writes) is the
``opm`` base image plus the catalog in ``/configs`` — the label ``operators.operatorframework.io.index.configs.v1``
names the directory — with ``ENTRYPOINT ["/bin/opm"]`` and ``CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]``;
newer ones carry the cache ``opm serve --cache-only`` pre-built in ``/tmp/cache``. Multi-architecture indexes are an
OCI index / Docker manifest list of such images (same catalog, one base per platform).

The filtered image keeps every layer of the original (so the base is byte-for-byte the same and mounts instead of
copying) and adds one layer: an opaque whiteout on the configs directory (``.wh..wh..opq``: the lower layers'
catalog is hidden, per the OCI image-spec layer changeset rules) with the filtered catalog, and an opaque whiteout
on the cache directory. The pre-built cache no longer matches the catalog and ``opm serve --cache-dir`` enforces
the cache's integrity by default when ``--cache-dir`` is set ("integrity check failed: read existing cache digest"),
so the command gets ``--cache-enforce-integrity=false``: the catalog pod builds its cache at start instead of
failing. (Rebuilding the cache here would need ``opm`` itself.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Any

from engine.catalogs import fbc
from engine.errors import InputError, RegistryError
from engine.mirror.media import DirStore
from engine.oci.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ImageStore,
    Manifest,
)

DEFAULT_CONFIGS = "/configs"
CACHE_FLAG = "--cache-dir"
INTEGRITY_FLAG = "--cache-enforce-integrity"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "ppc64le": "ppc64le"}
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MAX_CATALOG_BYTES = 2 << 30


def _read_blob(store: ImageStore, repo: str, digest: str) -> bytes:
    h = hashlib.sha256()
    buf = io.BytesIO()
    with store.open_blob(repo, digest) as chunks:
        for c in chunks:
            h.update(c)
            buf.write(c)
    if "sha256:" + h.hexdigest() != digest:
        raise RegistryError(f"blob {digest} of {repo} does not match its digest")
    return buf.getvalue()


@dataclass
class IndexImage:
    repository: str
    digest: str
    top: Manifest
    images: list[tuple[Manifest, dict[str, Any], Descriptor | None]]
    """Per platform: (image manifest, its config, its descriptor in the top index or None)."""
    configs_dir: str
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def cmd(self) -> list[str]:
        return list(((self.images[0][1].get("config") or {}).get("Cmd")) or [])

    @property
    def has_cache(self) -> bool:
        return any(a.startswith(CACHE_FLAG) for a in self.cmd)


def _tar_files(fileobj: Any, prefix: str, files: dict[str, bytes], limit: list[int]) -> None:
    """Apply one layer's changes under ``prefix`` to ``files`` (whiteouts included)."""
    with tarfile.open(fileobj=fileobj, mode="r|*") as tf:
        for m in tf:
            name = posixpath.normpath(m.name.removeprefix("./").lstrip("/"))
            base = posixpath.basename(name)
            parent = posixpath.dirname(name)
            if not (name == prefix or name.startswith(prefix + "/")):
                # a whiteout of the configs directory itself (or a parent) removes everything below it
                if base.startswith(".wh.") and (prefix + "/").startswith(
                    posixpath.join(parent, base[4:]) + "/"
                ):
                    files.clear()
                continue
            if base == ".wh..wh..opq":
                for k in [k for k in files if k.startswith(parent + "/")]:
                    del files[k]
            elif base.startswith(".wh."):
                gone = posixpath.join(parent, base[4:])
                for k in [k for k in files if k == gone or k.startswith(gone + "/")]:
                    del files[k]
            elif m.isfile():
                f = tf.extractfile(m)
                data = f.read() if f else b""
                limit[0] += len(data)
                if limit[0] > MAX_CATALOG_BYTES:
                    raise InputError("the catalog in the index image is larger than 2 GiB")
                files[name] = data
            elif m.isdir() or m.issym():
                continue


def read_index(store: ImageStore, repository: str, ref: str, architecture: str = "x86_64") -> IndexImage:
    """Read the index image (every platform's manifest and config; the catalog from one platform)."""
    top = store.get_manifest(repository, ref)
    images: list[tuple[Manifest, dict[str, Any], Descriptor | None]] = []
    children = top.children() if top.is_index else []
    if top.is_index:
        for child in children:
            m = store.get_manifest(repository, child.digest)
            mc = m.config()
            images.append((m, json.loads(_read_blob(store, repository, mc.digest)) if mc else {}, child))
    else:
        cfg = top.config()
        images.append((top, json.loads(_read_blob(store, repository, cfg.digest)) if cfg else {}, None))
    if not images:
        raise InputError(f"{repository}@{top.digest} is an empty image index")
    want = ARCH.get(architecture, architecture)
    pick = 0
    for i, (_m, _c, d) in enumerate(images):
        if d is not None and (d.platform or {}).get("architecture") == want:
            pick = i
    manifest, config, _ = images[pick]
    labels = ((config.get("config") or {}).get("Labels")) or {}
    configs = str(labels.get(fbc.CONFIGS_LABEL) or "")
    if not configs:
        raise InputError(
            f"{repository}@{top.digest} is not a file-based catalog index image: it has no label "
            f"{fbc.CONFIGS_LABEL}",
            fix="Use a file-based catalog index (OpenShift 4.11 and later; e.g. "
            "registry.redhat.io/redhat/redhat-operator-index:v4.17). SQLite-based indexes are not supported.",
        )
    prefix = posixpath.normpath(configs.strip("/"))
    files: dict[str, bytes] = {}
    limit = [0]
    for layer in manifest.layers():
        with tempfile.TemporaryFile() as tmp:
            h = hashlib.sha256()
            with store.open_blob(repository, layer.digest) as chunks:
                for c in chunks:
                    h.update(c)
                    tmp.write(c)
            if "sha256:" + h.hexdigest() != layer.digest:
                raise RegistryError(f"layer {layer.digest} of {repository} does not match its digest")
            tmp.seek(0)
            if "zstd" in layer.media_type:
                raise InputError(
                    f"layer {layer.digest} of the index image is zstd-compressed, which ocp-airgap cannot read",
                    fix="Use the gzip-compressed index image (Red Hat's indexes are).",
                )
            try:
                _tar_files(tmp, prefix, files, limit)
            except tarfile.TarError as exc:
                raise RegistryError(
                    f"layer {layer.digest} of the index image is not a tar archive: {exc}"
                ) from None
    rel = {k[len(prefix) + 1 :]: v for k, v in files.items()}
    return IndexImage(repository, top.digest, top, images, configs, rel)


# ----- building -----------------------------------------------------------------------------------------
def _tarinfo(name: str, size: int, mode: int, type_: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.type, ti.mtime = size, mode, type_, 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def configs_layer(configs_dir: str, files: dict[str, bytes], *, drop: list[str]) -> tuple[bytes, str]:
    """A gzip tar layer: opaque whiteouts on ``configs_dir`` and each of ``drop``, then the catalog files.
    Returns (compressed bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()

        def mkdirs(path: str) -> None:
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d and d not in made:
                    made.add(d)
                    tar.addfile(_tarinfo(d + "/", 0, 0o755, tarfile.DIRTYPE))

        for d in [configs_dir.strip("/"), *[x.strip("/") for x in drop]]:
            mkdirs(d)
            tar.addfile(_tarinfo(f"{d}/.wh..wh..opq", 0, 0o644), io.BytesIO(b""))
        root = configs_dir.strip("/")
        for rel in sorted(files):
            path = f"{root}/{rel}"
            mkdirs(posixpath.dirname(path))
            tar.addfile(_tarinfo(path, len(files[rel]), 0o644), io.BytesIO(files[rel]))
    data = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
    return gzip.compress(data, compresslevel=6, mtime=0), diff_id


def _new_cmd(cmd: list[str]) -> list[str]:
    if any(a.startswith(CACHE_FLAG) for a in cmd) and not any(a.startswith(INTEGRITY_FLAG) for a in cmd):
        return [*cmd, f"{INTEGRITY_FLAG}=false"]
    return cmd


def _cache_dirs(cmd: list[str]) -> list[str]:
    out = []
    for i, a in enumerate(cmd):
        if a.startswith(CACHE_FLAG + "="):
            out.append(a.split("=", 1)[1])
        elif a == CACHE_FLAG and i + 1 < len(cmd):
            out.append(cmd[i + 1])
    return out


@dataclass
class BuiltIndex:
    digest: str
    manifest: Manifest
    layer_size: int
    notes: list[str]


def build_filtered(
    index: IndexImage, catalog_files: dict[str, bytes], staging: DirStore, repository: str
) -> BuiltIndex:
    """Write the filtered index image into ``staging`` (new blobs and manifests only: the base layers stay where
    they are and are copied from the source by the mirror run). Deterministic: the same catalog gives the same
    digest."""
    cmd = index.cmd
    drop = _cache_dirs(cmd)
    layer_gz, diff_id = configs_layer(index.configs_dir, catalog_files, drop=drop)
    layer_digest = "sha256:" + hashlib.sha256(layer_gz).hexdigest()
    notes = []
    if drop:
        notes.append(
            f"the pre-built cache in {', '.join(drop)} is dropped and the catalog pod rebuilds it at start "
            f"({INTEGRITY_FLAG}=false added to the image's command)"
        )
    staging.push_blob(repository, layer_digest, len(layer_gz), [layer_gz])
    new_children: list[dict[str, Any]] = []
    last: Manifest | None = None
    for manifest, config, desc in index.images:
        cfg = json.loads(json.dumps(config))
        c = cfg.setdefault("config", {})
        if c.get("Cmd"):
            c["Cmd"] = _new_cmd(list(c["Cmd"]))
        cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"] = [
            *cfg["rootfs"].get("diff_ids", []),
            diff_id,
        ]
        cfg["history"] = [
            *(cfg.get("history") or []),
            {"created_by": "ocp-airgap: filtered file-based catalog", "comment": "filtered catalog"},
        ]
        cfg_bytes = json.dumps(cfg, separators=(",", ":"), sort_keys=True).encode()
        cfg_digest = "sha256:" + hashlib.sha256(cfg_bytes).hexdigest()
        staging.push_blob(repository, cfg_digest, len(cfg_bytes), [cfg_bytes])
        doc = json.loads(manifest.data)
        docker = manifest.media_type == DOCKER_MANIFEST
        doc["config"] = {**doc["config"], "digest": cfg_digest, "size": len(cfg_bytes)}
        doc["layers"] = [
            *doc.get("layers", []),
            {
                "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                "digest": layer_digest,
                "size": len(layer_gz),
            },
        ]
        data = json.dumps(doc, indent=2).encode()
        m = Manifest(data, manifest.media_type or OCI_MANIFEST, "sha256:" + hashlib.sha256(data).hexdigest())
        staging.put_manifest(repository, m.digest, m)
        last = m
        if desc is not None:
            new_children.append(
                {
                    "mediaType": m.media_type,
                    "digest": m.digest,
                    "size": len(data),
                    **({"platform": desc.platform} if desc.platform else {}),
                }
            )
    assert last is not None
    if index.top.is_index:
        top_doc = json.loads(index.top.data)
        top_doc["manifests"] = new_children
        data = json.dumps(top_doc, indent=2).encode()
        media = index.top.media_type if index.top.media_type in INDEX_TYPES else OCI_INDEX
        top = Manifest(data, media, "sha256:" + hashlib.sha256(data).hexdigest())
        staging.put_manifest(repository, top.digest, top)
    else:
        top = last
    return BuiltIndex(top.digest, top, len(layer_gz), notes)


class OverlayStore:
    """An ImageStore that reads what ``staging`` has and everything else from ``source`` (the filtered index's
    base layers stay in the source registry until the copy)."""

    def __init__(self, staging: DirStore, staging_repo: str, source: ImageStore, source_repo: str) -> None:
        self.staging, self.staging_repo, self.source, self.source_repo = (
            staging,
            staging_repo,
            source,
            source_repo,
        )

    @property
    def name(self) -> str:
        return f"{self.staging.name} over {self.source.name}"

    def get_manifest(self, repository: str, ref: str) -> Manifest:
        return self.staging.get_manifest(self.staging_repo, ref)

    def head_manifest(self, repository: str, ref: str) -> str | None:
        return self.staging.head_manifest(self.staging_repo, ref)

    def put_manifest(self, repository: str, ref: str, manifest: Manifest) -> None:
        raise RegistryError("the filtered index overlay is read-only")

    def blob_size(self, repository: str, digest: str) -> int | None:
        size = self.staging.blob_size(self.staging_repo, digest)
        return size if size is not None else self.source.blob_size(self.source_repo, digest)

    def open_blob(self, repository: str, digest: str) -> Any:
        if self.staging.blob_size(self.staging_repo, digest) is not None:
            return self.staging.open_blob(self.staging_repo, digest)
        return self.source.open_blob(self.source_repo, digest)

    def push_blob(self, repository: str, digest: str, size: int, chunks: Any) -> None:
        raise RegistryError("the filtered index overlay is read-only")

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        return False

    def list_tags(self, repository: str) -> list[str]:
        return self.staging.list_tags(self.staging_repo)

    def close(self) -> None:
        return None


__all__ = [
    "BuiltIndex",
    "IndexImage",
    "OverlayStore",
    "build_filtered",
    "configs_layer",
    "read_index",
    "DOCKER_LIST",
]
