"""The lab's release signing key and its signature store.

Releases are signed the way Red Hat signs them: an OpenPGP *signed message* (binary, not armored) whose literal
data is the "atomic container signature" JSON naming the release manifest digest. The store is a folder laid
out like ``https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release``:
``<store>/sha256=<hex>/signature-1``; :mod:`sandbox.httpd` serves it over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pysequoia as ps
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from engine.fsutil import atomic_write_bytes, atomic_write_text

_CIPHER_SUITE = ps.CipherSuite.RSA2k
"""The lab's default release key is RSA, as Red Hat's is (RSA 4096; 2048 here to keep key generation near a
second): the CVO's Go OpenPGP library (golang.org/x/crypto/openpgp, packet/public_key.go PublicKey.parse) reads
RSA, DSA and ECDSA keys only, so a Curve25519 key would be ignored by a real cluster."""

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
    tsk = ps.Tsk.generate(user_id, cipher_suite=_CIPHER_SUITE)
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
    """The atomic container signature JSON (critical.type/image/identity, optional.creator)."""
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


# ----------------------------------------------------------------------------------------------------------
# Keys and signatures as the 4.12 era shipped and wrote them, built packet by packet (RFC 4880 framing, RSA
# maths from the cryptography package), because no current OpenPGP tool writes them any more:
#
# - the release key as cluster-update-keys shipped it up to the late-2024 re-signing (openshift/cluster-update-keys,
#   keys/verifier-public-key-redhat-release on release-4.12): one RSA primary key, one user ID, one positive
#   certification (0x13) made with SHA-1, issuer key ID in the unhashed area, a "pub 4096R/..." text header
#   before the armor;
# - signed messages as Go's golang.org/x/crypto/openpgp wrote them before June 2019 (openpgp/write.go Sign,
#   openpgp/packet/literal.go SerializeLiteral, and packet/packet.go partialLengthWriter.Write before commit
#   32487ec "ensure that first partial packet is 512 bytes"): one-pass signature, then literal data in partial
#   body lengths, each Write split into power-of-two chunks of at most 2^14 bytes (so the first chunk is the
#   2-byte "b\x00" header), a zero length to end, then a v4 signature whose hashed area holds the creation
#   time and the issuer key ID (packet/signature.go buildSubpackets).
# ----------------------------------------------------------------------------------------------------------

_HASH_IDS = {"MD5": 1, "SHA1": 2, "SHA256": 8, "SHA384": 9, "SHA512": 10, "SHA224": 11}


_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "MD5": hashes.MD5,
    "SHA1": hashes.SHA1,
    "SHA224": hashes.SHA224,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


def _hash(name: str) -> hashes.HashAlgorithm:
    return _HASH_CLASSES[name]()


def _mpi(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return value.bit_length().to_bytes(2, "big") + raw


def _new_header(tag: int, body: bytes) -> bytes:
    """serializeHeader: new-format header with a definite length."""
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([192 + (n >> 8), n & 0xFF])
    else:
        length = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + length + body


def _old_header(tag: int, body: bytes) -> bytes:
    """Old-format header (what gpg wrote in 2009 for keys): 2-byte length."""
    return bytes([0x80 | (tag << 2) | 1]) + len(body).to_bytes(2, "big") + body


def _partial_write(data: bytes) -> bytes:
    """partialLengthWriter.Write before 2019: power-of-two chunks from 2^14 down, any size, first one included."""
    out = bytearray()
    while data:
        for power in range(14, -1, -1):
            size = 1 << power
            if len(data) >= size:
                out.append(224 + power)
                out += data[:size]
                data = data[size:]
                break
    return bytes(out)


@dataclass(frozen=True)
class LegacyKey:
    """An RSA release key whose OpenPGP certificate is built here (see above)."""

    private: rsa.RSAPrivateKey
    created: int
    user_id: str
    self_sig_hash: str
    secret_file: Path | None = None
    public_file: Path | None = None

    @property
    def key_body(self) -> bytes:
        nums = self.private.public_key().public_numbers()
        return b"\x04" + self.created.to_bytes(4, "big") + b"\x01" + _mpi(nums.n) + _mpi(nums.e)

    @property
    def fingerprint(self) -> str:
        body = self.key_body
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()

    @property
    def key_id(self) -> bytes:
        return bytes.fromhex(self.fingerprint[-16:])

    def _sign_digest(self, digest: bytes, hash_name: str) -> bytes:
        return self.private.sign(digest, padding.PKCS1v15(), Prehashed(_hash(hash_name)))

    def _signature_packet(
        self, sig_type: int, hash_name: str, hashed_sub: bytes, unhashed_sub: bytes, signed: bytes
    ) -> bytes:
        head = bytes([4, sig_type, 1, _HASH_IDS[hash_name]]) + len(hashed_sub).to_bytes(2, "big") + hashed_sub
        trailer = b"\x04\xff" + len(head).to_bytes(4, "big")
        h = hashlib.new(hash_name.lower())
        h.update(signed + head + trailer)
        digest = h.digest()
        value = int.from_bytes(self._sign_digest(digest, hash_name), "big")
        body = head + len(unhashed_sub).to_bytes(2, "big") + unhashed_sub + digest[:2] + _mpi(value)
        return body

    def certificate(self) -> bytes:
        """The binary certificate: public key, user ID, positive self-certification (``self_sig_hash``)."""
        key = self.key_body
        uid = self.user_id.encode()
        hashed = (
            _sub(2, self.created.to_bytes(4, "big"))
            + _sub(27, b"\x03")  # certify + sign
            + _sub(11, bytes([9, 8, 7, 3, 2]))  # preferred symmetric
            + _sub(21, bytes([2, 8, 3]))  # preferred hashes, SHA-1 first as in 2009
            + _sub(22, bytes([2, 3, 1]))
            + _sub(30, b"\x01")
        )
        unhashed = _sub(16, self.key_id)
        signed = b"\x99" + len(key).to_bytes(2, "big") + key + b"\xb4" + len(uid).to_bytes(4, "big") + uid
        sig = self._signature_packet(0x13, self.self_sig_hash, hashed, unhashed, signed)
        return _old_header(6, key) + _old_header(13, uid) + _old_header(2, sig)

    @property
    def public_armored(self) -> str:
        """The armored certificate with the text header cluster-update-keys' file carries."""
        bits = self.private.key_size
        fpr = self.fingerprint.upper()
        groups = " ".join(fpr[i : i + 4] for i in range(0, 40, 4))
        grouped = groups[:24] + " " + groups[24:]
        when = time.strftime("%Y-%m-%d", time.gmtime(self.created))
        header = f"pub   {bits}R/{fpr[-8:]} {when}\n      Key fingerprint = {grouped}\nuid                  {self.user_id}\n\n"
        return header + str(ps.armor(self.certificate(), ps.ArmorKind.PublicKey))

    def sign_go(self, payload: bytes, *, hash_name: str = "SHA256", created: int | None = None) -> bytes:
        """A signed message exactly as pre-2019 Go openpgp.Sign wrote it (see the block comment above)."""
        when = int(time.time()) if created is None else created
        one_pass = bytes([3, 0x00, _HASH_IDS[hash_name], 1]) + self.key_id + b"\x01"
        literal = (
            bytes([0xC0 | 11])
            + _partial_write(b"b\x00")
            + _partial_write(when.to_bytes(4, "big"))
            + _partial_write(payload)
            + b"\x00"
        )
        hashed = _sub(2, when.to_bytes(4, "big")) + _sub(16, self.key_id)
        sig = self._signature_packet(0x00, hash_name, hashed, b"", payload)
        return _new_header(4, one_pass) + literal + _new_header(2, sig)


