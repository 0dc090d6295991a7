"""OpenPGP as the cluster-version-operator reads it: keyrings and signed messages accepted exactly when Go's
``golang.org/x/crypto/openpgp`` (the library the CVO verifies release signatures with, through library-go
``pkg/verify``) accepts them.

Why not a general OpenPGP library: the CVO's library has no hash policy (it accepts SHA-1 and MD5 signatures and
key self-signatures, which modern libraries refuse), reads any partial body length (Go's own writer used to
start literal data with a chunk under 512 bytes, which strict parsers refuse), and refuses things others accept
(EdDSA keys and signatures, unknown critical subpackets, armored signatures, v3 keys). Only the *framing* is
parsed here (RFC 4880 packets, following the Go code function by function; the Go names are given in the
docstrings); every signature is checked by the ``cryptography`` package (RSA PKCS#1 v1.5, DSA, ECDSA).

Errors are :class:`PGPError` with a ``kind`` that mirrors Go's error types, so callers can say why a signature or
key was refused: ``structural`` (``errors.StructuralError``), ``unsupported`` (``errors.UnsupportedError``),
``signature`` (``errors.SignatureError``: the maths failed), ``eof`` (``io.ErrUnexpectedEOF``: truncated),
``invalid`` (``errors.InvalidArgumentError``), plus ``unknown-signer``, ``not-signed`` and ``expired`` for the
checks library-go ``verifySignatureWithKeyring`` adds.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import hashlib
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

MAX_DECOMPRESSED = 1 << 20
"""A release signature's payload is a few hundred bytes; a compressed packet that inflates beyond this is refused
(Go has no limit; the CVO reads at most 50 KiB of compressed signature)."""
MAX_LAYERS = 32
"""packet.Reader maxReaders: compressed packets nested deeper are refused."""

# packet tags (packet/packet.go)
TAG_SIGNATURE = 2
TAG_ONE_PASS = 4
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_COMPRESSED = 8
TAG_LITERAL = 11
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17
_KNOWN_TAGS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 17, 18}
"""packet.Read knows these; any other tag is skipped by packet.Reader.Next (UnknownPacketTypeError)."""

# public key algorithms
RSA, RSA_ENCRYPT_ONLY, RSA_SIGN_ONLY = 1, 2, 3
ELGAMAL, DSA, ECDH, ECDSA, EDDSA = 16, 17, 18, 19, 22
ALGO_NAMES = {
    1: "RSA",
    2: "RSA (encrypt only)",
    3: "RSA (sign only)",
    16: "ElGamal",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    22: "EdDSA",
    25: "X25519",
    27: "Ed25519",
    28: "Ed448",
}

# signature types
SIG_BINARY, SIG_TEXT = 0x00, 0x01
SIG_GENERIC_CERT, SIG_POSITIVE_CERT = 0x10, 0x13
SIG_SUBKEY_BINDING, SIG_PRIMARY_KEY_BINDING = 0x18, 0x19
SIG_DIRECT, SIG_KEY_REVOCATION, SIG_SUBKEY_REVOCATION = 0x1F, 0x20, 0x28

KEY_FLAG_CERTIFY, KEY_FLAG_SIGN = 0x01, 0x02

# s2k.hashToHashIdMapping: the hash ids Go knows. RIPEMD-160 is known but not *available* in the CVO binary
# (golang.org/x/crypto/ripemd160 is not linked in), so crypto.Hash.Available() is false for it.
HASHES: dict[int, str] = {
    1: "MD5",
    2: "SHA1",
    3: "RIPEMD160",
    8: "SHA256",
    9: "SHA384",
    10: "SHA512",
    11: "SHA224",
}
_AVAILABLE = {"MD5", "SHA1", "SHA256", "SHA384", "SHA512", "SHA224"}
WEAK_HASHES = {"MD5", "SHA1"}
_CRYPTO_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "MD5": hashes.MD5,
    "SHA1": hashes.SHA1,
    "SHA224": hashes.SHA224,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
_CURVES: dict[bytes, Callable[[], ec.EllipticCurve]] = {
    bytes.fromhex("2a8648ce3d030107"): ec.SECP256R1,
    bytes.fromhex("2b81040022"): ec.SECP384R1,
    bytes.fromhex("2b81040023"): ec.SECP521R1,
}


class PGPError(Exception):
    """One refusal, with the kind of Go error it corresponds to (see the module docstring)."""

    def __init__(self, kind: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.detail = detail


def _structural(msg: str) -> PGPError:
    return PGPError("structural", msg)


def _unsupported(msg: str) -> PGPError:
    return PGPError("unsupported", msg)


def _eof(what: str = "") -> PGPError:
    return PGPError("eof", "unexpected end of data" + (f" in {what}" if what else ""))


# ----------------------------------------------------------------------------------------------------------
# framing (packet/packet.go readHeader, readLength, partialLengthReader; packet/reader.go Reader)
# ----------------------------------------------------------------------------------------------------------


class _Buf:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str = "") -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _eof(what)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self, what: str = "") -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def _read_new_length(buf: _Buf) -> tuple[int, bool]:
    """readLength: (length, is_partial)."""
    b = buf.byte("packet length")
    if b < 192:
        return b, False
    if b < 224:
        return ((b - 192) << 8) + buf.byte("packet length") + 192, False
    if b < 255:
        return 1 << (b & 0x1F), True
    return int.from_bytes(buf.take(4, "packet length"), "big"), False


def _read_packet_raw(buf: _Buf) -> tuple[int, bytes] | None:
    """readHeader + the whole body (partial body lengths joined, of any size: Go never asks for the first chunk to
    be 512 bytes or more). None at a clean end of input."""
    if buf.remaining() == 0:
        return None
    first = buf.byte()
    if first & 0x80 == 0:
        raise _structural("tag byte does not have MSB set")
    if first & 0x40 == 0:  # old format
        tag = (first & 0x3F) >> 2
        length_type = first & 3
        if length_type == 3:
            return tag, buf.rest()
        n = 1 << length_type
        length = int.from_bytes(buf.take(n, "packet length"), "big")
        return tag, buf.take(length, "packet body")
    tag = first & 0x3F
    length, partial = _read_new_length(buf)
    if not partial:
        return tag, buf.take(length, "packet body")
    chunks = [buf.take(length, "partial body")]
    while partial:
        length, partial = _read_new_length(buf)
        chunks.append(buf.take(length, "partial body"))
    return tag, b"".join(chunks)


def _mpi(buf: _Buf, what: str) -> bytes:
    """readMPI: a 2-byte bit length, then (bits+7)/8 bytes (taken as Go takes them, without normalising)."""
    bits = int.from_bytes(buf.take(2, what), "big")
    return buf.take((bits + 7) // 8, what)


def _digest(name: str, parts: Iterable[bytes]) -> bytes:
    h = hashlib.new(name.lower())
    for p in parts:
        h.update(p)
    return h.digest()


# ----------------------------------------------------------------------------------------------------------
# packets
# ----------------------------------------------------------------------------------------------------------


@dataclass
class PublicKey:
    """packet.PublicKey (v4 only: a v3 key makes ReadEntity fail with 'first packet was not a public/private key')."""

    algo: int
    created: int
    body: bytes
    """the serialised key material, hashed into fingerprints and key signatures"""
    is_subkey: bool
    crypto_key: Any = None
    """a ``cryptography`` public key for signing algorithms, None for ElGamal/ECDH"""
    fingerprint: str = ""
    key_id: str = ""
    bits: int = 0

    @property
    def algo_name(self) -> str:
        return ALGO_NAMES.get(self.algo, f"algorithm {self.algo}")

    def can_sign(self) -> bool:
        return self.algo not in (RSA_ENCRYPT_ONLY, ELGAMAL)

    def prefix_and_body(self) -> bytes:
        """SerializeSignaturePrefix + serializeWithoutHeaders."""
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body


def _parse_public_key(body: bytes, is_subkey: bool) -> PublicKey:
    """PublicKey.parse; the public part of a secret key packet is read the same way."""
    buf = _Buf(body)
    version = buf.byte("public key")
    if version != 4:
        raise PGPError("v3key", f"public key version {version}")
    created = int.from_bytes(buf.take(4, "public key"), "big")
    algo = buf.byte("public key")
    key: Any = None
    bits = 0
    if algo in (RSA, RSA_ENCRYPT_ONLY, RSA_SIGN_ONLY):
        n = _mpi(buf, "RSA key")
        e = _mpi(buf, "RSA key")
        if len(e) > 3:
            raise _unsupported("large public exponent")
        n_int, e_int = int.from_bytes(n, "big"), int.from_bytes(e, "big")
        bits = n_int.bit_length()
        if algo != RSA_ENCRYPT_ONLY:
            key = _rsa_key(n_int, e_int)
    elif algo == DSA:
        p, q, g, y = (int.from_bytes(_mpi(buf, "DSA key"), "big") for _ in range(4))
        bits = p.bit_length()
        key = _dsa_key(p, q, g, y)
    elif algo == ELGAMAL:
        for _ in range(3):
            _mpi(buf, "ElGamal key")
    elif algo in (ECDSA, ECDH):
        oid_len = buf.byte("EC key")
        oid = buf.take(oid_len, "EC key OID")
        point = _mpi(buf, "EC key")
        if algo == ECDH:
            kdf_len = buf.byte("ECDH KDF")
            if kdf_len < 3:
                raise _unsupported(f"Unsupported ECDH KDF length: {kdf_len}")
            kdf = buf.take(kdf_len, "ECDH KDF")
            if kdf[0] != 1:
                raise _unsupported(f"Unsupported KDF reserved field: {kdf[0]}")
        curve = _CURVES.get(oid)
        if curve is None:
            raise _unsupported(f"unsupported oid: {oid.hex()}")
        try:
            point_key = ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
        except ValueError:
            raise _unsupported("failed to parse EC point") from None
        bits = point_key.curve.key_size
        key = point_key if algo == ECDSA else None
    else:
        raise _unsupported(f"public key type: {algo} ({ALGO_NAMES.get(algo, 'unknown')})")
    used = body[: buf.pos]
    fpr = hashlib.sha1(b"\x99" + len(used).to_bytes(2, "big") + used).hexdigest()
    return PublicKey(
        algo=algo,
        created=created,
        body=used,
        is_subkey=is_subkey,
        crypto_key=key,
        fingerprint=fpr,
        key_id=fpr[-16:],
        bits=bits,
    )


def _rsa_key(n: int, e: int) -> Any:
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None  # VerifySignature will fail, as Go's rsa.VerifyPKCS1v15 does on such a key


def _dsa_key(p: int, q: int, g: int, y: int) -> Any:
    try:
        return dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


@dataclass
class Signature:
    """packet.Signature (v4) and packet.SignatureV3 in one: what verification needs."""

    version: int
    sig_type: int
    algo: int
    hash_name: str
    hash_suffix: bytes
    hash_tag: bytes
    mpis: tuple[bytes, ...]
    created: int
    issuer_key_id: str | None = None
    issuer_fingerprint: str | None = None
    sig_lifetime: int | None = None
    key_lifetime: int | None = None
    is_primary_id: bool | None = None
    flags_valid: bool = False
    flags: int = 0
    revocation_reason: int | None = None
    embedded: Signature | None = None


def _parse_signature(body: bytes) -> Signature:
    buf = _Buf(body)
    version = buf.byte("signature")
    if version in (2, 3):
        return _parse_signature_v3(buf, version)
    if version != 4:
        raise _unsupported(f"signature packet version {version}")
    return _parse_signature_v4(buf)


def _hash_name(hash_id: int) -> str:
    name = HASHES.get(hash_id)
    if name is None:
        raise _unsupported(f"hash function {hash_id}")
    return name


def _parse_signature_v4(buf: _Buf) -> Signature:
    head = buf.take(5, "signature")
    sig_type, algo, hash_id = head[0], head[1], head[2]
    if algo not in (RSA, RSA_SIGN_ONLY, DSA, ECDSA):
        raise _unsupported(f"public key algorithm {algo} ({ALGO_NAMES.get(algo, 'unknown')})")
    hash_name = _hash_name(hash_id)
    hashed_len = int.from_bytes(head[3:5], "big")
    hashed = buf.take(hashed_len, "hashed subpackets")
    l = 6 + hashed_len  # noqa: E741 - Go's name
    suffix = b"\x04" + head + hashed + b"\x04\xff" + l.to_bytes(4, "big")
    sig = Signature(
        version=4,
        sig_type=sig_type,
        algo=algo,
        hash_name=hash_name,
        hash_suffix=suffix,
        hash_tag=b"",
        mpis=(),
        created=-1,  # Go's zero time.Time; a creation time of 0 (1970) is a valid one
    )
    _parse_subpackets(sig, hashed, hashed=True)
    unhashed_len = int.from_bytes(buf.take(2, "signature"), "big")
    _parse_subpackets(sig, buf.take(unhashed_len, "unhashed subpackets"), hashed=False)
    sig.hash_tag = buf.take(2, "signature")
    count = 1 if algo in (RSA, RSA_SIGN_ONLY) else 2
    sig.mpis = tuple(_mpi(buf, "signature value") for _ in range(count))
    return sig


def _parse_signature_v3(buf: _Buf, version: int) -> Signature:
    if buf.byte("signature") != 5:
        raise _unsupported("invalid hashed material length")
    hashed = buf.take(5, "signature")
    sig_type, created = hashed[0], int.from_bytes(hashed[1:5], "big")
    issuer = buf.take(8, "signature").hex()
    algo, hash_id = buf.take(2, "signature")
    if algo not in (RSA, RSA_SIGN_ONLY, DSA):
        raise _unsupported(f"public key algorithm {algo} ({ALGO_NAMES.get(algo, 'unknown')})")
    hash_name = _hash_name(hash_id)
    tag = buf.take(2, "signature")
    count = 1 if algo in (RSA, RSA_SIGN_ONLY) else 2
    mpis = tuple(_mpi(buf, "signature value") for _ in range(count))
    return Signature(
        version=version,
        sig_type=sig_type,
        algo=algo,
        hash_name=hash_name,
        hash_suffix=hashed,  # VerifySignatureV3 hashes sig type + creation time
        hash_tag=tag,
        mpis=mpis,
        created=created,
        issuer_key_id=issuer,
    )


_KNOWN_SUBPACKETS = {2, 3, 9, 11, 16, 21, 22, 25, 27, 29, 30, 32}
"""parseSignatureSubpacket handles these; any other one marked critical makes the signature unsupported."""


def _parse_subpackets(sig: Signature, data: bytes, *, hashed: bool) -> None:
    """parseSignatureSubpackets / parseSignatureSubpacket."""
    buf = _Buf(data)
    while buf.remaining():
        b = buf.byte()
        try:
            if b < 192:
                length = b
            elif b < 255:
                length = ((b - 192) << 8) + buf.byte() + 192
            else:
                length = int.from_bytes(buf.take(4), "big")
            sub = buf.take(length)
        except PGPError:
            raise _structural("signature subpacket truncated") from None
        if not sub:
            raise _structural("zero length signature subpacket")
        kind, critical, val = sub[0] & 0x7F, bool(sub[0] & 0x80), sub[1:]
        if kind == 2:
            if not hashed:
                raise _structural("signature creation time in non-hashed area")
            if len(val) != 4:
                raise _structural("signature creation time not four bytes")
            sig.created = int.from_bytes(val, "big")
        elif kind in (3, 9):
            if not hashed:
                continue
            if len(val) != 4:
                raise _structural("expiration subpacket with bad length")
            if kind == 3:
                sig.sig_lifetime = int.from_bytes(val, "big")
            else:
                sig.key_lifetime = int.from_bytes(val, "big")
        elif kind == 16:
            if len(val) != 8:
                raise _structural("issuer subpacket with bad length")
            sig.issuer_key_id = val.hex()
        elif kind == 25:
            if not hashed:
                continue
            if len(val) != 1:
                raise _structural("primary user id subpacket with bad length")
            sig.is_primary_id = val[0] > 0
        elif kind == 27:
            if not hashed:
                continue
            if not val:
                raise _structural("empty key flags subpacket")
            sig.flags_valid = True
            sig.flags = val[0]
        elif kind == 29:
            if not hashed:
                continue
            if not val:
                raise _structural("empty revocation reason subpacket")
            sig.revocation_reason = val[0]
        elif kind == 32:
            if sig.embedded is not None:
                raise _structural("Cannot have multiple embedded signatures")
            embedded = _parse_signature(val)
            if embedded.sig_type != SIG_PRIMARY_KEY_BINDING:
                raise _structural(f"cross-signature has unexpected type {embedded.sig_type}")
            sig.embedded = embedded
        elif kind == 33 and len(val) == 21 and not critical:
            sig.issuer_fingerprint = val[1:].hex()  # not read by Go; kept for messages only
        elif kind not in _KNOWN_SUBPACKETS and critical:
            raise _unsupported(f"unknown critical signature subpacket type {kind}")
    if sig.created < 0 and sig.version == 4:
        raise _structural("no creation time in signature")


@dataclass
class OnePass:
    sig_type: int
    hash_name: str
    algo: int
    key_id: str
    is_last: bool


def _parse_one_pass(body: bytes) -> OnePass:
    buf = _Buf(body)
    head = buf.take(13, "one-pass signature")
    if head[0] != 3:
        raise _unsupported(f"one-pass-signature packet version {head[0]}")
    return OnePass(
        sig_type=head[1],
        hash_name=_hash_name(head[2]),
        algo=head[3],
        key_id=head[4:12].hex(),
        is_last=head[12] != 0,
    )


def _decompress(body: bytes) -> bytes:
    """Compressed.parse: 1 ZIP (raw deflate), 2 ZLIB, 3 BZip2; a truncated stream is an unexpected EOF."""
    if not body:
        raise _eof("compressed packet")
    algo, data = body[0], body[1:]
    try:
        if algo in (1, 2):
            d = zlib.decompressobj(-15 if algo == 1 else 15)
            out = d.decompress(data, MAX_DECOMPRESSED + 1)
            if len(out) > MAX_DECOMPRESSED:
                raise _unsupported(f"compressed data inflates beyond {MAX_DECOMPRESSED} bytes")
            if not d.eof:
                raise _eof("compressed data")
            return out
        if algo == 3:
            bd = bz2.BZ2Decompressor()
            out = bd.decompress(data, MAX_DECOMPRESSED + 1)
            if len(out) > MAX_DECOMPRESSED:
                raise _unsupported(f"compressed data inflates beyond {MAX_DECOMPRESSED} bytes")
            if not bd.eof:
                raise _eof("compressed data")
            return out
    except (zlib.error, OSError, EOFError) as exc:
        raise _structural(f"compressed data is corrupt ({exc})") from None
    raise _unsupported(f"unknown compression algorithm: {algo}")


class _Reader:
    """packet.Reader: a stack of byte sources (compressed packets push their contents), an unread queue, and
    packets of unknown type skipped."""

    def __init__(self, data: bytes) -> None:
        self.readers = [_Buf(data)]
        self.queue: list[Any] = []

    def push(self, data: bytes) -> None:
        if len(self.readers) >= MAX_LAYERS:
            raise _structural("too many layers of packets")
        self.readers.append(_Buf(data))

    def unread(self, packet: Any) -> None:
        self.queue.append(packet)

    def next(self) -> Any:
        """The next parsed packet, or None at the end of everything."""
        if self.queue:
            return self.queue.pop()
        while self.readers:
            raw = _read_packet_raw(self.readers[-1])
            if raw is None:
                self.readers.pop()
                continue
            tag, body = raw
            if tag not in _KNOWN_TAGS:
                continue
            return _parse_packet(tag, body)
        return None


@dataclass
class UserId:
    id: bytes


@dataclass
class Literal:
    body: bytes


@dataclass
class Compressed:
    body: bytes


@dataclass
class Other:
    tag: int


def _parse_packet(tag: int, body: bytes) -> Any:
    if tag == TAG_SIGNATURE:
        return _parse_signature(body)
    if tag == TAG_ONE_PASS:
        return _parse_one_pass(body)
    if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
        key = _parse_public_key(body, tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY))
        if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            raise PGPError("secret", "a secret key packet")
        return key
    if tag == TAG_COMPRESSED:
        return Compressed(_decompress(body))
    if tag == TAG_LITERAL:
        buf = _Buf(body)
        buf.take(1, "literal data")
        name_len = buf.byte("literal data")
        buf.take(name_len + 4, "literal data")
        return Literal(buf.rest())
    if tag == TAG_USER_ID:
        return UserId(body)
    return Other(tag)


# ----------------------------------------------------------------------------------------------------------
# signature maths (PublicKey.VerifySignature / VerifySignatureV3), by the cryptography package
# ----------------------------------------------------------------------------------------------------------


def _verify(pk: PublicKey, sig: Signature, signed: Iterable[bytes], hash_name: str | None = None) -> None:
    """Hash ``signed`` then the signature's suffix, compare the 2-byte tag, check algorithms, verify."""
    name = hash_name or sig.hash_name
    if name not in _AVAILABLE:
        raise _unsupported(f"hash not available: {name}")
    if not pk.can_sign():
        raise PGPError("invalid", "public key cannot generate signatures")
    digest = _digest(name, [*signed, sig.hash_suffix])
    if digest[:2] != sig.hash_tag:
        raise PGPError("signature", "hash tag doesn't match")
    if pk.algo != sig.algo:
        raise PGPError("invalid", "public key and signature use different algorithms")
    if name != sig.hash_name:
        # Go hashes with the one-pass packet's algorithm and verifies as the signature's; for RSA that can never
        # verify, and no signer writes such a message.
        raise PGPError("signature", "the signature's hash algorithm differs from the one announced")
    algo = _CRYPTO_HASH[sig.hash_name]()
    key = pk.crypto_key
    try:
        if pk.algo in (RSA, RSA_SIGN_ONLY):
            if key is None:
                raise InvalidSignature
            size = (key.key_size + 7) // 8
            value = sig.mpis[0]
            if len(value) < size:
                value = b"\x00" * (size - len(value)) + value  # padToKeySize
            key.verify(value, digest, padding.PKCS1v15(), Prehashed(algo))
        elif pk.algo == DSA:
            if key is None:
                raise InvalidSignature
            r, s = (int.from_bytes(m, "big") for m in sig.mpis)
            key.verify(encode_dss_signature(r, s), digest, Prehashed(algo))
        elif pk.algo == ECDSA:
            r, s = (int.from_bytes(m, "big") for m in sig.mpis)
            key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(algo)))
        else:
            raise PGPError("signature", "Unsupported public key algorithm used in signature")
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        raise PGPError("signature", f"{pk.algo_name} verification failure") from None


