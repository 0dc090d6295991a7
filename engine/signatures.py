"""Release image signatures: fetch them, read them from media, verify them locally, and give them to the cluster.

The Cluster Version Operator (CVO) accepts a release only when it finds a signature, made by a key it trusts,
over the release image's digest. A disconnected cluster cannot reach Red Hat's signature store, so the signature
is handed to it as a ConfigMap in ``openshift-config-managed`` labelled
``release.openshift.io/verification-signatures`` (docs/steps/signature.md, release signatures as the CVO verifies them).

What this module does, in order:

1. *Get* the signatures: from a signature store (``<store>/sha256=<hex>/signature-N``, N from 1, stopping at the
   first 404, at most :data:`MAX_SIGNATURES`, each at most 50 KiB; ``http(s)://`` or ``file://``), or from a
   ConfigMap file saved on removable media by ``oc adm release mirror`` (``.json``; ``.yaml`` with older oc).
2. *Verify* them here, before anything is applied: each is an OpenPGP signed message checked exactly as the CVO's
   Go OpenPGP library checks it (:mod:`engine.openpgp`; SHA-1 keys and signatures accepted with a warning, EdDSA
   and armored signatures refused) against the keys the cluster trusts (every ``verifier-public-key-*`` entry of
   ``openshift-config-managed/release-verification``; each entry must be satisfied by at least one signature,
   the CVO's rule) or against a keyring file; the signed JSON is decoded as strictly as the CVO does it (unknown
   fields rejected anywhere, wrong types rejected, ``critical.type`` must be ``atomic container signature``,
   ``critical.identity.docker-reference`` non-empty) and the signed digest must equal the target digest.
3. *Build* the ConfigMap: exactly as the documentation shows (name ``release-image-<version>``, key
   ``sha256-<hex>``) or, when the signatures came from a media file, the ``oc adm release mirror`` shape (name
   ``sha256-<hex>``, keys ``sha256-<hex>-1``...).
4. *Apply* it (create, or update when it differs; nothing when it is already there; a 409 is re-read and
   retried) and confirm the CVO can see it: listed by its label, with a ``binaryData`` key starting with
   ``sha256-<hex>`` (the CVO's own match).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import ssl
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from engine import openpgp as pgp
from engine.changes import Change
from engine.cluster import CONFIGMAP, Cluster, retry_on_conflict
from engine.context import Context
from engine.errors import (
    InputError,
    NotFound,
    RegistryAuthError,
    SignatureError,
    TLSError,
)
from engine.events import CheckStatus
from engine.fsutil import atomic_write_text
from engine.lock import locked
from engine.util import plain_http_warning, same_host_redirects, why_not_a_file

SIGNATURE_NAMESPACE = "openshift-config-managed"
SIGNATURE_LABEL = "release.openshift.io/verification-signatures"
VERIFICATION_CONFIGMAP = "release-verification"
VERIFIER_KEY_PREFIX = "verifier-public-key-"
SIGNATURE_TYPE = "atomic container signature"
MAX_SIGNATURES = 10
"""signature-1 .. signature-10 are tried; the search stops at the first one that does not exist."""
MAX_SIGNATURE_BYTES = 50 * 1024
"""The CVO reads at most 50 KiB of a signature."""
STEP = "signature"

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_ARMOR_BLOCK = re.compile(
    rb"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL
)


# ----------------------------------------------------------------------------------------------------------
# digests and ConfigMap shapes
# ----------------------------------------------------------------------------------------------------------


def digest_hex(digest: str) -> str:
    m = _DIGEST.match(digest or "")
    if not m:
        raise InputError(
            f"{digest!r} is not a release digest",
            fix="Give the digest as sha256: followed by 64 lower-case hex digits (see 'ocp-airgap release').",
        )
    return m.group(1)


def key_prefix(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>``: the name every binaryData key of the digest starts with."""
    return f"sha256-{digest_hex(digest)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def configmap_for_digest(digest: str, signatures: list[bytes]) -> dict[str, Any]:
    """The ConfigMap ``oc adm release mirror`` writes (release signatures as the CVO verifies them): name ``sha256-<hex>``, keys ``-1``, ``-2``..."""
    prefix = key_prefix(digest)
    if not signatures:
        raise SignatureError(f"no signature to put in a ConfigMap for {digest}")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": prefix,
            "namespace": SIGNATURE_NAMESPACE,
            "labels": {SIGNATURE_LABEL: ""},
        },
        "binaryData": {f"{prefix}-{i}": _b64(sig) for i, sig in enumerate(signatures, 1)},
    }


def configmap_for_release(version: str, digest: str, signatures: list[bytes]) -> dict[str, Any]:
    """The ConfigMap exactly as the documentation shows it (docs/steps/signature.md): name ``release-image-<version>``,
    key ``sha256-<hex>`` for the first signature (further ones, rare, get ``-2``, ``-3``...: the CVO reads every key
    that starts with ``sha256-<hex>``)."""
    prefix = key_prefix(digest)
    if not signatures:
        raise SignatureError(f"no signature to put in a ConfigMap for {digest}")
    data = {prefix if i == 1 else f"{prefix}-{i}": _b64(sig) for i, sig in enumerate(signatures, 1)}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"release-image-{version}",
            "namespace": SIGNATURE_NAMESPACE,
            "labels": {SIGNATURE_LABEL: ""},
        },
        "binaryData": data,
    }


def signatures_in_configmap(cm: Mapping[str, Any], digest: str) -> list[bytes]:
    """The signatures a ConfigMap holds for ``digest``, read the way the CVO reads them (binaryData keys starting
    with ``sha256-<hex>``, in key order; ``data`` is ignored, as the CVO ignores it)."""
    prefix = key_prefix(digest)
    out: list[bytes] = []
    for key in sorted((cm.get("binaryData") or {}).keys()):
        if key.startswith(prefix):
            value = cm["binaryData"][key]
            out.append(value if isinstance(value, bytes) else base64.b64decode(value))
    return out


