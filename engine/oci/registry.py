"""A client for container registries (the OCI distribution API), on httpx.

- Manifests: Docker v2 schema 2, OCI image manifest, Docker manifest list, OCI index (GET, HEAD, PUT).
- Blobs: HEAD, streaming GET, cross-repository mount, monolithic and chunked uploads; tags list.
- Auth as the containers tools do (:mod:`engine.authfile`): Basic, or Bearer tokens fetched from the realm of the
  registry's challenge with per-repository ``pull`` / ``pull,push`` scopes.
- TLS: the CA file given (the plan's), ``/etc/containers/certs.d/<host:port>/*.crt``, and the system trust store.
- Every manifest and blob byte is checked against its digest before it is pushed or written
  (:class:`~engine.errors.DigestMismatch`); a registry that answers with other bytes is never trusted silently.
- Transient failures (connection reset or refused, timeouts, 429, 5xx) are retried with exponential backoff by
  :func:`with_retries`; a per-registry semaphore limits concurrent requests.
- Errors say what happened in plain words and how to fix it: unknown CA, certificate without a matching
  subjectAltName, expired certificate, wrong password (401), account without the right (403 / DENIED),
  nonexistent tag (404 manifest unknown).

Streaming never holds a whole blob in memory: downloads are iterated in chunks and uploads are sent from an
iterator, so memory use does not grow with blob size.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import json
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urljoin

import httpx

from engine.authfile import AuthFile, Credentials
from engine.errors import (
    AirgapError,
    Cancelled,
    DigestMismatch,
    InputError,
    RegistryAuthError,
    RegistryDenied,
    RegistryError,
    RegistryNotFound,
    TLSError,
)
from engine.redact import register_secret
from engine.util import DIGEST, why_not_a_file

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

CHUNK_READ = 1024 * 1024
"""Bytes per read when streaming a blob."""
MONOLITHIC_MAX = 4 * 1024 * 1024
"""Blobs up to this size are verified in memory and uploaded in one PUT; larger ones are uploaded in chunks."""
UPLOAD_CHUNK = 64 * 1024 * 1024
"""Size of each PATCH of a chunked upload (streamed, never buffered)."""
CERTS_D = "/etc/containers/certs.d"

T = TypeVar("T")


# ----- references ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> Reference:
        s = text.strip()
        if s.startswith("docker://"):
            s = s[len("docker://") :]
        digest = ""
        if "@" in s:
            s, digest = s.split("@", 1)
            if not DIGEST.match(digest):
                raise InputError(
                    f"{text!r}: the digest must be sha256: followed by 64 lower-case hex digits",
                    fix="Copy the digest exactly, e.g. from 'oc adm release info'.",
                )
        tag = ""
        last = s.rsplit("/", 1)[-1]
        if ":" in last:
            s, tag = s.rsplit(":", 1)
        if "/" not in s:
            raise InputError(
                f"{text!r} is not a full image reference",
                fix="Give registry/repository[:tag][@digest], e.g. quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64.",
            )
        registry, repository = s.split("/", 1)
        if not ("." in registry or ":" in registry or registry == "localhost"):
            raise InputError(
                f"{text!r} does not start with a registry host",
                fix="Prefix the registry, e.g. quay.io/..., or registry.example.com:8443/...",
            )
        return cls(registry.lower(), repository, tag, digest)

    @property
    def ref(self) -> str:
        """What goes into /manifests/<ref>: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def repo_path(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.repo_path
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_digest(value: str) -> bool:
    return bool(DIGEST.match(value))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(data: bytes, expected: str, what: str) -> None:
    got = sha256_digest(data)
    if got != expected:
        raise DigestMismatch(
            f"{what}: the content's digest is {got}, expected {expected}",
            fix="The source answered with other bytes than its digest promises (damaged storage, a broken proxy "
            "or tampering). Nothing was written from it; fix the source and run again.",
        )


# ----- manifests -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Descriptor:
    digest: str
    size: int
    media_type: str = ""
    platform: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Descriptor:
        digest = str(d.get("digest", ""))
        if not is_digest(digest):
            raise RegistryError(
                f"a manifest refers to an unsupported digest {digest!r}",
                fix="Only sha256 digests are supported.",
            )
        return cls(digest, int(d.get("size", -1)), str(d.get("mediaType", "")), d.get("platform"))


@dataclass(frozen=True)
class Manifest:
    data: bytes = field(repr=False)
    media_type: str
    digest: str

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str = "") -> Manifest:
        return cls(data, media_type or detect_media_type(data), sha256_digest(data))

    @property
    def doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"manifest {self.digest} is not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return doc

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[Descriptor]:
        """The per-platform manifests of a manifest list / OCI index."""
        return [Descriptor.from_json(m) for m in self.doc.get("manifests", [])] if self.is_index else []

    def blobs(self) -> list[Descriptor]:
        """Config and layers of an image manifest (empty for an index)."""
        if self.is_index:
            return []
        doc = self.doc
        if doc.get("schemaVersion") == 1:
            raise RegistryError(
                f"manifest {self.digest} is a Docker schema 1 manifest, which is not supported",
                fix="Release images use schema 2 / OCI manifests; check the image reference.",
            )
        out = []
        if "config" in doc:
            out.append(Descriptor.from_json(doc["config"]))
        out.extend(Descriptor.from_json(layer) for layer in doc.get("layers", []))
        return out

    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_json(layer) for layer in self.doc.get("layers", [])]

    def config(self) -> Descriptor | None:
        cfg = self.doc.get("config")
        return Descriptor.from_json(cfg) if cfg else None