# ----------------------------------------------------------------------------------------------------------
# keyrings (keys.go ReadKeyRing, ReadEntity, addUserID, addSubkey, KeysByIdUsage)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Entity:
    primary: PublicKey
    identities: dict[str, Signature] = field(default_factory=dict)
    """user ID → its (last valid) self-signature"""
    subkeys: list[tuple[PublicKey, Signature]] = field(default_factory=list)
    revoked: bool = False
    weak: list[str] = field(default_factory=list)
    """weak algorithms in the signatures that make this key usable (self-signatures, bindings)"""

    @property
    def fingerprint(self) -> str:
        return self.primary.fingerprint

    @property
    def user_ids(self) -> list[str]:
        return list(self.identities)

    def self_signature(self) -> Signature | None:
        """KeysById: the first identity's self-signature, or the primary one's."""
        chosen: Signature | None = None
        for sig in self.identities.values():
            if chosen is None:
                chosen = sig
            elif sig.is_primary_id:
                return sig
        return chosen

    def key_ids(self) -> set[str]:
        out = {self.primary.fingerprint, self.primary.key_id}
        for sub, _ in self.subkeys:
            out |= {sub.fingerprint, sub.key_id}
        return out

    def expires(self) -> int | None:
        sig = self.self_signature()
        if sig is None or not sig.key_lifetime:
            return None
        return self.primary.created + sig.key_lifetime