# ----------------------------------------------------------------------------------------------------------
# fetching from a signature store
# ----------------------------------------------------------------------------------------------------------


def signature_url(store_url: str, digest: str, index: int) -> str:
    """``<store>/sha256=<hex>/signature-<index>`` (release signatures as the CVO verifies them)."""
    hexpart = digest_hex(digest)
    return f"{store_url.rstrip('/')}/sha256={hexpart}/signature-{index}"


def fetch_signatures(store_url: str, digest: str, *, ca_file: str = "") -> list[bytes]:
    """Every signature the store holds for ``digest``: ``signature-1``, ``-2``... until the first one that does
    not exist (HTTP 404 or a missing file), at most :data:`MAX_SIGNATURES`; empty ones are skipped, each is capped
    at 50 KiB. ``store_url`` is ``http(s)://...`` or ``file:///folder``; ``ca_file`` is a PEM bundle for https.

    Raises :class:`SignatureError` when the store has none, and named errors for TLS, 401/403 and other failures.
    """
    digest_hex(digest)
    scheme = urllib.parse.urlsplit(store_url).scheme
    if scheme == "file":
        return _fetch_file_store(store_url, digest)
    if scheme not in ("http", "https"):
        raise InputError(
            f"signature store {store_url!r} is not an http(s):// or file:// URL",
            fix="Set endpoints.signature_store in the plan, e.g. "
            "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release",
        )
    verify: bool | ssl.SSLContext = True
    if ca_file:
        try:
            verify = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                f"cannot use the CA bundle {ca_file} ({exc})",
                fix="Set endpoints.ca_file in the plan to a readable PEM file.",
            ) from None
    out: list[bytes] = []
    try:
        with httpx.Client(
            verify=verify,
            timeout=30.0,
            follow_redirects=True,
            event_hooks={"response": [same_host_redirects("the signature store")]},
        ) as client:
            for index in range(1, MAX_SIGNATURES + 1):
                url = signature_url(store_url, digest, index)
                with client.stream("GET", url) as resp:
                    if resp.status_code == 404:
                        break
                    if resp.status_code in (401, 403):
                        raise RegistryAuthError(
                            f"the signature store refused {url} ({resp.status_code})",
                            fix="The store must be readable without credentials; check endpoints.signature_store.",
                        )
                    if resp.status_code >= 300:
                        raise SignatureError(
                            f"the signature store answered {resp.status_code} for {url}",
                            fix="Check endpoints.signature_store and that the store is up; then retry.",
                        )
                    body = _read_capped(resp.iter_bytes(), url)
                if body:
                    out.append(body)
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc):
            raise TLSError(
                f"the signature store {store_url} presented a certificate this host does not trust ({exc})",
                fix="Set endpoints.ca_file in the plan to the CA bundle that signed the store's certificate.",
            ) from None
        raise SignatureError(
            f"cannot reach the signature store {store_url} ({exc})",
            fix="Check the URL (endpoints.signature_store) and the network path; on the disconnected side, use "
            "a signature ConfigMap file carried on the media instead (signature apply --file).",
        ) from None
    except httpx.HTTPError as exc:
        raise SignatureError(
            f"reading the signature store {store_url} failed ({exc})", fix="Retry; check the store."
        ) from None
    if not out:
        raise SignatureError(
            f"the signature store has no signature for {digest} "
            f"({signature_url(store_url, digest, 1)} does not exist)",
            fix="Check that the digest is the target release's digest and that the store is the right one.",
        )
    return out


def _read_capped(chunks: Iterable[bytes], where: str) -> bytes:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > MAX_SIGNATURE_BYTES:
            raise SignatureError(
                f"{where} is larger than {MAX_SIGNATURE_BYTES // 1024} KiB, which no release signature is",
                fix="Check that the signature store URL is right.",
            )
    return bytes(buf)


def _fetch_file_store(store_url: str, digest: str) -> list[bytes]:
    root = Path(urllib.parse.unquote(urllib.parse.urlsplit(store_url).path))
    if not root.is_dir():
        raise SignatureError(
            f"the signature store folder {root} does not exist",
            fix="Check endpoints.signature_store (file:///path/to/store).",
        )
    out: list[bytes] = []
    for index in range(1, MAX_SIGNATURES + 1):
        p = root / f"sha256={digest_hex(digest)}" / f"signature-{index}"
        try:
            with p.open("rb") as f:
                body = _read_capped(iter(lambda: f.read(65536), b""), str(p))
        except FileNotFoundError:
            break
        if body:
            out.append(body)
    if not out:
        raise SignatureError(
            f"the signature store has no signature for {digest} ({root}/sha256={digest_hex(digest)}/signature-1 "
            "does not exist)",
            fix="Check that the digest is the target release's digest and that the store is the right one.",
        )
    return out


# ----------------------------------------------------------------------------------------------------------
# ConfigMap files saved on media
# ----------------------------------------------------------------------------------------------------------


@dataclass
class SignatureFile:
    path: str
    configmap: dict[str, Any]
    digests: dict[str, list[bytes]]
    """digest → its signatures, in key order."""

    def signatures_for(self, digest: str) -> list[bytes]:
        if digest not in self.digests:
            have = ", ".join(sorted(self.digests)) or "none"
            raise SignatureError(
                f"{self.path} holds signatures for {have}, not for the target {digest}",
                fix="Use the signature file saved for the target release (its name starts with "
                f"signature-sha256-{digest_hex(digest)[:16]}).",
            )
        return self.digests[digest]


_SIG_KEY = re.compile(r"^sha256-([0-9a-f]{64})(?:-\d+)?$")


