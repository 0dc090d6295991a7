"""Certificate authorities and server certificates for the lab's TLS endpoints (registries, API server).

Everything is generated locally with ``cryptography``: a CA per endpoint family, server certificates with a
subjectAltName for the loopback names, and two deliberately broken variants the error-path tests need:
a certificate without any SAN (modern TLS clients refuse it) and an already expired one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.fsutil import atomic_write_bytes

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class CertPair:
    """A PEM certificate and its private key, as files."""

    cert: Path
    key: Path

    def load_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.key} is not an EC private key")
        return key

    def load_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def __iter__(self) -> Iterator[Path]:  # allows ``cert, key = pair``
        yield self.cert
        yield self.key


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: fast to generate (milliseconds) and accepted by Go (docker-registry, skopeo), OpenSSL and Python.
    return ec.generate_private_key(ec.SECP256R1())


def _write(dir_: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertPair:
    dir_.mkdir(parents=True, exist_ok=True)
    crt_path = dir_ / f"{name}.crt"
    key_path = dir_ / f"{name}.key"
    atomic_write_bytes(crt_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    atomic_write_bytes(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )
    return CertPair(crt_path, key_path)


def make_ca(dir: str | Path, name: str, *, common_name: str | None = None, days: int = 3650) -> CertPair:
    """Create a self-signed CA ``<dir>/<name>.crt`` + ``<dir>/<name>.key`` (key mode 0600)."""
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocp-airgap sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or f"ocp-airgap sandbox {name} CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(Path(dir), name, cert, key)


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_server_cert(
    ca: CertPair | tuple[Path, Path],
    dir: str | Path,
    name: str,
    hosts: Iterable[str] = LOOPBACK_HOSTS,
    *,
    san: bool = True,
    expired: bool = False,
    days: int = 825,
) -> CertPair:
    """Issue a server certificate signed by ``ca`` for ``hosts``.

    ``san=False`` leaves out the subjectAltName extension (the host is then only in the CN, which Go and
    Python reject: "certificate relies on legacy Common Name field"). ``expired=True`` makes a certificate
    whose validity ended yesterday."""
    ca_pair = ca if isinstance(ca, CertPair) else CertPair(Path(ca[0]), Path(ca[1]))
    ca_cert = ca_pair.load_cert()
    ca_key = ca_pair.load_key()
    hosts = list(hosts)
    key = _new_key()
    now = _now()
    if expired:
        not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
    else:
        not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if san and hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _write(Path(dir), name, cert, key)


def cert_dir_for(ca_file: str | Path, dir: str | Path) -> Path:
    """containers/image tools (skopeo ``--cert-dir``) want a folder holding the CA as ``*.crt``."""
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(d / "ca.crt", Path(ca_file).read_bytes(), mode=0o644)
    return d