@dataclass
class Skipped:
    """A certificate of the keyring that Go's ReadKeyRing would skip, and why."""

    fingerprint: str
    reason: str


@dataclass
class Keyring:
    entities: list[Entity]
    skipped: list[Skipped] = field(default_factory=list)


def _note_weak(entity: Entity, sig: Signature, what: str) -> None:
    if sig.hash_name in WEAK_HASHES:
        note = f"{sig.hash_name} {what}"
        if note not in entity.weak:
            entity.weak.append(note)


def _read_entity(r: _Reader) -> Entity | None:
    p = r.next()
    if p is None:
        return None
    if not isinstance(p, PublicKey) or p.is_subkey:
        raise _structural("first packet was not a public/private key")
    if not p.can_sign():
        raise _structural("primary key cannot be used for signatures")
    e = Entity(primary=p)
    revocations: list[Signature] = []
    while True:
        pkt = r.next()
        if pkt is None:
            break
        if isinstance(pkt, UserId):
            _add_user_id(e, r, pkt)
        elif isinstance(pkt, Signature):
            if pkt.version == 4 and pkt.sig_type == SIG_KEY_REVOCATION:  # a SignatureV3 is ignored here
                revocations.append(pkt)
        elif isinstance(pkt, PublicKey):
            if not pkt.is_subkey:
                r.unread(pkt)
                break
            _add_subkey(e, r, pkt)
    if not e.identities:
        raise _structural("entity without any identities")
    for rev in revocations:
        try:
            _verify(e.primary, rev, [e.primary.prefix_and_body()])
        except PGPError:
            raise _structural("revocation signature signed by alternate key") from None
        e.revoked = True
    return e