def _locate(text: str, needle: str) -> tuple[int | None, int | None]:
    idx = text.find(needle)
    if idx < 0:
        return None, None
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def read_signature_file(path: str | Path) -> SignatureFile:
    """Read a signature ConfigMap file (``.json`` as current ``oc adm release mirror`` writes, or ``.yaml``).

    Malformed files raise :class:`InputError` with the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(
            f"signature file {p} {why_not_a_file(p)}", fix="Check the path given to --file."
        ) from None
    except PermissionError as exc:
        raise InputError(
            f"cannot read signature file {p}: {exc.strerror}", fix="Make it readable by this user."
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            f"{p} is not a text ConfigMap file",
            fix="Give the ConfigMap file (signature-sha256-<hex>.json) or, for 'signature verify', a raw "
            "signature with --digest.",
        ) from None
    doc: Any
    if p.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not valid JSON: {exc.msg}",
                path=str(p),
                line=exc.lineno,
                column=exc.colno,
                fix="The file is damaged; copy it again from the media or fetch the signature again.",
            ) from None
    else:
        try:
            doc = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise InputError(
                f"not valid YAML: {exc.problem or exc}",
                path=str(p),
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                fix="The file is damaged; copy it again from the media or fetch the signature again.",
            ) from None
    return parse_signature_configmap(doc, text=text, path=str(p))


def parse_signature_configmap(doc: Any, *, text: str = "", path: str = "<configmap>") -> SignatureFile:
    def fail(message: str, needle: str = "", fix: str = "") -> InputError:
        line, col = _locate(text, needle) if needle and text else (None, None)
        return InputError(
            message,
            path=path,
            line=line,
            column=col,
            fix=fix
            or "Use the signature ConfigMap file written by 'oc adm release mirror' or 'ocp-airgap signature fetch'.",
        )

    if not isinstance(doc, dict):
        raise fail("expected a ConfigMap object")
    if doc.get("kind") != "ConfigMap" or doc.get("apiVersion") != "v1":
        raise fail(
            f"expected apiVersion v1 kind ConfigMap, found {doc.get('apiVersion')!r} {doc.get('kind')!r}",
            "kind",
        )
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise fail("metadata.name is missing", "metadata")
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict) or SIGNATURE_LABEL not in labels:
        raise fail(
            f"the ConfigMap lacks the label {SIGNATURE_LABEL}: the CVO would never look at it",
            "labels" if "labels" in text else "metadata",
        )
    ns = meta.get("namespace", SIGNATURE_NAMESPACE)
    if ns != SIGNATURE_NAMESPACE:
        raise fail(
            f"the ConfigMap is in namespace {ns!r}; the CVO reads signatures only from {SIGNATURE_NAMESPACE}",
            "namespace",
        )
    binary = doc.get("binaryData")
    if not isinstance(binary, dict) or not binary:
        hint = " (signatures in 'data' are ignored by the CVO)" if doc.get("data") else ""
        raise fail(f"the ConfigMap has no binaryData{hint}", "binaryData" if "binaryData" in text else "data")
    digests: dict[str, list[bytes]] = {}
    for key in sorted(binary):
        m = _SIG_KEY.match(str(key))
        if not m:
            raise fail(
                f"binaryData key {key!r} is not sha256-<64 hex>[-N]",
                str(key),
                "Use a file written by oc or ocp-airgap.",
            )
        value = binary[key]
        if isinstance(value, bytes):
            sig = value
        elif isinstance(value, str):
            try:
                sig = base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                raise fail(f"binaryData {key!r} is not valid base64", str(key)) from None
        else:
            raise fail(f"binaryData {key!r} must be base64 text", str(key))
        if not sig:
            raise fail(f"binaryData {key!r} is empty", str(key))
        digests.setdefault(f"sha256:{m.group(1)}", []).append(sig)
    return SignatureFile(path=path, configmap=doc, digests=digests)


# ----------------------------------------------------------------------------------------------------------
# keyrings
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Keyring:
    """The keys of one trust source (one ``verifier-public-key-*`` entry, or one keyring file), as the CVO reads it:
    the first armored block only, certificates Go's OpenPGP library cannot use left out (listed in ``warnings``)."""

    name: str
    ring: pgp.Keyring
    warnings: list[str] = field(default_factory=list)
    """what the CVO would ignore in this source, and weak algorithms in the keys' self-signatures"""

    @property
    def entities(self) -> list[pgp.Entity]:
        return self.ring.entities

    @property
    def certs(self) -> list[pgp.Entity]:
        return self.ring.entities

    @property
    def fingerprints(self) -> list[str]:
        return [e.fingerprint for e in self.ring.entities]

    def describe(self) -> str:
        parts = []
        for e in self.ring.entities:
            uid = e.user_ids[0] if e.user_ids else "no user ID"
            parts.append(f"{e.fingerprint.upper()} ({uid})")
        return f"{self.name}: " + "; ".join(parts)

    def knows(self, key_id: str) -> bool:
        k = key_id.lower()
        return any(k in e.key_ids() for e in self.ring.entities)

    def cert_for(self, fingerprint: str) -> pgp.Entity | None:
        for e in self.ring.entities:
            if e.fingerprint == fingerprint.lower():
                return e
        return None

    def skipped_for(self, key_id: str) -> pgp.Skipped | None:
        k = key_id.lower()
        for s in self.ring.skipped:
            if s.fingerprint.endswith(k):
                return s
        return None


_KEY_FIX = (
    "Give the release signing public key as the CVO reads it: an armored (gpg --export --armor) or binary "
    "(gpg --export) public key block; only the first armored block of a file is read."
)