def _sub(kind: int, value: bytes) -> bytes:
    body = bytes([kind]) + value
    return bytes([len(body)]) + body  # every subpacket here is shorter than 192 bytes


def generate_legacy_key(
    directory: str | Path | None = None,
    *,
    user_id: str = SIGNER_USER_ID,
    bits: int = 4096,
    self_sig_hash: str = "SHA1",
    name: str = "release-signer",
) -> LegacyKey:
    """A release key as cluster-update-keys shipped Red Hat's until late 2024 (SHA-1 self-signature). With a
    directory, write ``<name>.pem`` (PKCS#8 secret key, 0600) and ``<name>.pub.asc``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    key = LegacyKey(private, int(time.time()) - 86400, user_id, self_sig_hash)
    if directory is None:
        return key
    d = Path(directory)
    secret, public = d / f"{name}.pem", d / f"{name}.pub.asc"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    meta = json.dumps({"created": key.created, "user_id": user_id, "self_sig_hash": self_sig_hash})
    atomic_write_bytes(secret, pem, mode=0o600)
    atomic_write_text(d / f"{name}.meta.json", meta + "\n", mode=0o644)
    atomic_write_text(public, key.public_armored, mode=0o644)
    return LegacyKey(private, key.created, user_id, self_sig_hash, secret, public)


def load_legacy_key(directory: str | Path, *, name: str = "release-signer") -> LegacyKey:
    d = Path(directory)
    private = serialization.load_pem_private_key((d / f"{name}.pem").read_bytes(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    meta = json.loads((d / f"{name}.meta.json").read_text())
    return LegacyKey(
        private,
        int(meta["created"]),
        str(meta["user_id"]),
        str(meta["self_sig_hash"]),
        d / f"{name}.pem",
        d / f"{name}.pub.asc",
    )