def _add_user_id(e: Entity, r: _Reader, uid: UserId) -> None:
    while True:
        pkt = r.next()
        if pkt is None:
            return
        if not isinstance(pkt, Signature) or pkt.version != 4:  # Go: a SignatureV3 is not a *packet.Signature
            r.unread(pkt)
            return
        if pkt.sig_type in (SIG_POSITIVE_CERT, SIG_GENERIC_CERT) and pkt.issuer_key_id == e.primary.key_id:
            signed = [e.primary.prefix_and_body(), b"\xb4", len(uid.id).to_bytes(4, "big"), uid.id]
            try:
                _verify(e.primary, pkt, signed)
            except PGPError as exc:
                raise _structural(f"user ID self-signature invalid: {exc.message}") from None
            _note_weak(e, pkt, "self-signature")
            e.identities[uid.id.decode("utf-8", "replace")] = pkt


def _add_subkey(e: Entity, r: _Reader, sub: PublicKey) -> None:
    binding: Signature | None = None
    while True:
        try:
            pkt = r.next()
        except PGPError as exc:
            if exc.kind == "eof":
                raise
            raise _structural(f"subkey signature invalid: {exc.message}") from None
        if pkt is None:
            break
        if not isinstance(pkt, Signature) or pkt.version != 4:
            r.unread(pkt)
            break
        if pkt.sig_type not in (SIG_SUBKEY_BINDING, SIG_SUBKEY_REVOCATION):
            raise _structural("subkey signature with wrong type")
        signed = [e.primary.prefix_and_body(), sub.prefix_and_body()]
        try:
            _verify(e.primary, pkt, signed)
            if pkt.flags_valid and pkt.flags & KEY_FLAG_SIGN:
                if pkt.embedded is None:
                    raise _structural("signing subkey is missing cross-signature")
                try:
                    _verify(sub, pkt.embedded, signed)
                except PGPError as exc:
                    raise _structural(f"error while verifying cross-signature: {exc.message}") from None
        except PGPError as exc:
            raise _structural(f"subkey signature invalid: {exc.message}") from None
        if (
            pkt.sig_type == SIG_SUBKEY_REVOCATION
            or binding is None
            or (binding.sig_type != SIG_SUBKEY_REVOCATION and pkt.created > binding.created)
        ):
            binding = pkt
        _note_weak(e, pkt, "subkey binding")
    if binding is None:
        raise _structural("subkey packet not followed by signature")
    e.subkeys.append((sub, binding))