def parse_keyring(data: bytes, name: str) -> Keyring:
    """Read one trust source exactly as library-go ``loadArmoredOrUnarmoredGPGKeyRing`` does: the first armored
    ``PGP PUBLIC KEY BLOCK`` (text before it, such as the ``pub ... Key fingerprint`` header of the file in
    ``cluster-update-keys``, is ignored), else binary packets (certificates concatenated, as ``gpg --export``
    writes). Certificates Go's OpenPGP library cannot read are left out with a warning; when none is left the
    source is refused, as the CVO refuses it."""
    if b"-----BEGIN PGP" in data and b"-----BEGIN PGP PUBLIC KEY BLOCK-----" not in data:
        if b"-----BEGIN PGP PRIVATE KEY BLOCK-----" in data:
            raise InputError(
                f"{name} is a secret key",
                fix="Give the public key file (gpg --export --armor), never the secret key.",
            )
        raise InputError(
            f"{name} holds no PGP PUBLIC KEY BLOCK",
            fix="Give the public key file (gpg --export --armor), not a secret key or a signature.",
        )
    try:
        ring, blocks = pgp.load_keyring(data)
    except pgp.PGPError as exc:
        if exc.kind == "unsupported":
            raise InputError(
                f"{name} holds no key the CVO can use: {exc.message}",
                fix="The CVO's OpenPGP library (Go golang.org/x/crypto/openpgp) reads RSA, DSA and ECDSA "
                "(NIST P-256/384/521) keys, not EdDSA/Curve25519 or newer ones: use an RSA release key.",
            ) from None
        raise InputError(
            f"{name} is not an OpenPGP public key file the CVO can read ({exc.message})", fix=_KEY_FIX
        ) from None
    warnings: list[str] = []
    if blocks > 1:
        warnings.append(
            f"{name} holds {blocks} armored key blocks; the CVO reads only the first one "
            f"({', '.join(e.fingerprint.upper() for e in ring.entities)})"
        )
    for skipped in ring.skipped:
        warnings.append(
            f"{name}: the CVO ignores the certificate {skipped.fingerprint.upper() or '(unreadable)'}: {skipped.reason}"
        )
    for e in ring.entities:
        for weak in e.weak:
            warnings.append(
                f"{name}: key {e.fingerprint.upper()} is bound by a {weak} (accepted, as the CVO accepts it)"
            )
    return Keyring(name=name, ring=ring, warnings=warnings)


def load_keyring(path: str | Path) -> Keyring:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"keyring file {p} does not exist", fix="Check the path given to --keyring."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read keyring file {p}: {exc.strerror}") from None
    return parse_keyring(data, str(p))


def cluster_keyrings(cluster: Cluster) -> list[Keyring]:
    """Every ``verifier-public-key-*`` entry of ``openshift-config-managed/release-verification``: the keys the CVO
    verifies release signatures with (release signatures as the CVO verifies them). Each entry must be satisfied by a signature."""
    cm = cluster.get_or_none(CONFIGMAP, VERIFICATION_CONFIGMAP, SIGNATURE_NAMESPACE)
    if cm is None:
        raise NotFound(
            f"configmap/{VERIFICATION_CONFIGMAP} in {SIGNATURE_NAMESPACE} does not exist, so the keys the cluster "
            "trusts for release signatures cannot be read",
            fix="Verify against a keyring file instead (--keyring), e.g. Red Hat's release key.",
        )
    out: list[Keyring] = []
    entries: dict[str, bytes] = {}
    for key, value in (cm.get("data") or {}).items():
        if key.startswith(VERIFIER_KEY_PREFIX):
            entries[key] = str(value).encode()
    for key, value in (cm.get("binaryData") or {}).items():
        if key.startswith(VERIFIER_KEY_PREFIX):
            entries[key] = base64.b64decode(value)
    for key in sorted(entries):
        out.append(parse_keyring(entries[key], key))
    if not out:
        raise SignatureError(
            f"configmap/{VERIFICATION_CONFIGMAP} holds no {VERIFIER_KEY_PREFIX}* entry: the cluster trusts no key",
            fix="Verify against a keyring file instead (--keyring).",
        )
    return out


# ----------------------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSignature:
    index: int
    """1-based position among the signatures checked"""
    keyring: str
    signer_fingerprint: str
    signer_user_ids: tuple[str, ...]
    signing_key: str
    digest: str
    docker_reference: str
    creator: str = ""
    timestamp: int | None = None
    hash_algorithm: str = ""
    weak_algorithms: tuple[str, ...] = ()
    """weak algorithms the CVO accepts but a modern verifier would not (SHA-1/MD5 data or key signatures)"""
    warnings: tuple[str, ...] = ()
    """everything worth a WARN: weak algorithms, an expired signing key (the CVO does not check key expiry)"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "keyring": self.keyring,
            "signer": self.signer_fingerprint.upper(),
            "identity": list(self.signer_user_ids),
            "signing_key": self.signing_key.upper(),
            "digest": self.digest,
            "docker_reference": self.docker_reference,
            "creator": self.creator,
            "timestamp": self.timestamp,
            "hash_algorithm": self.hash_algorithm,
            "weak_algorithms": list(self.weak_algorithms),
            "warnings": list(self.warnings),
        }


_SCHEMA: dict[str, Any] = {
    "critical": {
        "type": str,
        "image": {"docker-manifest-digest": str},
        "identity": {"docker-reference": str},
    },
    "optional": {"creator": str, "timestamp": int},
}


def _check_schema(value: Any, schema: Mapping[str, Any], where: str) -> None:
    if value is None:  # Go's decoder leaves a null object at its zero value
        return
    if not isinstance(value, dict):
        raise SignatureError(
            f"signed JSON: {where or 'the document'} must be an object, found {_jtype(value)}"
        )
    for key, item in value.items():
        if key not in schema:
            raise SignatureError(
                f"signed JSON: unknown field {('' if not where else where + '.') + key!r} "
                "(the CVO rejects unknown fields)"
            )
        expected = schema[key]
        path = f"{where}.{key}" if where else key
        if isinstance(expected, dict):
            _check_schema(item, expected, path)
        elif item is None:
            continue
        elif expected is int:
            if isinstance(item, bool) or not isinstance(item, int):
                raise SignatureError(f"signed JSON: {path} must be an integer, found {_jtype(item)}")
        elif not isinstance(item, expected):
            raise SignatureError(f"signed JSON: {path} must be a string, found {_jtype(item)}")


def _jtype(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_signed_payload(payload: bytes, digest: str) -> dict[str, Any]:
    """Check the signed JSON as the CVO does (release signatures as the CVO verifies them) and return it."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureError(
            f"the signed content is not JSON ({exc})",
            fix="This is not a release image signature; fetch the right one.",
        ) from None
    _check_schema(doc, _SCHEMA, "")
    critical = doc.get("critical") or {}
    sig_type = critical.get("type") or ""
    if sig_type != SIGNATURE_TYPE:
        raise SignatureError(
            f"signed JSON: critical.type is {sig_type!r}, expected {SIGNATURE_TYPE!r}",
            fix="This is not a container image signature; fetch the release signature.",
        )
    reference = (critical.get("identity") or {}).get("docker-reference") or ""
    if not reference:
        raise SignatureError("signed JSON: critical.identity.docker-reference is empty (the CVO refuses it)")
    signed_digest = (critical.get("image") or {}).get("docker-manifest-digest") or ""
    if signed_digest != digest:
        raise SignatureError(
            f"the signature is for {signed_digest or 'no digest'}, not for the target {digest}",
            fix="Use the signature of the target release (fetch it for this digest), or check the target digest.",
        )
    return dict(doc)


