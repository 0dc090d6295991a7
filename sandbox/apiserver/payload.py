"""How the simulated cluster pulls a release image: resolve mirrors (ImageContentSourcePolicy /
ImageDigestMirrorSet), fetch the manifest and layers over HTTPS with the global pull secret and the cluster's
trusted CAs, and read ``release-manifests/release-metadata`` and ``image-references`` from the layers.

The cluster is disconnected: it never contacts the upstream registry (``quay.io`` in real life), only the
mirror registry and registries listed in ``reachable_registries``."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import ssl
import tarfile
from dataclasses import dataclass
from typing import Any

import httpx

from .versions import parse

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MAX_LAYER_BYTES = 512 * 1024 * 1024


class PayloadError(Exception):
    """A failure to retrieve or load a release payload; ``step`` is the CVO load step that failed."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return self.name + (f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}")


def parse_ref(text: str) -> ImageRef:
    rest = text.strip()
    digest = ""
    if "@" in rest:
        rest, digest = rest.rsplit("@", 1)
    tag = ""
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    first, _, remainder = rest.partition("/")
    if not remainder or not ("." in first or ":" in first or first == "localhost"):
        first, remainder = "docker.io", rest if "/" in rest else f"library/{rest}"
    return ImageRef(first, remainder, tag, digest)


@dataclass
class ReleasePayload:
    image: str
    pulled_from: str
    digest: str
    version: str
    architecture: str
    metadata: dict[str, Any]
    image_references: dict[str, Any]


def mirror_candidates(ref: ImageRef, rules: list[tuple[str, list[str]]]) -> list[ImageRef]:
    """Mirrors for ``ref`` from ICSP/IDMS rules (source prefix match on repository boundaries), in order."""
    out: list[ImageRef] = []
    full = ref.name
    for source, mirrors in rules:
        if full == source or full.startswith(source.rstrip("/") + "/"):
            suffix = full[len(source.rstrip("/")) :]
            for m in mirrors:
                candidate = parse_ref(
                    m.rstrip("/") + suffix + (f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}")
                )
                if candidate not in out:
                    out.append(candidate)
    return out


def find_auth(pull_secret: dict[str, Any], ref: ImageRef) -> tuple[str, str] | None:
    """Credentials for ``ref`` from a docker config: the longest matching ``host[/path]`` key wins."""
    best: tuple[int, tuple[str, str]] | None = None
    target = ref.name
    for key, entry in (pull_secret.get("auths") or {}).items():
        k = key.split("://", 1)[-1].rstrip("/")
        if not (target == k or target.startswith(k + "/") or k == ref.registry):
            continue
        user = password = ""
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        elif isinstance(entry, dict) and entry.get("username"):
            user, password = entry.get("username", ""), entry.get("password", "")
        else:
            continue
        if best is None or len(k) > best[0]:
            best = (len(k), (user, password))
    return best[1] if best else None


