"""Release signature verification as the CVO does it (library-go ``pkg/verify``): keys from the
``verifier-public-key-*`` entries of ``openshift-config-managed/release-verification``, signatures from the
``binaryData`` of ConfigMaps labelled ``release.openshift.io/verification-signatures`` in
``openshift-config-managed`` (keys starting with ``sha256-<hex>``), listed at most once per 30 s. Every key
needs one valid signature; the JSON is decoded strictly. The signature stores (``store-*``) are on the
internet, which the disconnected cluster cannot reach."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pysequoia as ps

from .initial import CONFIGMAP
from .store import Store

SIGNATURE_LABEL = "release.openshift.io/verification-signatures"
VERIFICATION_CM = ("openshift-config-managed", "release-verification")
LIST_INTERVAL = 30.0  # simulated seconds between two listings of the signature ConfigMaps
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")

_SCHEMA: dict[str, Any] = {
    "critical": {
        "type": None,
        "image": {"docker-manifest-digest": None},
        "identity": {"docker-reference": None},
    },
    "optional": {"creator": None, "timestamp": None},
}


class StrictJSONError(ValueError):
    pass


def _check_fields(value: Any, schema: Any, path: str) -> None:
    if schema is None or value is None:
        return
    if not isinstance(value, dict):
        raise StrictJSONError(f"json: cannot unmarshal {type(value).__name__} into Go struct field {path}")
    for key, sub in value.items():
        if key not in schema:
            raise StrictJSONError(f'json: unknown field "{key}"')
        _check_fields(sub, schema[key], f"{path}.{key}")


def check_signature_json(payload: bytes, digest: str) -> None:
    """library-go ``verifyAtomicContainerSignature``: strict decoding and the three checks."""
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        raise StrictJSONError(f"invalid signature JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise StrictJSONError("invalid signature JSON: not an object")
    _check_fields(doc, _SCHEMA, "signature")
    critical = doc.get("critical") or {}
    if critical.get("type") != "atomic container signature":
        raise StrictJSONError("signature is not the correct type")
    if not (critical.get("identity") or {}).get("docker-reference"):
        raise StrictJSONError("signature must have an identity")
    if (critical.get("image") or {}).get("docker-manifest-digest") != digest:
        raise StrictJSONError("signature digest does not match")


_ARMOR = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL)


@dataclass
class Keys:
    """One ``verifier-public-key-*`` entry: the armored text and what pysequoia made of it."""

    armored: str
    certs: list[ps.Cert]


def load_certs(armored: str) -> Keys:
    # library-go loadArmoredOrUnarmoredGPGKeyRing reads the first armored block; text before it (the
    # "pub 4096R/..." header of cluster-update-keys' file) is skipped by Go's armor.Decode.
    m = _ARMOR.search(armored)
    data = (m.group(0) if m else armored).encode()
    try:
        certs = list(ps.Cert.split_bytes(data))
    except Exception:
        try:
            certs = [ps.Cert.from_bytes(data)]
        except Exception:
            certs = []
    return Keys(armored, certs)


def _verify_pysequoia(signature: bytes, certs: list[ps.Cert]) -> bytes | None:
    if not certs:
        return None
    try:
        result = ps.verify(bytes=signature, store=lambda _ids: certs)
    except Exception:
        return None
    if not result.valid_sigs:
        return None
    return bytes(result.bytes or b"")


def _verify_gpgv(signature: bytes, armored: str) -> bytes | None:
    """The material pysequoia's standard policy refuses but Go's golang.org/x/crypto/openpgp (which has no hash
    policy: read.go readSignedMessage, packet/reader.go partialLengthReader) accepts: SHA-1 key self-signatures
    as cluster-update-keys shipped them until late 2024, SHA-1 data signatures, literal data framed by pre-2019
    Go with a first partial chunk under 512 bytes. GnuPG's gpgv accepts those too, so it stands in for Go here.
    (gpgv refuses MD5, which Go accepts: the lab never signs with MD5.)"""
    m = _ARMOR.search(armored)
    if m is None or shutil.which("gpgv") is None or shutil.which("gpg") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="cvo-gpgv-") as home:
        os.chmod(home, 0o700)
        try:
            ring = subprocess.run(
                ["gpg", "--homedir", home, "--batch", "--dearmor"],
                input=m.group(0).encode(),
                capture_output=True,
                timeout=30,
                check=True,
            ).stdout
            ring_file, msg_file, out_file = Path(home, "ring.gpg"), Path(home, "msg"), Path(home, "out")
            ring_file.write_bytes(ring)
            msg_file.write_bytes(signature)
            proc = subprocess.run(
                ["gpgv", "--homedir", home, "--keyring", str(ring_file), "--status-fd", "1"]
                + ["--output", str(out_file), str(msg_file)],
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode != 0 or b"[GNUPG:] VALIDSIG " not in proc.stdout:
            return None
        try:
            return out_file.read_bytes()
        except OSError:
            return None


def _refused_by_go(signature: bytes) -> bool:
    """Go's openpgp refuses EdDSA signatures (packet/signature.go parse: RSA, DSA and ECDSA only); pysequoia and
    gpgv accept them, so the one-pass signature packet's algorithm is checked here."""
    # new-format one-pass signature packet (tag 4) first: c4 0d 03 <type> <hash> <algo>
    return len(signature) > 5 and signature[0] == 0xC4 and signature[1] == 0x0D and signature[5] == 22