def read_keyring(data: bytes) -> Keyring:
    """ReadKeyRing over binary packets: certificates Go cannot read (unsupported algorithm, broken
    self-signature...) are skipped and listed; when none is left, the last reason is raised."""
    r = _Reader(data)
    out = Keyring(entities=[])
    last: PGPError | None = None
    while True:
        start = _peek_fingerprint(r)
        try:
            entity = _read_entity(r)
        except PGPError as exc:
            if exc.kind not in ("unsupported", "structural", "v3key", "secret"):
                raise
            if exc.kind == "v3key":
                exc = _structural("first packet was not a public/private key (a version 3 key)")
            elif exc.kind == "secret":
                exc = _structural("a secret key: give the public key (gpg --export)")
            last = exc
            out.skipped.append(Skipped(start, exc.message))
            if not _skip_to_next_primary(r):
                break
            continue
        if entity is None:
            break
        out.entities.append(entity)
    if not out.entities:
        if last is not None:
            raise last
        raise PGPError("structural", "no key in the keyring")
    return out


def _peek_fingerprint(r: _Reader) -> str:
    """The fingerprint of the next certificate, for messages (best effort, nothing consumed)."""
    if r.queue and isinstance(r.queue[-1], PublicKey):
        return str(r.queue[-1].fingerprint)
    if not r.readers:
        return ""
    buf = r.readers[-1]
    saved = buf.pos
    try:
        raw = _read_packet_raw(buf)
        if raw and raw[0] in (TAG_PUBLIC_KEY, TAG_SECRET_KEY) and len(raw[1]) > 6:
            body = raw[1]
            try:
                return _parse_public_key(body, False).fingerprint
            except PGPError:
                return f"a {ALGO_NAMES.get(body[5], 'unknown-algorithm')} key"
    except PGPError:
        pass
    finally:
        buf.pos = saved
    return ""