_FETCH_AGAIN = "Fetch the signature again from the signature store, or copy it again from the media."
_NOT_TRUSTED = (
    "The signature is not from a key the cluster trusts: get the release's signature from the official store, "
    "or check that the keyring is the right one."
)


def verify_signature(
    signature: bytes, keyring: Keyring, digest: str, *, index: int = 1, now: float | None = None
) -> VerifiedSignature:
    """Verify one signature against one keyring and the target digest, accepting exactly what the CVO accepts
    (library-go ``verifySignatureWithKeyring`` over Go's ``golang.org/x/crypto/openpgp``, see
    :mod:`engine.openpgp`); raise :class:`SignatureError` saying why not.

    Reasons told apart: not an OpenPGP signed message (or armored: the CVO reads binary only); made by a key the
    keyring does not hold, or holds but cannot use; the bytes do not verify (tampered or damaged); an algorithm or
    packet the CVO's library does not support; an expired signature; valid but the signed JSON is wrong or names
    another digest."""
    digest_hex(digest)
    if signature.lstrip().startswith(b"-----BEGIN PGP"):
        raise SignatureError(
            f"signature {index} is ASCII-armored; the CVO reads only binary OpenPGP signatures and would refuse it",
            fix="Use the binary signature as the signature store serves it (or convert it: gpg --dearmor).",
        )
    try:
        verified = pgp.read_message(signature, keyring.ring, now=now)
    except pgp.PGPError as exc:
        raise _signature_error(exc, signature, keyring, index) from None
    entity, key = verified.entity, verified.key
    doc = parse_signed_payload(verified.content, digest)
    optional = doc.get("optional") or {}
    warnings = [f"signature {index}: {w} (accepted, as the CVO accepts it)" for w in verified.weak]
    expires = entity.expires()
    if expires is not None and expires < (time.time() if now is None else now):
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d")
        warnings.append(
            f"signature {index}: the key {entity.fingerprint.upper()} expired on {when}; the CVO does not check key "
            "expiry and accepts it"
        )
    return VerifiedSignature(
        index=index,
        keyring=keyring.name,
        signer_fingerprint=entity.fingerprint,
        signer_user_ids=tuple(entity.user_ids),
        signing_key=key.fingerprint,
        digest=digest,
        docker_reference=str(doc["critical"]["identity"]["docker-reference"]),
        creator=str(optional.get("creator") or ""),
        timestamp=optional.get("timestamp"),
        hash_algorithm=verified.signature.hash_name,
        weak_algorithms=tuple(verified.weak),
        warnings=tuple(warnings),
    )


def _signature_error(exc: pgp.PGPError, signature: bytes, keyring: Keyring, index: int) -> SignatureError:
    kind, why = exc.kind, exc.message
    if kind == "unknown-signer":
        key_id = str(exc.detail.get("key_id") or "").upper()
        skipped = keyring.skipped_for(key_id)
        if skipped is not None:
            return SignatureError(
                f"signature {index} was made by key {key_id}, which {keyring.name} holds but the CVO cannot use "
                f"({skipped.reason})",
                fix=_NOT_TRUSTED,
            )
        if keyring.knows(key_id):
            return SignatureError(
                f"signature {index} was made by key {key_id}, which {keyring.name} holds but may not sign "
                "(revoked, or its key flags do not allow signing); the CVO refuses it",
                fix=_NOT_TRUSTED,
            )
        return SignatureError(
            f"signature {index} was made by key {key_id}, which is not in {keyring.describe()}",
            fix=_NOT_TRUSTED,
        )
    if kind in ("signature", "invalid"):
        return SignatureError(
            f"signature {index} does not verify with {keyring.describe()}: the signed bytes were altered or "
            f"damaged ({why})",
            fix=_FETCH_AGAIN,
        )
    if kind == "unsupported":
        return SignatureError(
            f"signature {index} uses something the CVO's OpenPGP library does not support ({why}); the CVO "
            "would refuse it",
            fix="Release signatures are RSA, DSA or ECDSA signatures over SHA-1/SHA-2 hashes; get the release's "
            "signature from the official store.",
        )
    if kind == "expired":
        when = datetime.fromtimestamp(int(exc.detail.get("expiry") or 0), UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        )
        return SignatureError(
            f"signature {index} expired on {when}; the CVO refuses expired signatures",
            fix="Get a current signature for the release from the signature store.",
        )
    if kind == "not-signed":
        return SignatureError(
            f"signature {index} is an OpenPGP message without a one-pass signature (not signed the way the CVO "
            "reads release signatures)",
            fix="Give the signature file (signature-1 from the store) or the signature ConfigMap file.",
        )
    if kind == "eof" and pgp.signer_key_id(signature) is not None:
        return SignatureError(
            f"signature {index} is truncated ({why})",
            fix=_FETCH_AGAIN,
        )
    return SignatureError(
        f"signature {index} is not an OpenPGP signed message ({why})",
        fix="Give the signature file (signature-1 from the store) or the signature ConfigMap file.",
    )