def detect_media_type(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(doc, dict):
        return ""
    if doc.get("mediaType"):
        return str(doc["mediaType"])
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc:
        return OCI_MANIFEST
    return ""


# ----- the store protocol shared with the on-disk layout ------------------------------------------------
class ImageStore(Protocol):
    """What the mirroring engine needs of a place images are read from or written to: a registry or a folder."""

    @property
    def name(self) -> str: ...

    def get_manifest(self, repository: str, ref: str) -> Manifest: ...

    def head_manifest(self, repository: str, ref: str) -> str | None: ...

    def put_manifest(self, repository: str, ref: str, manifest: Manifest) -> None: ...

    def blob_size(self, repository: str, digest: str) -> int | None: ...

    def open_blob(
        self, repository: str, digest: str
    ) -> contextlib.AbstractContextManager[Iterator[bytes]]: ...

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None: ...

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool: ...

    def list_tags(self, repository: str) -> list[str]: ...

    def close(self) -> None: ...


class HashingIterator:
    """Pass chunks through while hashing and counting them; :meth:`check` compares with the expected digest."""

    def __init__(self, chunks: Iterable[bytes], on_bytes: Callable[[int], None] | None = None) -> None:
        self._it = iter(chunks)
        self._hash = hashlib.sha256()
        self.count = 0
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._it)
        self._hash.update(chunk)
        self.count += len(chunk)
        if self._on_bytes is not None:
            self._on_bytes(len(chunk))
        return chunk

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def check(self, expected: str, size: int, what: str) -> None:
        if size >= 0 and self.count != size:
            raise DigestMismatch(
                f"{what}: got {self.count} bytes, the manifest says {size}",
                fix="The source sent a truncated or padded blob; nothing was committed. Run again; if it "
                "persists, the source is damaged.",
            )
        if self.digest != expected:
            raise DigestMismatch(
                f"{what}: the content's digest is {self.digest}, expected {expected}",
                fix="The source answered with other bytes than its digest promises (damaged storage, a broken "
                "proxy or tampering). Nothing was committed from it; fix the source and run again.",
            )


# ----- errors and retries --------------------------------------------------------------------------------
class TransientError(RegistryError):
    """A failure worth retrying: connection reset/refused, timeout, 429, 5xx."""

    def __init__(self, message: str, *, fix: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, fix=fix)
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    attempts: int = 8
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        d = min(self.max_delay, self.base_delay * (1 << min(attempt, 30)))
        return d * (0.75 + random.random() * 0.5)