def _skip_to_next_primary(r: _Reader) -> bool:
    """readToNextPublicKey. False at the end of input."""
    while True:
        try:
            pkt = r.next()
        except PGPError as exc:
            if exc.kind in ("unsupported", "v3key", "secret"):
                continue
            raise
        if pkt is None:
            return False
        if isinstance(pkt, PublicKey) and not pkt.is_subkey:
            r.unread(pkt)
            return True


def keys_by_id_usage(ring: Keyring, key_id: str) -> list[tuple[Entity, PublicKey, Signature | None]]:
    """KeysById + KeysByIdUsage(id, KeyFlagSign): not revoked, and allowed to sign when the flags say."""
    out: list[tuple[Entity, PublicKey, Signature | None]] = []
    for e in ring.entities:
        candidates: list[tuple[PublicKey, Signature | None]] = []
        if e.primary.key_id == key_id:
            candidates.append((e.primary, e.self_signature()))
        for sub, binding in e.subkeys:
            if sub.key_id == key_id:
                candidates.append((sub, binding))
        for key, sig in candidates:
            if e.revoked:
                continue
            if sig is not None and sig.revocation_reason is not None:
                continue
            if sig is not None and sig.flags_valid and not sig.flags & KEY_FLAG_SIGN:
                continue
            out.append((e, key, sig))
    return out