def report_warnings(
    emit: Any, keyrings: Iterable[Keyring], verified: Iterable[VerifiedSignature]
) -> list[str]:
    """Emit a WARN for each thing the CVO accepts but is worth knowing (weak algorithms, ignored key blocks,
    expired keys); returns the texts."""
    seen: list[str] = []
    for ring in keyrings:
        for w in ring.warnings:
            if w not in seen:
                seen.append(w)
    for v in verified:
        for w in v.warnings:
            if w not in seen:
                seen.append(w)
    for w in seen:
        emit.warning(w)
    return seen


def verify_release(signatures: list[bytes], keyrings: list[Keyring], digest: str) -> list[VerifiedSignature]:
    """The CVO's rule: every keyring must be satisfied by at least one of the signatures. Returns one verified
    signature per keyring; raises :class:`SignatureError` with the reason of the first keyring left unsatisfied."""
    if not signatures:
        raise SignatureError(f"there is no signature for {digest}")
    if not keyrings:
        raise SignatureError("no key to verify the signature with")
    out: list[VerifiedSignature] = []
    for keyring in keyrings:
        errors: list[SignatureError] = []
        for i, sig in enumerate(signatures, 1):
            try:
                out.append(verify_signature(sig, keyring, digest, index=i))
                break
            except SignatureError as exc:
                errors.append(exc)
        else:
            first = errors[0]
            more = f" ({len(errors)} signatures tried)" if len(errors) > 1 else ""
            raise SignatureError(first.message + more, fix=first.fix)
    return out


# ----------------------------------------------------------------------------------------------------------
# the cluster side
# ----------------------------------------------------------------------------------------------------------


def visible_signature_configmaps(cluster: Cluster, digest: str) -> list[str]:
    """Names of the ConfigMaps the CVO would use for ``digest``: in openshift-config-managed, selected by the
    signature label, with a binaryData key starting with ``sha256-<hex>``."""
    prefix = key_prefix(digest)
    names = []
    for cm in cluster.list(CONFIGMAP, SIGNATURE_NAMESPACE, label_selector=SIGNATURE_LABEL):
        if any(k.startswith(prefix) for k in (cm.get("binaryData") or {})):
            names.append(str(cm["metadata"]["name"]))
    return sorted(names)


@dataclass
class PreparedSignature:
    """A verified signature ConfigMap ready to apply, with its preview."""

    digest: str
    configmap: dict[str, Any]
    verified: list[VerifiedSignature]
    change: Change | None
    """None when the cluster already holds exactly this ConfigMap."""
    source: str
    """where the signatures came from (store URL or media file)"""
    manifest_path: str = ""
    """the file the equivalent 'oc apply -f' reads"""
    write_manifest: bool = False
    """True when :func:`apply` must write ``manifest_path`` (it was built here, not read from media)"""

    @property
    def name(self) -> str:
        return str(self.configmap["metadata"]["name"])

    @property
    def changes(self) -> list[Change]:
        return [self.change] if self.change else []


def _strip_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": keep}
    for k in ("data", "binaryData"):
        if obj.get(k):
            out[k] = obj[k]
    return out


def _manifest_dir(ctx: Context) -> Path:
    return ctx.journal.path.parent / "signatures"


def media_signature_file(ctx: Context) -> str:
    """On the disconnected side, the signature ConfigMap file the connected side wrote onto the media (found,
    never guessed); "" elsewhere. The disconnected side never silently reaches for the internet: with the public
    signature store in the plan and no file on the media, it stops and says where the file must come from (a
    signature store of the site's own, set in ``endpoints.signature_store``, is used as configured)."""
    from engine.mirror.core import media_dir
    from engine.mirror.media import find_signature_file, signature_file_name
    from engine.plan import DEFAULT_SIGNATURE_STORE
    from engine.workflow import DISCONNECTED, role_of

    plan = ctx.plan
    if role_of(plan) != DISCONNECTED or not plan.mirroring.media_path:
        return ""
    media = Path(media_dir(plan))
    found = find_signature_file(media, plan.release.digest)
    if found is not None:
        ctx.emit.info(f"Using the signature file the connected side wrote onto the media: {found}")
        return str(found)
    if plan.endpoints.signature_store.rstrip("/") == DEFAULT_SIGNATURE_STORE.rstrip("/"):
        expected = media / "config" / signature_file_name(plan.release.digest)
        raise InputError(
            f"the media carries no signature file for {plan.release.digest} (looked for {expected}), and this "
            "disconnected host cannot reach the public signature store",
            fix="On the connected side, 'ocp-airgap mirror --plan P' (to media) writes it there; or "
            "'ocp-airgap signature fetch --plan P --out FILE' and carry FILE across, then give it with --file "
            "(or in the wizard's Media file field).",
        )
    return ""