def with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy | None = None,
    cancel: threading.Event | None = None,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
) -> T:
    """Call ``fn``; on :class:`TransientError` wait with exponential backoff and call it again."""
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            return fn()
        except TransientError as exc:
            attempt += 1
            if attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt - 1)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, 60.0))
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            if cancel is not None:
                if cancel.wait(delay):
                    raise Cancelled() from None
            else:
                time.sleep(delay)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent or invalid."""
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _ssl_verify_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return e
        for nxt in (e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)]):
            if nxt is not None:
                stack.append(nxt)
    return None


def translate_tls_error(host: str, exc: BaseException, ca_setting: str) -> TLSError | None:
    """A plain-words :class:`TLSError` for a certificate problem, or None if ``exc`` is not one."""
    err = _ssl_verify_error(exc)
    text = str(err or exc)
    code = getattr(err, "verify_code", None)
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if err is None and "CERTIFICATE_VERIFY_FAILED" not in text and "certificate verify failed" not in text:
        return None
    if code == 10 or "expired" in text:
        return TLSError(
            f"the TLS certificate of {host} has expired",
            fix=f"Renew the certificate of the registry at {host} (and check this host's clock with 'date -u').",
        )
    if code in (62, 64) or "mismatch" in text.lower() or "not valid for" in text:
        return TLSError(
            f"the TLS certificate of {host} is not valid for the name {hostname}: it has no matching "
            "subjectAltName (the Common Name alone is not accepted)",
            fix=f"Reissue the registry certificate with a subjectAltName for {hostname} "
            f"(openssl: -addext 'subjectAltName={'IP' if re.match(r'^[0-9.]+$', hostname) else 'DNS'}:{hostname}').",
        )
    if code in (2, 18, 19, 20, 21) or "issuer" in text or "self-signed" in text or "self signed" in text:
        return TLSError(
            f"the TLS certificate of {host} is signed by a certificate authority this host does not trust",
            fix=f"Set {ca_setting} in the plan to the PEM file of the CA that signed it, or copy that CA to "
            f"{CERTS_D}/{host}/ca.crt.",
        )
    return TLSError(
        f"TLS verification of {host} failed: {text}",
        fix=f"Check the registry certificate; set {ca_setting} in the plan to the CA that signed it.",
    )


def build_ssl_context(host: str, ca_file: str = "", certs_d: str = CERTS_D) -> ssl.SSLContext:
    """System trust + the given CA file + ``certs.d/<host>/*.crt`` (as containers tools read it)."""
    ctx = ssl.create_default_context()
    if ca_file:
        p = Path(os.path.expanduser(ca_file))
        if not p.is_file():
            raise InputError(
                f"the CA file {p} for {host} {why_not_a_file(p)}",
                fix="Correct the CA file path in the plan (the PEM file of the CA, not its folder).",
            )
        try:
            ctx.load_verify_locations(cafile=str(p))
        except ssl.SSLError as exc:
            raise InputError(
                f"the CA file {p} is not a PEM certificate ({exc.reason})",
                fix="Give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----).",
            ) from None
    d = Path(certs_d) / host
    if d.is_dir():
        for crt in sorted(d.glob("*.crt")):
            with contextlib.suppress(ssl.SSLError, OSError):
                ctx.load_verify_locations(cafile=str(crt))
    return ctx


def _errors_of(resp: httpx.Response) -> list[dict[str, Any]]:
    try:
        doc = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return []
    errs = doc.get("errors") if isinstance(doc, dict) else None
    return [e for e in errs if isinstance(e, dict)] if isinstance(errs, list) else []


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


# ----- the client ----------------------------------------------------------------------------------------
class _Slots:
    """A per-registry limit on concurrent requests; re-entrant per thread (one slot per thread at most)."""

    def __init__(self, limit: int) -> None:
        self._sem = threading.BoundedSemaphore(max(1, limit))
        self._local = threading.local()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._sem.acquire()
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            if self._local.depth == 0:
                self._sem.release()


class RegistryClient:
    """One registry (``host[:port]``), thread-safe. Reuse it for every request to that registry."""

    def __init__(
        self,
        host: str,
        *,
        auth: AuthFile | None = None,
        ca_file: str = "",
        ca_setting: str = "mirror.ca_file",
        max_concurrency: int = 6,
        timeout: float = 60.0,
        certs_d: str = CERTS_D,
        scheme: str = "https",
        upload_chunk: int = 0,
    ) -> None:
        self.host = host.lower()
        self.auth = auth or AuthFile.empty()
        self.ca_setting = ca_setting
        self.scheme = scheme
        self.base = f"{scheme}://{self.host}"
        verify: ssl.SSLContext | bool = (
            build_ssl_context(self.host, ca_file, certs_d) if scheme == "https" else False
        )
        self._client = httpx.Client(
            verify=verify,
            # ``timeout`` is also the stall limit: a read that gets no byte for that long fails (and is resumed)
            timeout=httpx.Timeout(timeout, connect=min(15.0, timeout)),
            limits=httpx.Limits(
                max_connections=max_concurrency * 2 + 2, max_keepalive_connections=max_concurrency * 2 + 2
            ),
            follow_redirects=False,
            headers={"User-Agent": "ocp-airgap"},
        )
        self._slots = _Slots(max_concurrency)
        self._lock = threading.Lock()
        self.upload_chunk = upload_chunk or UPLOAD_CHUNK
        """Bytes per PATCH of a chunked upload; lowered after a 413 (see :meth:`_too_large`)."""
        self._chunk_fixed = bool(upload_chunk)
        self.retry = RetryPolicy()
        """How often and how patiently a cut download is resumed."""
        self.on_retry: Callable[[str], None] | None = None
        """Called (with a plain-words line) each time a transfer is resumed or retried inside this client."""
        self.on_notice: Callable[[str], None] | None = None
        """Called once with a plain-words line when the client changes how it uploads (413 → chunks)."""
        self._noticed: set[str] = set()
        self._scheme: str | None = None  # "basic" | "bearer" once challenged
        self._challenge: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self.tokens_fetched = 0
        """Bearer tokens fetched so far (every scope, every renewal)."""

    @property
    def name(self) -> str:
        return self.host

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- auth --------------------------------------------------------------------------------------
    def credentials(self, repository: str = "") -> Credentials | None:
        return self.auth.lookup(self.host, repository)

    def _auth_header(self, scopes: tuple[str, ...], repository: str) -> dict[str, str]:
        with self._lock:
            scheme = self._scheme
        if scheme == "basic":
            creds = self.credentials(repository)
            if creds and creds.basic:
                return {"Authorization": httpx.BasicAuth(*creds.basic)._auth_header}
            return {}
        if scheme == "bearer":
            token = self._token(scopes, repository)
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    def _token(self, scopes: tuple[str, ...], repository: str, *, refresh: bool = False) -> str:
        key = " ".join(scopes)
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
            challenge = dict(self._challenge)
        if cached and not refresh and cached[1] > now:
            return cached[0]
        realm = challenge.get("realm", "")
        if not realm:
            raise RegistryError(f"{self.host} asked for a bearer token without naming where to get it")
        params: list[tuple[str, str]] = []
        if challenge.get("service"):
            params.append(("service", challenge["service"]))
        params.extend(("scope", s) for s in scopes)
        creds = self.credentials(repository)
        try:
            if creds and creds.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "client_id": "ocp-airgap",
                }
                form.update(dict(params[:1]))
                form["scope"] = " ".join(scopes)
                resp = self._client.post(realm, data=form)
            else:
                resp = self._client.get(
                    realm + ("&" if "?" in realm else "?") + urlencode(params),
                    auth=httpx.BasicAuth(*creds.basic) if creds and creds.basic else httpx.USE_CLIENT_DEFAULT,
                )
        except httpx.TransportError as exc:
            raise self._transport_error(exc, f"getting a token from {realm}") from None
        if resp.status_code == 401:
            raise self._auth_failed(repository, creds)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"the token service of {self.host} answered {resp.status_code}")
        if resp.status_code != 200:
            raise RegistryError(f"the token service of {self.host} answered {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError:
            raise RegistryError(
                f"the token service of {self.host} answered something that is not JSON"
            ) from None
        token = str(doc.get("token") or doc.get("access_token") or "")
        register_secret(token)
        try:
            ttl = float(doc.get("expires_in") or 60)  # token.md: "When omitted, this defaults to 60 seconds"
        except (TypeError, ValueError):
            ttl = 60.0
        with self._lock:
            # renewed before it runs out (a tenth of its life early, at least 1 s), so a request never starts
            # with a token that expires on the way; each set of scopes has its own token
            self._tokens[key] = (token, now + max(1.0, ttl - max(1.0, ttl / 10)))
            self.tokens_fetched += 1
        return token

    def _forget_token(self, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(" ".join(scopes), None)

    def _auth_failed(self, repository: str, creds: Credentials | None) -> RegistryAuthError:
        target = f"{self.host}/{repository}" if repository else self.host
        if creds is None:
            where = f"the auth file {self.auth.path}" if self.auth.path else "no auth file was found"
            return RegistryAuthError(
                f"{target} needs a login and {where} has no entry for {self.host}",
                fix=f"Add the credentials for {self.host} to the auth file (podman login --authfile <file> "
                f"{self.host}) and set 'auth_file' in the plan.",
            )
        who = f"user '{creds.username}'" if creds.username else "the identity token"
        return RegistryAuthError(
            f"{self.host} rejected the login of {who}: wrong user name or password (from {creds.where()})",
            fix=f"Correct the credentials for {self.host} in {creds.source or 'the auth file'} "
            f"(podman login --authfile {creds.source or '<file>'} {self.host}) and run again.",
        )

    def _note_challenge(self, resp: httpx.Response) -> str:
        header = resp.headers.get("WWW-Authenticate", "")
        scheme, params = _parse_challenge(header)
        with self._lock:
            if scheme in ("basic", "bearer"):
                self._scheme = scheme
                self._challenge = params
        return scheme

    # ----- HTTP --------------------------------------------------------------------------------------
    def _transport_error(self, exc: httpx.TransportError, doing: str) -> AirgapError:
        tls = translate_tls_error(self.host, exc, self.ca_setting)
        if tls is not None:
            return tls
        text = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError) and "SSL" in text and "WRONG_VERSION_NUMBER" in text:
            return RegistryError(
                f"{self.host} does not speak TLS (HTTPS) while {doing}",
                fix="Use a registry served over HTTPS; plain-HTTP registries are not supported for mirroring.",
            )
        return TransientError(
            f"{doing} at {self.host} failed: {text}",
            fix=f"Check that the registry at {self.host} runs and is reachable from this host "
            f"(curl -v https://{self.host}/v2/).",
        )

    def _scopes(self, repository: str, push: bool, extra_pull: str = "") -> tuple[str, ...]:
        scopes = [f"repository:{repository}:{'pull,push' if push else 'pull'}"] if repository else []
        if extra_pull:
            scopes.append(f"repository:{extra_pull}:pull")
        return tuple(scopes)

    def request(
        self,
        method: str,
        url: str,
        *,
        repository: str = "",
        push: bool = False,
        extra_pull: str = "",
        headers: Mapping[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send one request with auth. A 401 on an unauthenticated request is answered once by following the
        challenge (only for replayable bodies); transport failures become TransientError or TLSError."""
        if not url.startswith("http"):
            url = self.base + url
        scopes = self._scopes(repository, push, extra_pull)
        replayable = content is None or isinstance(content, bytes)
        for attempt in range(2):
            hdrs = dict(headers or {})
            hdrs.update(self._auth_header(scopes, repository))
            try:
                req = self._client.build_request(method, url, headers=hdrs, content=content)
                resp = self._client.send(req, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, f"{method} {url[len(self.base) :] or '/'}") from None
            if resp.status_code != 401 or attempt == 1:
                return resp
            had_auth = "Authorization" in hdrs
            if not replayable:
                # a streamed body cannot be sent again here: if a bearer token was refused (it expired, or the
                # registry was restarted with another key), drop it and let the caller's retry start over
                if had_auth and self._note_challenge(resp) == "bearer":
                    self._forget_token(scopes)
                    resp.close()
                    raise TransientError(
                        f"{self.host} refused the bearer token for {method} (expired); renewing it"
                    )
                return resp
            scheme = self._note_challenge(resp)
            if scheme == "bearer":
                resp.close() if stream else None
                self._token(scopes, repository, refresh=True)
                continue
            if scheme == "basic" and not had_auth and self.credentials(repository):
                if stream:
                    resp.close()
                continue
            return resp
        return resp

    def ping(self) -> None:
        """``GET /v2/``: reachable, TLS fine, credentials accepted."""

        def once() -> None:
            with self._slots.slot():
                resp = self.request("GET", "/v2/")
            if resp.status_code == 401:
                raise self._auth_failed("", self.credentials())
            self._check(resp, "checking the registry API")

        with_retries(once, policy=self.retry)

    def _check(
        self,
        resp: httpx.Response,
        what: str,
        *,
        repository: str = "",
        ref: str = "",
        push: bool = False,
        ok: tuple[int, ...] = (200,),
    ) -> None:
        code = resp.status_code
        if code in ok:
            return
        errors = _errors_of(resp) if not resp.is_stream_consumed or resp.is_closed else []
        codes = {str(e.get("code", "")).upper() for e in errors}
        detail = "; ".join(str(e.get("message", "")) for e in errors if e.get("message"))
        target = f"{self.host}/{repository}" if repository else self.host
        if code == 401:
            raise self._auth_failed(repository, self.credentials(repository))
        if code == 403 or "DENIED" in codes:
            creds = self.credentials(repository)
            who = f"the account '{creds.username}'" if creds and creds.username else "this login"
            if push:
                raise RegistryDenied(
                    f"{who} may not push to {target} (the registry answered {code} denied)",
                    fix=f"Use an account with write (push) access to {target} in the auth file, or ask the "
                    "registry administrator to grant it.",
                )
            raise RegistryDenied(
                f"{who} may not read {target} (the registry answered {code} denied)",
                fix=f"Use an account with read (pull) access to {target}, or ask the registry administrator.",
            )
        if code == 404:
            if "MANIFEST_UNKNOWN" in codes or "NAME_UNKNOWN" in codes or ref:
                shown = (
                    f"{target}:{ref}"
                    if ref and not is_digest(ref)
                    else (f"{target}@{ref}" if ref else target)
                )
                raise RegistryNotFound(
                    f"{shown} does not exist (manifest unknown)",
                    fix="Check release.version and release.architecture in the plan (tags look like "
                    f"4.17.3-x86_64); list the tags with: skopeo list-tags docker://{target}",
                )
            raise RegistryNotFound(
                f"{what}: {target} answered 404 not found" + (f" ({detail})" if detail else "")
            )
        if code == 429 or code >= 500:
            retry_after = parse_retry_after(resp.headers.get("Retry-After", ""))
            raise TransientError(
                f"{what}: {self.host} answered {code}" + (f" ({detail})" if detail else ""),
                fix=f"The registry at {self.host} is overloaded or failing; check its logs and run again.",
                retry_after=retry_after,
            )
        if "BLOB_UNKNOWN" in codes or "BLOB_UPLOAD_UNKNOWN" in codes:
            # an upload session lost (registry restarted) — worth starting over
            raise TransientError(f"{what}: {self.host} lost the upload ({detail or code})")
        raise RegistryError(
            f"{what}: {target} answered {code}" + (f" ({detail})" if detail else ""),
            fix="See the registry's logs for the reason.",
        )

    # ----- manifests ---------------------------------------------------------------------------------
    def get_manifest(self, repository: str, ref: str) -> Manifest:
        def once() -> Manifest:
            with self._slots.slot():
                resp = self.request(
                    "GET",
                    f"/v2/{repository}/manifests/{ref}",
                    repository=repository,
                    headers={"Accept": ", ".join(MANIFEST_TYPES)},
                )
            self._check(resp, f"reading manifest {ref}", repository=repository, ref=ref)
            data = resp.content
            media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
            if media_type not in MANIFEST_TYPES:
                media_type = detect_media_type(data) or media_type
            manifest = Manifest(data, media_type, sha256_digest(data))
            expected = ref if is_digest(ref) else resp.headers.get("Docker-Content-Digest", "")
            if expected and expected != manifest.digest:
                check_digest(data, expected, f"manifest {self.host}/{repository}:{ref}")
            return manifest

        return with_retries(once, policy=self.retry)

    def head_manifest(self, repository: str, ref: str) -> str | None:
        """The digest ``ref`` points to, or None if there is no such manifest."""

        def once() -> str | None:
            with self._slots.slot():
                resp = self.request(
                    "HEAD",
                    f"/v2/{repository}/manifests/{ref}",
                    repository=repository,
                    headers={"Accept": ", ".join(MANIFEST_TYPES)},
                )
            if resp.status_code == 404:
                return None
            self._check(resp, f"looking up manifest {ref}", repository=repository)
            digest = str(resp.headers.get("Docker-Content-Digest", ""))
            if not digest and is_digest(ref):
                digest = ref
            if not digest:
                return self.get_manifest(repository, ref).digest
            return digest

        return with_retries(once, policy=self.retry)

    def put_manifest(self, repository: str, ref: str, manifest: Manifest) -> None:
        check_digest(manifest.data, manifest.digest, f"manifest for {self.host}/{repository}:{ref}")

        def once() -> None:
            with self._slots.slot():
                resp = self.request(
                    "PUT",
                    f"/v2/{repository}/manifests/{ref}",
                    repository=repository,
                    push=True,
                    headers={"Content-Type": manifest.media_type},
                    content=manifest.data,
                )
            self._check(resp, f"writing manifest {ref}", repository=repository, push=True, ok=(200, 201, 202))
            got = resp.headers.get("Docker-Content-Digest", "")
            if got and got != manifest.digest:
                raise DigestMismatch(
                    f"{self.host}/{repository}:{ref}: the registry stored the manifest as {got}, expected "
                    f"{manifest.digest}",
                    fix="The registry rewrote the manifest; it cannot keep release digests. Use another registry.",
                )

        with_retries(once, policy=self.retry)

    def delete_manifest(self, repository: str, digest: str) -> None:
        with self._slots.slot():
            resp = self.request(
                "DELETE", f"/v2/{repository}/manifests/{digest}", repository=repository, push=True
            )
        self._check(resp, f"deleting manifest {digest}", repository=repository, push=True, ok=(200, 202))

    def list_tags(self, repository: str) -> list[str]:
        tags: list[str] = []
        url = f"/v2/{repository}/tags/list?n=1000"
        while url:
            with self._slots.slot():
                resp = with_retries(
                    functools.partial(self.request, "GET", url, repository=repository), policy=self.retry
                )
            if resp.status_code == 404:
                return tags
            self._check(resp, "listing tags", repository=repository)
            doc = resp.json()
            tags.extend(str(t) for t in (doc.get("tags") or []))
            link = resp.headers.get("Link", "")
            m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
            url = urljoin(self.base + "/", m.group(1)) if m else ""
        return tags

    # ----- blobs -------------------------------------------------------------------------------------
    def blob_size(self, repository: str, digest: str) -> int | None:
        def once() -> int | None:
            with self._slots.slot():
                resp = self.request(
                    "HEAD", f"/v2/{repository}/blobs/{digest}", repository=repository, follow_redirects=True
                )
            if resp.status_code == 404:
                return None
            self._check(resp, f"looking up blob {digest}", repository=repository)
            return int(resp.headers.get("Content-Length", "-1"))

        return with_retries(once, policy=self.retry)

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str, *, offset: int = 0) -> Iterator[Iterator[bytes]]:
        """Stream a blob (from byte ``offset``): yields an iterator of chunks. A connection that breaks or stalls
        mid-blob is resumed with an HTTP ``Range`` request from the first byte not yet received (RFC 9110
        §14.2; distribution serves blobs with ``http.ServeContent``, which honours it), so a cut costs the
        bytes in flight, not the blob. The caller checks the digest over the whole blob (HashingIterator)."""
        with self._slots.slot():
            blob = _ResumableBlob(self, repository, digest, offset)
            try:
                blob.open()
                yield iter(blob)
            finally:
                blob.close()

    def _open_range(self, repository: str, digest: str, offset: int) -> httpx.Response:
        """GET the blob from ``offset`` (200 or 206), with retries (Retry-After honoured)."""

        def once() -> httpx.Response:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            resp = self.request(
                "GET",
                f"/v2/{repository}/blobs/{digest}",
                repository=repository,
                stream=True,
                follow_redirects=True,
                headers=headers,
            )
            if resp.status_code in (200, 206):
                return resp
            try:
                resp.read()
            except httpx.TransportError as exc:
                raise self._transport_error(exc, f"reading blob {digest}") from None
            finally:
                resp.close()
            self._check(resp, f"reading blob {digest}", repository=repository)
            raise RegistryError(f"reading blob {digest}: {self.host} answered {resp.status_code}")

        def on_retry(attempt: int, exc: TransientError, delay: float) -> None:
            self._tell_retry(f"{exc.message}; retrying in {delay:.1f} s")

        return with_retries(once, policy=self.retry, on_retry=on_retry)

    def _too_large(self, refused: int) -> None:
        """A request body of ``refused`` bytes got 413: upload in smaller PATCH pieces from now on."""
        with self._lock:
            before = self.upload_chunk
            if refused <= MIN_UPLOAD_CHUNK:
                raise RegistryError(
                    f"{self.host} refuses even {refused}-byte upload requests (413 Request Entity Too Large)",
                    fix="Raise the request body limit of the proxy in front of the mirror registry (nginx: "
                    "client_max_body_size) to at least a few MiB.",
                )
            new = min(self.upload_chunk, _smaller_chunk(refused))
            self.upload_chunk = new
        how = (
            f"mirroring.upload_chunk_mb is {before / 1048576:g}; lower it"
            if self._chunk_fixed
            else "set mirroring.upload_chunk_mb to its limit to skip this"
        )
        self._tell_once(
            "413",
            f"{self.host} (or a proxy in front of it) refused a {refused / 1048576:.1f} MiB request body "
            f"(413 Request Entity Too Large): uploading in pieces of {new / 1048576:.2g} MiB from now on "
            f"({how})",
        )

    def _tell_retry(self, text: str) -> None:
        if self.on_retry is not None:
            self.on_retry(text)

    def _tell_once(self, key: str, text: str) -> None:
        with self._lock:
            if key in self._noticed:
                return
            self._noticed.add(key)
        if self.on_notice is not None:
            self.on_notice(text)

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; True if the registry mounted it (no bytes sent)."""

        def once() -> bool:
            with self._slots.slot():
                resp = self.request(
                    "POST",
                    f"/v2/{repository}/blobs/uploads/?{urlencode({'mount': digest, 'from': from_repository})}",
                    repository=repository,
                    push=True,
                    extra_pull=from_repository,
                    headers={"Content-Length": "0"},
                    content=b"",
                )
            if resp.status_code == 201:
                return True
            self._check(resp, f"mounting blob {digest}", repository=repository, push=True, ok=(202,))
            # an upload session was opened instead; close it
            loc = resp.headers.get("Location", "")
            if loc:
                with contextlib.suppress(AirgapError), self._slots.slot():
                    self.request("DELETE", urljoin(self.base + "/", loc), repository=repository, push=True)
            return False

        return with_retries(once, policy=self.retry)

    def _start_upload(self, repository: str) -> str:
        resp = self.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            push=True,
            headers={"Content-Length": "0"},
            content=b"",
        )
        self._check(resp, "starting a blob upload", repository=repository, push=True, ok=(202,))
        loc = resp.headers.get("Location", "")
        if not loc:
            raise RegistryError(f"{self.host} started an upload without saying where to send it")
        return str(urljoin(self.base + "/", loc))

    @staticmethod
    def _with_digest(location: str, digest: str) -> str:
        return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})

    def mount_or_start(self, repository: str, digest: str, from_repository: str) -> str | None:
        """One request that either finds the blob (a mount from ``from_repository`` — which may be
        ``repository`` itself, meaning "is it already here?" — answered 201) and returns None, or opens an
        upload session (202) and returns its location for :meth:`push_blob`."""

        def once() -> str | None:
            with self._slots.slot():
                resp = self.request(
                    "POST",
                    f"/v2/{repository}/blobs/uploads/?{urlencode({'mount': digest, 'from': from_repository})}",
                    repository=repository,
                    push=True,
                    extra_pull=from_repository if from_repository != repository else "",
                    headers={"Content-Length": "0"},
                    content=b"",
                )
            if resp.status_code == 201:
                return None
            self._check(
                resp, f"starting the upload of blob {digest}", repository=repository, push=True, ok=(202,)
            )
            loc = resp.headers.get("Location", "")
            if not loc:
                raise RegistryError(f"{self.host} started an upload without saying where to send it")
            return str(urljoin(self.base + "/", str(loc)))

        return with_retries(once, policy=self.retry)

    def push_blob(
        self, repository: str, digest: str, size: int, chunks: Iterable[bytes], *, location: str = ""
    ) -> None:
        """Upload a blob from ``chunks`` (into the upload session ``location`` if given). Small blobs are checked
        in memory then sent in one PUT; large ones are streamed in PATCH chunks, hashed on the way, and committed
        (PUT ?digest=) only if the digest matches. Not retried here: the caller restarts the whole copy (the
        source stream cannot be replayed)."""
        with self._slots.slot():
            location = location or self._start_upload(repository)
            hashing = HashingIterator(chunks)
            try:
                if 0 <= size <= min(MONOLITHIC_MAX, self.upload_chunk):
                    data = b"".join(hashing)
                    hashing.check(digest, size, f"blob {digest}")
                    resp = self.request(
                        "PUT",
                        self._with_digest(location, digest),
                        repository=repository,
                        push=True,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Length": str(len(data)),
                        },
                        content=data,
                    )
                    if resp.status_code != 413:
                        self._check(
                            resp, f"uploading blob {digest}", repository=repository, push=True, ok=(201,)
                        )
                        return
                    # a proxy refused the body: the registry never saw it, the session is still at 0
                    self._too_large(len(data))
                    hashing = HashingIterator(iter([data]))
                location = self._patch_chunks(repository, location, hashing, size)
                hashing.check(digest, size, f"blob {digest}")
                resp = self.request(
                    "PUT",
                    self._with_digest(location, digest),
                    repository=repository,
                    push=True,
                    headers={"Content-Length": "0"},
                    content=b"",
                )
                self._check(resp, f"committing blob {digest}", repository=repository, push=True, ok=(201,))
            except BaseException:
                with contextlib.suppress(Exception):
                    self.request("DELETE", location, repository=repository, push=True).close()
                raise

    def _patch_chunks(self, repository: str, location: str, source: HashingIterator, size: int) -> str:
        """Send ``source`` in PATCH requests of UPLOAD_CHUNK bytes each (Content-Range), streaming each body."""
        reader = _ChunkReader(source)
        headers = {"Content-Type": "application/octet-stream"}
        if size < 0:
            resp = self.request(
                "PATCH", location, repository=repository, push=True, headers=headers, content=source
            )
            self._check(resp, "uploading a blob", repository=repository, push=True, ok=(202, 204))
            return str(urljoin(self.base + "/", str(resp.headers.get("Location", location))))
        sent = 0
        while sent < size:
            n = min(self.upload_chunk, size - sent)
            hdrs = {**headers, "Content-Range": f"{sent}-{sent + n - 1}", "Content-Length": str(n)}
            resp = self.request(
                "PATCH", location, repository=repository, push=True, headers=hdrs, content=reader.take(n)
            )
            if resp.status_code == 413:
                # the body is gone (the proxy read and dropped it): smaller pieces, and the blob from the start
                self._too_large(n)
                raise TransientError(
                    f"{self.host} refused a {n}-byte upload request (413 Request Entity Too Large)"
                )
            self._check(resp, "uploading a blob chunk", repository=repository, push=True, ok=(202, 204))
            location = str(urljoin(self.base + "/", str(resp.headers.get("Location", location))))
            sent += n
        reader.drain()
        return location


MIN_UPLOAD_CHUNK = 64 * 1024


def _smaller_chunk(refused: int) -> int:
    """The next PATCH size after a body of ``refused`` bytes got 413: 1 MiB (nginx's default
    ``client_max_body_size``) first, then half of what was refused, never under 64 KiB."""
    size = min(1024 * 1024, refused // 2) if refused > 1024 * 1024 else refused // 2
    return max(MIN_UPLOAD_CHUNK, size)


class _ResumableBlob:
    """The bytes of one blob from a registry, across as many connections as it takes."""

    def __init__(self, client: RegistryClient, repository: str, digest: str, offset: int) -> None:
        self.client = client
        self.repository = repository
        self.digest = digest
        self.got = offset
        self.resumes = 0
        self._resp: httpx.Response | None = None
        self._total: int | None = None

    def open(self) -> None:
        resp = self.client._open_range(self.repository, self.digest, self.got)
        skip = 0
        if resp.status_code == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
            start = int(m.group(1)) if m else -1
            if start != self.got:
                resp.close()
                raise RegistryError(
                    f"{self.client.host} answered a range request for blob {self.digest} from byte {self.got} "
                    f"with bytes from {start}",
                    fix="The registry or a proxy in front of it mishandles HTTP Range requests; run again.",
                )
            if m and m.group(3) != "*":
                self._total = int(m.group(3))
        else:
            skip = self.got  # no range support: read from the start again and drop what we have
            length = resp.headers.get("Content-Length")
            self._total = int(length) if length and length.isdigit() else None
        self._resp = resp
        self._skip = skip

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def __iter__(self) -> Iterator[bytes]:
        policy = self.client.retry
        while True:
            resp = self._resp
            assert resp is not None
            try:
                for chunk in resp.iter_raw():
                    if self._skip:
                        drop = min(self._skip, len(chunk))
                        self._skip -= drop
                        chunk = chunk[drop:]
                        if not chunk:
                            continue
                    self.got += len(chunk)
                    yield chunk
                return
            except httpx.TransportError as exc:
                err = self.client._transport_error(exc, f"reading blob {self.digest}")
                if not isinstance(err, TransientError):
                    raise err from None
                self.close()
                self.resumes += 1
                if self.resumes >= policy.attempts * 4:
                    raise err from None
                delay = min(policy.delay(min(self.resumes - 1, 3)), 2.0)
                self.client._tell_retry(
                    f"blob {self.digest[:19]}… cut after {self.got} bytes ({exc.__class__.__name__}); "
                    f"resuming from there in {delay:.1f} s"
                )
                time.sleep(delay)
                self.open()


class _ChunkReader:
    """Hands out exactly ``n`` bytes at a time from an iterator of chunks, without buffering more than one chunk."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._pending = b""

    def take(self, n: int) -> Iterator[bytes]:
        left = n
        while left > 0:
            if not self._pending:
                try:
                    self._pending = next(self._source)
                except StopIteration:
                    raise DigestMismatch(
                        f"the source ended {left} bytes early",
                        fix="The source sent a truncated blob; nothing was committed. Run again.",
                    ) from None
            piece, self._pending = self._pending[:left], self._pending[left:]
            left -= len(piece)
            yield piece

    def drain(self) -> None:
        """Read whatever the source still has, so that the size/digest check sees it."""
        self._pending = b""
        for _ in self._source:
            pass


# ----- a set of clients --------------------------------------------------------------------------------
class Registries:
    """One :class:`RegistryClient` per registry host, sharing the auth file; CA files per host."""

    def __init__(
        self,
        auth: AuthFile | None = None,
        *,
        ca_files: Mapping[str, tuple[str, str]] | None = None,
        max_concurrency: int = 6,
        certs_d: str = CERTS_D,
        timeout: float = 60.0,
        upload_chunk: int = 0,
    ) -> None:
        self.auth = auth or AuthFile.empty()
        self._ca = dict(ca_files or {})
        self._max = max_concurrency
        self._timeout = timeout
        self._upload_chunk = upload_chunk
        self._certs_d = certs_d
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()
        self._hooks: dict[str, Any] = {}

    def set_hooks(
        self,
        *,
        on_retry: Callable[[str], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Tell every client (now and later) whom to tell about resumed transfers and upload changes."""
        hooks: dict[str, Any] = {"on_retry": on_retry, "on_notice": on_notice}
        if retry is not None:
            hooks["retry"] = retry
        with self._lock:
            self._hooks = hooks
            for c in self._clients.values():
                for k, v in hooks.items():
                    setattr(c, k, v)

    def get(self, host: str) -> RegistryClient:
        host = host.lower()
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                ca_file, setting = self._ca.get(host, ("", "mirror.ca_file"))
                client = RegistryClient(
                    host,
                    auth=self.auth,
                    ca_file=ca_file,
                    ca_setting=setting,
                    max_concurrency=self._max,
                    certs_d=self._certs_d,
                    timeout=self._timeout,
                    upload_chunk=self._upload_chunk,
                )
                for k, v in self._hooks.items():
                    setattr(client, k, v)
                self._clients[host] = client
            return client

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()


__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "HashingIterator",
    "ImageStore",
    "Manifest",
    "Reference",
    "Registries",
    "RegistryClient",
    "RetryPolicy",
    "TransientError",
    "build_ssl_context",
    "check_digest",
    "is_digest",
    "sha256_digest",
    "translate_tls_error",
    "with_retries",
]