# ----------------------------------------------------------------------------------------------------------
# armor (armor/armor.go Decode: the first block only)
# ----------------------------------------------------------------------------------------------------------


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(data: bytes) -> tuple[str, bytes] | None:
    """The first armored block: (type, body). None when there is no armor header at all."""
    lines = data.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not (line.startswith(b"-----BEGIN ") and line.endswith(b"-----") and len(line) > 16):
            continue
        kind = line[len(b"-----BEGIN ") : -5].decode("ascii", "replace")
        j = i
        ok = True
        while j < len(
            lines
        ):  # headers up to an empty line; a line without ': ' makes Go look for another block
            h = lines[j].strip()
            j += 1
            if not h:
                break
            if b": " not in h:
                ok = False
                break
        if not ok:
            i = j
            continue
        body_lines: list[bytes] = []
        crc: bytes | None = None
        ended = False
        while j < len(lines):
            h = lines[j].strip()
            j += 1
            if h.startswith(b"-----END "):
                ended = True
                break
            if len(h) == 5 and h.startswith(b"="):
                crc = h[1:]
                continue
            body_lines.append(h)
        if not ended:
            raise _eof("armor")
        try:
            body = base64.b64decode(b"".join(body_lines), validate=True)
        except (binascii.Error, ValueError):
            raise PGPError("armor", "armor body is not valid base64") from None
        if crc is not None:
            try:
                want = int.from_bytes(base64.b64decode(crc, validate=True), "big")
            except (binascii.Error, ValueError):
                raise PGPError("armor", "armor checksum is not valid base64") from None
            if want != _crc24(body):
                raise PGPError("armor", "armor checksum does not match (the block was altered or damaged)")
        return kind, body
    return None