def prepare(
    ctx: Context,
    *,
    file: str = "",
    keyring_path: str = "",
    signatures: list[bytes] | None = None,
) -> PreparedSignature:
    """Get the target's signatures (media file, given bytes, or the plan's signature store), verify them against
    the keys the cluster trusts (always; ``keyring_path`` must be satisfied as well), build the ConfigMap and compare
    it with the cluster's."""
    plan = ctx.plan
    plan.require("release.digest")
    digest = plan.release.digest
    emit = ctx.emit
    if not file and signatures is None:
        from engine.mirror.ocmirror import journaled_layout

        layout = journaled_layout(ctx, digest)
        if layout and layout.get("signature_file") and Path(str(layout["signature_file"])).is_file():
            # oc-mirror v2 wrote the release signature with the mirror: use that, as its docs say to apply it
            file = str(layout["signature_file"])
            emit.info(f"Using the signature ConfigMap oc-mirror wrote: {file}")
        else:
            file = media_signature_file(ctx)
    from_file = bool(file)
    if file:
        sf = read_signature_file(file)
        sigs = sf.signatures_for(digest)
        source = sf.path
        emit.info(f"Read {len(sigs)} signature(s) for {digest} from {sf.path}.")
    elif signatures is not None:
        sigs = list(signatures)
        source = "given signatures"
    else:
        store = plan.endpoints.signature_store
        url = signature_url(store, digest, 1)
        if plain_http_warning(store, "the signature store"):
            emit.warning(plain_http_warning(store, "the signature store"))
        emit.command(["curl", "-s", url], note="fetch the release signature from the signature store")
        sigs = fetch_signatures(store, digest, ca_file=plan.resolve_path(plan.endpoints.ca_file))
        source = store
        emit.info(f"Fetched {len(sigs)} signature(s) for {digest} from {store}.")

    # Apply verifies against the keys the cluster trusts, always: a signature the CVO cannot verify is no use on
    # the cluster, whatever key file was given. A keyring file given as well must be satisfied too.
    cluster = ctx.cluster
    emit.command(
        [
            "oc",
            *cluster.oc_args(),
            "get",
            "configmap",
            VERIFICATION_CONFIGMAP,
            "-n",
            SIGNATURE_NAMESPACE,
            "-o",
            "yaml",
        ],
        note="the keys the cluster trusts for release signatures",
    )
    try:
        keyrings = cluster_keyrings(cluster)
    except (NotFound, SignatureError) as exc:
        raise SignatureError(
            f"{exc.message}; the signature is not applied, since the cluster could not verify it either",
            fix="Restore the release-verification ConfigMap in openshift-config-managed (the CVO recreates it "
            "from the release payload), then apply again. A keyring file is for checking a signature on the "
            "connected side only: ocp-airgap signature verify --keyring K.",
        ) from None
    emit.info("Verifying against the keys the cluster trusts: " + " | ".join(k.describe() for k in keyrings))
    verified = verify_release(sigs, keyrings, digest)
    if keyring_path:
        extra = load_keyring(plan.resolve_path(keyring_path))
        emit.info(
            f"Also verifying against the keyring file {extra.describe()} (the cluster's keys decide whether the "
            "CVO accepts the release)."
        )
        verify_release(sigs, [extra], digest)
    report_warnings(emit, keyrings, verified)
    for v in verified:
        emit.check(
            f"signature {v.index}",
            CheckStatus.PASS,
            f"valid: signed by {v.signer_fingerprint.upper()} ({', '.join(v.signer_user_ids) or 'no user ID'}) "
            f"for {v.digest}, identity {v.docker_reference}",
        )

    if from_file:
        cm = configmap_for_digest(digest, sigs)
        manifest = str(Path(file))
    elif plan.release.version:
        cm = configmap_for_release(plan.release.version, digest, sigs)
        manifest = str(_manifest_dir(ctx) / f"checksum-{plan.release.version}.yaml")
    else:
        cm = configmap_for_digest(digest, sigs)
        manifest = str(_manifest_dir(ctx) / f"signature-sha256-{digest_hex(digest)[:16]}.yaml")

    cluster = ctx.cluster
    name = cm["metadata"]["name"]
    existing = cluster.get_or_none(CONFIGMAP, name, SIGNATURE_NAMESPACE)
    before = _strip_server_fields(existing) if existing is not None else None
    after = _merged(existing, cm) if existing is not None else cm
    change: Change | None = None
    if before is None or _strip_server_fields(after) != before:
        change = Change(
            title=f"{'Create' if before is None else 'Update'} the release signature ConfigMap {name}",
            resource=f"configmap/{SIGNATURE_NAMESPACE}/{name}",
            before=before,
            after=_strip_server_fields(after),
            command=["oc", *cluster.oc_args(), "apply", "-f", manifest],
        )
    return PreparedSignature(
        digest=digest,
        configmap=cm,
        verified=verified,
        change=change,
        source=source,
        manifest_path=manifest,
        write_manifest=not from_file,
    )


