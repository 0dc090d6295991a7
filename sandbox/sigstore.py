"""The lab's release signing key and its signature store.

Releases are signed the way Red Hat signs them: an OpenPGP *signed message* (binary, not armored) whose literal
data is the "atomic container signature" JSON naming the release manifest digest. The store is a folder laid
out like ``https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release``:
``<store>/sha256=<hex>/signature-1``; :mod:`sandbox.httpd` serves it over HTTP.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pysequoia as ps

from engine.fsutil import atomic_write_bytes, atomic_write_text

SIGNER_USER_ID = "ocp-airgap sandbox release signer <release-signer@sandbox.ocp-airgap.invalid>"
CREATOR = "ocp-airgap sandbox"
SIGNATURE_TYPE = "atomic container signature"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class SigningKey:
    """The lab's release key: the secret key file (0600) and the armored public key file."""

    tsk: ps.Tsk
    secret_file: Path
    public_file: Path

    @property
    def fingerprint(self) -> str:
        return str(self.tsk.extract_certificate().fingerprint)

    @property
    def public_armored(self) -> str:
        return str(self.tsk.extract_certificate())

    @property
    def cert(self) -> ps.Cert:
        return self.tsk.extract_certificate()


def generate_key(
    directory: str | Path, *, user_id: str = SIGNER_USER_ID, name: str = "release-signer"
) -> SigningKey:
    """Generate a new OpenPGP key; write ``<name>.key`` (armored secret, 0600) and ``<name>.pub.asc``."""
    d = Path(directory)
    tsk = ps.Tsk.generate(user_id)
    secret = d / f"{name}.key"
    public = d / f"{name}.pub.asc"
    atomic_write_text(secret, str(tsk), mode=0o600)
    atomic_write_text(public, str(tsk.extract_certificate()), mode=0o644)
    return SigningKey(tsk, secret, public)


def load_key(directory: str | Path, *, name: str = "release-signer") -> SigningKey:
    d = Path(directory)
    secret = d / f"{name}.key"
    return SigningKey(ps.Tsk.from_file(str(secret)), secret, d / f"{name}.pub.asc")


def signature_payload(digest: str, reference: str, *, creator: str = CREATOR) -> bytes:
    """The atomic container signature JSON (FORMATS: critical.type/image/identity, optional.creator)."""
    if not _DIGEST.match(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    doc = {
        "critical": {
            "type": SIGNATURE_TYPE,
            "image": {"docker-manifest-digest": digest},
            "identity": {"docker-reference": reference},
        },
        "optional": {"creator": creator},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def sign_payload(tsk: ps.Tsk, payload: bytes) -> bytes:
    """Inline-sign arbitrary bytes (tests use it for tampered or malformed payloads)."""
    return bytes(ps.sign(tsk.signer(), payload, armor=False))


def sign_release(tsk: ps.Tsk, digest: str, ref: str) -> bytes:
    """A binary OpenPGP signed message over the atomic container signature JSON for ``digest``."""
    return sign_payload(tsk, signature_payload(digest, ref))


def store_path(store_dir: str | Path, digest: str, index: int = 1) -> Path:
    algo, _, hexpart = digest.partition(":")
    return Path(store_dir) / f"{algo}={hexpart}" / f"signature-{index}"


def write_signature(store_dir: str | Path, digest: str, signature: bytes, index: int = 1) -> Path:
    p = store_path(store_dir, digest, index)
    atomic_write_bytes(p, signature, mode=0o644)
    return p


def verify_signature(signature: bytes, cert: ps.Cert) -> dict[str, object]:
    """Verify ``signature`` with ``cert`` and return the decoded JSON (raises RuntimeError if invalid)."""
    result = ps.verify(bytes=signature, store=lambda _ids: [cert])
    if not result.valid_sigs:
        raise RuntimeError("no valid signature")
    data = json.loads(bytes(result.bytes or b""))
    if not isinstance(data, dict):
        raise RuntimeError("signature payload is not a JSON object")
    return data