def load_keyring(data: bytes) -> tuple[Keyring, int]:
    """library-go loadArmoredOrUnarmoredGPGKeyRing: the first armored PUBLIC/PRIVATE KEY BLOCK, else binary packets.
    Returns the keyring and the number of armored blocks in the data (the CVO reads the first one only)."""
    blocks = data.count(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") + data.count(
        b"-----BEGIN PGP PRIVATE KEY BLOCK-----"
    )
    armored_error: PGPError | None = None
    try:
        found = dearmor(data)
    except PGPError as exc:
        found, armored_error = None, exc
    if found is not None:
        kind, body = found
        if kind not in ("PGP PUBLIC KEY BLOCK", "PGP PRIVATE KEY BLOCK"):
            armored_error = PGPError("invalid", f"expected public or private key block, got: {kind}")
        else:
            return read_keyring(body), blocks
    try:
        return read_keyring(data), blocks
    except PGPError:
        if armored_error is not None:
            raise armored_error from None
        raise


# ----------------------------------------------------------------------------------------------------------
# signed messages (read.go ReadMessage/readSignedMessage + library-go verifySignatureWithKeyring)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Verified:
    content: bytes
    entity: Entity
    key: PublicKey
    signature: Signature
    weak: list[str]
    """weak algorithms involved: the data signature's hash, and the signer's self-signatures"""


def _canonical_text(data: bytes) -> bytes:
    """NewCanonicalTextHash: a bare LF becomes CRLF (a CR makes the next byte pass unchanged)."""
    out = bytearray()
    state = 0
    for c in data:
        if state == 0:
            if c == 0x0D:
                state = 1
            elif c == 0x0A:
                out += b"\r"
        else:
            state = 0
        out.append(c)
    return bytes(out)


def read_message(data: bytes, ring: Keyring, *, now: float | None = None) -> Verified:
    """Read and verify an OpenPGP signed message as the CVO does. Raises :class:`PGPError`."""
    r = _Reader(data)
    # ReadMessage: skip packets until compressed, literal or one-pass signature
    one_pass: OnePass | None = None
    signer: tuple[Entity, PublicKey, Signature | None] | None = None
    literal: Literal | None = None
    started = False
    while True:
        pkt = r.next()
        if pkt is None:
            raise _eof("message") if started else PGPError("eof", "no OpenPGP packet in the data")
        started = True
        if isinstance(pkt, Compressed):
            r.push(pkt.body)
        elif isinstance(pkt, OnePass):
            if not pkt.is_last:
                raise _unsupported("nested signatures")
            if pkt.hash_name not in _AVAILABLE:
                raise _unsupported(f"hash not available: {pkt.hash_name}")
            if pkt.sig_type not in (SIG_BINARY, SIG_TEXT):
                raise _unsupported(f"unsupported signature type: {pkt.sig_type}")
            one_pass = pkt
            keys = keys_by_id_usage(ring, pkt.key_id)
            signer = keys[0] if keys else None
        elif isinstance(pkt, Literal):
            literal = pkt
            break
    if one_pass is None:
        raise PGPError("not-signed", "not signed")
    if signer is None:
        raise PGPError("unknown-signer", "invalid signature", key_id=one_pass.key_id)
    entity, key, _self_sig = signer
    signed = _canonical_text(literal.body) if one_pass.sig_type == SIG_TEXT else literal.body
    sig = r.next()
    if sig is None:  # Go: the signature check ends in io.EOF
        raise _eof("message: no signature after the literal data")
    if not isinstance(sig, Signature):
        raise _structural("LiteralData not followed by Signature")
    _verify(key, sig, [signed], hash_name=one_pass.hash_name)
    if sig.version == 4 and sig.sig_lifetime is not None:
        expiry = sig.created + sig.sig_lifetime
        if (time.time() if now is None else now) > expiry:
            raise PGPError("expired", "signature expired", expiry=expiry)
    weak = []
    if sig.hash_name in WEAK_HASHES:
        weak.append(f"{sig.hash_name} data signature")
    weak.extend(entity.weak)
    return Verified(content=literal.body, entity=entity, key=key, signature=sig, weak=weak)


def signer_key_id(data: bytes) -> str | None:
    """The key ID a message's one-pass signature names (for messages about unknown signers), if readable."""
    try:
        r = _Reader(data)
        while True:
            pkt = r.next()
            if pkt is None or isinstance(pkt, Literal):
                return None
            if isinstance(pkt, Compressed):
                r.push(pkt.body)
            elif isinstance(pkt, OnePass):
                return pkt.key_id
    except PGPError:
        return None