def verify_one(signature: bytes, keys: Keys, digest: str) -> bool:
    if _refused_by_go(signature):
        return False
    content = _verify_pysequoia(signature, keys.certs)
    if content is None:
        content = _verify_gpgv(signature, keys.armored)
    if content is None:
        return False
    try:
        check_signature_json(content, digest)
    except StrictJSONError:
        return False
    return True


@dataclass
class SignatureVerifier:
    store: Store
    _cache_at: float = -1e18
    _cached: list[tuple[str, str, bytes]] = field(default_factory=list)

    def _signature_configmaps(self, now: float) -> list[tuple[str, str, bytes]]:
        if now - self._cache_at >= LIST_INTERVAL:
            items, _ = self.store.list(CONFIGMAP, "openshift-config-managed", SIGNATURE_LABEL)
            found: list[tuple[str, str, bytes]] = []
            for cm in items:
                for key, value in sorted((cm.get("binaryData") or {}).items()):
                    try:
                        found.append((cm["metadata"]["name"], key, base64.b64decode(value)))
                    except ValueError:
                        continue
            self._cached = found
            self._cache_at = now
        return self._cached

    def verify(self, digest: str, now: float) -> str | None:
        """None when verified, else the CVO's failure text (without "The update cannot be verified: ")."""
        if not _DIGEST.match(digest):
            return f"the provided release image digest must be of the form ALGO:HASH: {digest}"
        cm = self.store.find(CONFIGMAP, *VERIFICATION_CM)
        data = (cm or {}).get("data") or {}
        keyrings = {k: load_certs(v) for k, v in sorted(data.items()) if k.startswith("verifier-public-key-")}
        stores = [v for k, v in sorted(data.items()) if k.startswith("store-")]
        if not keyrings:
            return (
                f"unable to verify {digest} against keyrings: the release verifier is incorrectly configured: "
                f"no verifier-public-key-* entries in {VERIFICATION_CM[0]}/{VERIFICATION_CM[1]}"
            )
        prefix = digest.replace(":", "-")
        sigs = [
            (name, key, blob) for name, key, blob in self._signature_configmaps(now) if key.startswith(prefix)
        ]
        remaining = dict(keyrings)
        for _name, _key, blob in sigs:
            for kname in list(remaining):
                if verify_one(blob, remaining[kname], digest):
                    del remaining[kname]
            if not remaining:
                return None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        errors = []
        names = sorted({name for name, _, _ in sigs})
        for name in names:
            errors.append(f"{stamp}: prefix {prefix} in config map {name}: no more signatures to check")
        if not names:
            errors.append(
                f"{stamp}: prefix {prefix} in config map signatures-managed: no more signatures to check"
            )
        for url in stores:
            host = urlsplit(url).hostname or url
            errors.append(
                f"{stamp}: unable to retrieve signature from {url.rstrip('/')}/{digest.replace(':', '=')}/"
                f"signature-1: dial tcp: lookup {host}: no such host"
            )
        return f"unable to verify {digest} against keyrings: {', '.join(sorted(remaining))}\n[{', '.join(errors)}]"