def ssl_context(ca_pems: list[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    pem = "\n".join(p for p in ca_pems if p.strip())
    if pem.strip():
        try:
            ctx.load_verify_locations(cadata=pem)
        except ssl.SSLError:
            pass
    return ctx


class RegistryClient:
    """Minimal OCI distribution client (Basic and Bearer auth) used by the simulated cluster."""

    def __init__(self, pull_secret: dict[str, Any], ca_pems: list[str], timeout: float = 10.0) -> None:
        self.pull_secret = pull_secret
        self.client = httpx.Client(verify=ssl_context(ca_pems), timeout=timeout, follow_redirects=True)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, ref: ImageRef, path: str, headers: dict[str, str]) -> httpx.Response:
        url = f"https://{ref.registry}/v2/{ref.repository}/{path}"
        hdrs = dict(headers)
        token = self._tokens.get(ref.name)
        if token:
            hdrs["Authorization"] = token
        try:
            resp = self.client.get(url, headers=hdrs)
            if resp.status_code == 401:
                auth = self._authorize(ref, resp.headers.get("WWW-Authenticate", ""))
                if auth:
                    hdrs["Authorization"] = auth
                    resp = self.client.get(url, headers=hdrs)
        except httpx.ConnectError as exc:
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                raise PayloadError(
                    "RetrievePayload",
                    f'pinging container registry {ref.registry}: Get "https://{ref.registry}/v2/": '
                    "tls: failed to verify certificate: x509: certificate signed by unknown authority",
                ) from exc
            raise PayloadError(
                "RetrievePayload",
                f'pinging container registry {ref.registry}: Get "https://{ref.registry}/v2/": '
                f"dial tcp {ref.registry}: connect: connection refused",
            ) from exc
        except httpx.HTTPError as exc:
            raise PayloadError("RetrievePayload", f"reading from {ref.registry}: {exc}") from exc
        return resp

    def _authorize(self, ref: ImageRef, challenge: str) -> str | None:
        creds = find_auth(self.pull_secret, ref)
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if creds is None:
                return None
            value = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            self._tokens[ref.name] = value
            return value
        if scheme.lower() == "bearer":
            fields = dict(
                (k.strip(), v.strip().strip('"'))
                for k, _, v in (p.partition("=") for p in params.split(","))
                if k
            )
            realm = fields.get("realm")
            if not realm:
                return None
            query = {"service": fields.get("service", ""), "scope": f"repository:{ref.repository}:pull"}
            auth = httpx.BasicAuth(*creds) if creds else None
            try:
                r = self.client.get(realm, params=query, auth=auth)
            except httpx.HTTPError:
                return None
            if r.status_code != 200:
                return None
            body = r.json()
            token = body.get("token") or body.get("access_token")
            if not token:
                return None
            self._tokens[ref.name] = f"Bearer {token}"
            return self._tokens[ref.name]
        return None

    def manifest(self, ref: ImageRef, reference: str | None = None) -> tuple[dict[str, Any], str, str]:
        """Return (manifest, media type, digest) for ``reference`` (default: the ref's digest or tag)."""
        reference = reference or ref.reference
        resp = self._get(ref, f"manifests/{reference}", {"Accept": MANIFEST_TYPES})
        if resp.status_code == 401:
            raise PayloadError(
                "RetrievePayload",
                f"reading manifest {reference} in {ref.name}: unauthorized: authentication required",
            )
        if resp.status_code == 403:
            raise PayloadError(
                "RetrievePayload",
                f"reading manifest {reference} in {ref.name}: denied: requested "
                "access to the resource is denied",
            )
        if resp.status_code == 404:
            raise PayloadError(
                "RetrievePayload",
                f"reading manifest {reference} in {ref.name}: manifest unknown: manifest unknown",
            )
        if resp.status_code != 200:
            raise PayloadError(
                "RetrievePayload", f"reading manifest {reference} in {ref.name}: HTTP {resp.status_code}"
            )
        body = resp.content
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise PayloadError(
                "RetrievePayload",
                f"manifest digest mismatch for {ref.name}: expected {reference}, got {digest}",
            )
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise PayloadError("RetrievePayload", f"invalid manifest for {ref}: {exc}") from exc
        media = doc.get("mediaType") or resp.headers.get("Content-Type", "").split(";")[0]
        return doc, media, digest

    def blob(self, ref: ImageRef, digest: str) -> bytes:
        resp = self._get(ref, f"blobs/{digest}", {})
        if resp.status_code != 200:
            raise PayloadError(
                "RetrievePayload", f"reading blob {digest} in {ref.name}: HTTP {resp.status_code}"
            )
        data = resp.content
        if len(data) > MAX_LAYER_BYTES:
            raise PayloadError("RetrievePayload", f"blob {digest} in {ref.name} is too large")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise PayloadError("RetrievePayload", f"blob {digest} in {ref.name}: digest mismatch")
        return data


def _files_from_layers(layers: list[bytes], wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for data in layers:
        try:
            members = _read_tar(data, wanted)
        except tarfile.TarError:
            continue
        for name, content in members:
            base = name.rsplit("/", 1)[-1]
            if base.startswith(".wh."):
                found.pop(name.rsplit("/", 1)[0] + "/" + base[4:], None)
            elif content is not None:
                found[name] = content
    return found


def _read_tar(data: bytes, wanted: set[str]) -> list[tuple[str, bytes | None]]:
    out: list[tuple[str, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for member in tf:
            name = member.name.removeprefix("./").lstrip("/")
            if name.rsplit("/", 1)[-1].startswith(".wh."):
                out.append((name, None))
            elif name in wanted and member.isfile():
                f = tf.extractfile(member)
                if f is not None:
                    out.append((name, f.read()))
    return out


def load_release(ref: ImageRef, client: RegistryClient, original: str) -> ReleasePayload:
    """Fetch ``ref`` and parse its release metadata (raises :class:`PayloadError`)."""
    doc, media, digest = client.manifest(ref)
    if media in INDEX_TYPES or "manifests" in doc:
        chosen = None
        for m in doc.get("manifests") or []:
            plat = m.get("platform") or {}
            if plat.get("os", "linux") == "linux" and plat.get("architecture") == "amd64":
                chosen = m
                break
        if chosen is None:
            raise PayloadError("RetrievePayload", f"no linux/amd64 image in the manifest list {ref}")
        doc, media, _ = client.manifest(ref, chosen["digest"])
    config = json.loads(client.blob(ref, doc["config"]["digest"]))
    layers = [client.blob(ref, layer["digest"]) for layer in doc.get("layers") or []]
    meta_path = "release-manifests/release-metadata"
    refs_path = "release-manifests/image-references"
    files = _files_from_layers(layers, {meta_path, refs_path})
    where = f"/etc/cvo/updatepayloads/{digest.split(':')[-1][:12]}/release-manifests"
    for path in (meta_path, refs_path):
        if path not in files:
            raise PayloadError(
                "LoadPayload",
                f"Error loading manifests from {where}: open {where}/{path.split('/')[-1]}: "
                "no such file or directory",
            )
    try:
        metadata = json.loads(files[meta_path])
        image_refs = json.loads(files[refs_path])
    except ValueError as exc:
        raise PayloadError("LoadPayload", f"Error loading manifests from {where}: {exc}") from exc
    if metadata.get("kind") != "cincinnati-metadata-v0":
        raise PayloadError(
            "LoadPayload",
            f"Error loading manifests from {where}: unrecognized Cincinnati metadata kind "
            f"{metadata.get('kind')!r}",
        )
    version = str(metadata.get("version") or "")
    if parse(version) is None:
        raise PayloadError(
            "LoadPayload", f"Error loading manifests from {where}: invalid release version {version!r}"
        )
    if image_refs.get("kind") != "ImageStream" or (image_refs.get("metadata") or {}).get("name") != version:
        raise PayloadError(
            "LoadPayload",
            f"Error loading manifests from {where}: release image version "
            f"{(image_refs.get('metadata') or {}).get('name')!r} does not match release metadata {version!r}",
        )
    arch = (
        (metadata.get("metadata") or {}).get("release.openshift.io/architecture")
        or config.get("architecture")
        or "amd64"
    )
    return ReleasePayload(original, str(ref), digest, version, arch, metadata, image_refs)


def image_exists(ref: ImageRef, client: RegistryClient) -> None:
    """Raise :class:`PayloadError` unless the manifest of ``ref`` can be read."""
    client.manifest(ref)
