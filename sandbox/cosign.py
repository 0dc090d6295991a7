"""The lab's Sigstore signer: cosign-format signature images for the lab's releases, made with a lab ECDSA P-256
key, written into the release OCI layout and pushed with skopeo beside the release image.

Written from cosign itself, not from the engine:

- ``sigstore/cosign`` ``pkg/oci/remote`` ``SignatureTag``: the tag is ``<algo>-<hex>.sig`` in the repository of
  the signed image.
- ``sigstore/cosign`` ``pkg/oci/static`` ``NewSignature`` and ``pkg/oci/empty``: an OCI image manifest
  (config ``application/vnd.oci.image.config.v1+json``) whose layer of media type
  ``application/vnd.dev.cosign.simplesigning.v1+json`` is the payload, uncompressed, with the base64 signature in
  the layer annotation ``dev.cosignproject.cosign/signature``.
- ``sigstore/sigstore`` ``pkg/signature/payload`` ``SimpleContainerImage``: the payload
  ``{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},"type":"cosign container
  image signature"},"optional":null}``, signed as it is (ECDSA P-256 with SHA-256, ASN.1 DER signature, as
  ``cosign sign --key`` does with a generated key).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from sandbox.releases import OciLayout

PAYLOAD_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class CosignKey:
    private_file: Path
    public_file: Path
    key: ec.EllipticCurvePrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def generate_cosign_key(directory: str | Path) -> CosignKey:
    """A new ECDSA P-256 key pair: ``cosign.key`` (PKCS#8 PEM, 0600) and ``cosign.pub`` (PEM)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    priv, pub = d / "cosign.key", d / "cosign.pub"
    priv.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    priv.chmod(0o600)
    ck = CosignKey(priv, pub, key)
    pub.write_bytes(ck.public_pem)
    return ck


def load_cosign_key(private_file: str | Path) -> CosignKey:
    p = Path(private_file)
    key = serialization.load_pem_private_key(p.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CosignKey(p, p.with_name("cosign.pub"), key)


def signature_tag(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}-{hexpart}.sig"


def simple_signing_payload(digest: str, docker_reference: str) -> bytes:
    """The payload as sigstore's ``SimpleContainerImage`` marshals it (Go's json: keys in struct order)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def sign_payload(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def add_signature_image(
    layout: OciLayout, digest: str, docker_reference: str, key: CosignKey, *, payload: bytes | None = None
) -> str:
    """Write the signature image of ``digest`` into ``layout`` tagged ``sha256-<hex>.sig``; return the tag.
    ``payload`` overrides what is signed (tests of wrong digests and identities)."""
    body = payload if payload is not None else simple_signing_payload(digest, docker_reference)
    layer = layout.put_blob(body, PAYLOAD_MEDIA_TYPE)
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
        "config": {},
    }
    cfg = layout.put_json(config, OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": cfg.descriptor(),
        "layers": [layer.descriptor(annotations={SIGNATURE_ANNOTATION: sign_payload(key.key, body)})],
    }
    m = layout.put_json(manifest, OCI_MANIFEST)
    tag = signature_tag(digest)
    layout.tag(tag, m)
    return tag