def _merged(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """What ``oc apply`` leaves: the existing object with the wanted labels and binaryData set (other keys kept)."""
    out = json.loads(json.dumps(existing))
    meta = out.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels.update(wanted["metadata"].get("labels") or {})
    meta["labels"] = labels
    binary = out.get("binaryData") or {}
    binary.update(wanted.get("binaryData") or {})
    out["binaryData"] = binary
    return dict(out)


@locked("signature apply")
def apply(ctx: Context, prepared: PreparedSignature) -> dict[str, Any]:
    """Create or update the ConfigMap (after the caller's confirmation), journal it, and confirm the CVO sees it."""
    cluster = ctx.cluster
    emit = ctx.emit
    name = prepared.name
    journal = ctx.journal
    journal.step_started(STEP, digest=prepared.digest, configmap=name)
    if prepared.write_manifest:
        atomic_write_text(
            Path(prepared.manifest_path),
            yaml.safe_dump(prepared.configmap, sort_keys=False, default_flow_style=False),
            mode=0o644,
        )
    action = "unchanged"
    if prepared.change is not None:
        emit.command(prepared.change.command, note="apply the release signature ConfigMap")

        def attempt() -> str:
            current = cluster.get_or_none(CONFIGMAP, name, SIGNATURE_NAMESPACE)
            if current is None:
                cluster.create(CONFIGMAP, prepared.configmap, SIGNATURE_NAMESPACE)  # 409 if created meanwhile
                return "created"
            cluster.replace(CONFIGMAP, _merged(current, prepared.configmap), SIGNATURE_NAMESPACE)
            return "configured"

        action = retry_on_conflict(
            attempt, on_retry=lambda n: emit.info(f"configmap/{name} changed meanwhile; retry {n}.")
        )
        journal.change(
            STEP,
            "create" if prepared.change.before is None else "update",
            prepared.change.resource,
            before=None if prepared.change.before is None else {"name": name},
            after={"name": name, "keys": sorted(prepared.configmap.get("binaryData") or {})},
            command=shlex.join(prepared.change.command),
            digest=prepared.digest,
        )
        emit.info(f"configmap/{name} {action}")
    else:
        emit.info(f"configmap/{name} already holds these signatures; nothing to change.")
    visible = _wait_visible(cluster, prepared.digest, ctx)
    emit.command(
        ["oc", *cluster.oc_args(), "get", "configmap", "-n", SIGNATURE_NAMESPACE, "-l", SIGNATURE_LABEL],
        note="what the CVO lists",
    )
    summary = f"signature ConfigMap {name} {action}; the CVO can see it ({', '.join(visible)})"
    journal.step_finished(
        STEP,
        "succeeded",
        summary,
        digest=prepared.digest,
        configmap=name,
        signers=[v.signer_fingerprint.upper() for v in prepared.verified],
    )
    return {"configmap": name, "action": action, "visible": visible, "digest": prepared.digest}


def _wait_visible(cluster: Cluster, digest: str, ctx: Context) -> list[str]:
    for _ in range(20):
        visible = visible_signature_configmaps(cluster, digest)
        if visible:
            return visible
        ctx.cancel.wait(0.1)
        ctx.check_cancel()
    raise SignatureError(
        f"the ConfigMap was applied but no labelled ConfigMap in {SIGNATURE_NAMESPACE} holds a signature for {digest}",
        fix=f"Check 'oc get configmap -n {SIGNATURE_NAMESPACE} -l {SIGNATURE_LABEL}'.",
    )


def fetch_to_file(ctx: Context, out: str, *, keyring_path: str = "") -> dict[str, Any]:
    """Connected side: fetch the target's signatures, verify them when a keyring is given, and write the
    documented ConfigMap (``release-image-<version>``) to ``out`` (``.json`` or ``.yaml``) for the media."""
    plan = ctx.plan
    plan.require("release.digest")
    digest = plan.release.digest
    store = plan.endpoints.signature_store
    ctx.emit.command(["curl", "-s", signature_url(store, digest, 1)], note="fetch the release signature")
    if plain_http_warning(store, "the signature store"):
        ctx.emit.warning(plain_http_warning(store, "the signature store"))
    sigs = fetch_signatures(store, digest, ca_file=plan.resolve_path(plan.endpoints.ca_file))
    ctx.emit.info(f"Fetched {len(sigs)} signature(s) for {digest} from {store}.")
    verified: list[VerifiedSignature] = []
    if keyring_path:
        rings = [load_keyring(plan.resolve_path(keyring_path))]
        verified = verify_release(sigs, rings, digest)
        report_warnings(ctx.emit, rings, verified)
        for v in verified:
            ctx.emit.info(f"Signature {v.index} is valid: signed by {v.signer_fingerprint.upper()}.")
    cm = (
        configmap_for_release(plan.release.version, digest, sigs)
        if plan.release.version
        else configmap_for_digest(digest, sigs)
    )
    data: dict[str, Any] = {"digest": digest, "signatures": len(sigs), "configmap": cm["metadata"]["name"]}
    if out:
        p = Path(out)
        text = (
            json.dumps(cm, indent=2) + "\n"
            if p.suffix.lower() == ".json"
            else yaml.safe_dump(cm, sort_keys=False, default_flow_style=False)
        )
        atomic_write_text(p, text, mode=0o644)
        ctx.emit.info(f"Wrote the signature ConfigMap to {p}; on the disconnected side: oc apply -f {p.name}")
        data["file"] = str(p)
    data["verified"] = [v.to_dict() for v in verified]
    return data


def read_signatures(path: str | Path, digest: str) -> list[bytes]:
    """The signatures for ``digest`` in a file: a raw signature (``signature-1`` from a store, binary or armored)
    or a signature ConfigMap file (``.json``/``.yaml``, or any file that holds one)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(f"signature file {p} {why_not_a_file(p)}", fix="Check the file path.") from None
    except OSError as exc:
        raise InputError(f"cannot read signature file {p}: {exc.strerror}", fix="Make it readable.") from None
    if p.suffix.lower() in (".json", ".yaml", ".yml") or (
        not raw.lstrip().startswith(b"-----BEGIN PGP") and _looks_like_configmap(raw)
    ):
        return read_signature_file(p).signatures_for(digest)
    return [raw]


def verify_file(path: str | Path, digest: str, keyrings: Keyring | list[Keyring]) -> list[VerifiedSignature]:
    """For ``signature verify``: verify the signatures of a file (see :func:`read_signatures`)."""
    digest_hex(digest)
    rings = [keyrings] if isinstance(keyrings, Keyring) else keyrings
    return verify_release(read_signatures(path, digest), rings, digest)


def _looks_like_configmap(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "ConfigMap" in text and "binaryData" in text


__all__ = [
    "MAX_SIGNATURES",
    "SIGNATURE_LABEL",
    "SIGNATURE_NAMESPACE",
    "Keyring",
    "PreparedSignature",
    "SignatureFile",
    "VerifiedSignature",
    "apply",
    "cluster_keyrings",
    "configmap_for_digest",
    "configmap_for_release",
    "fetch_signatures",
    "fetch_to_file",
    "load_keyring",
    "parse_keyring",
    "parse_signed_payload",
    "prepare",
    "read_signature_file",
    "report_warnings",
    "read_signatures",
    "signature_url",
    "signatures_in_configmap",
    "verify_file",
    "verify_release",
    "verify_signature",
    "visible_signature_configmaps",
]
