"""Sigstore verification (engine/sigstore.py) on real cosign-format material made here: an ECDSA P-256 (and an
RSA) key from ``cryptography``, the simple signing payload signed as cosign signs it, the signature image written
into an on-disk store the way the mirror engine writes one. Nothing is mocked: the engine reads the store."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from engine import sigstore
from engine.errors import SignatureError
from engine.mirror.media import DirStore
from engine.oci.registry import Manifest

REPO = "openshift/release"
IMAGE_REPO = "quay.io/openshift-release-dev/ocp-release"
DIGEST = "sha256:" + "4c5a7e26d707780be6466ddc9591865beb2e3baa5556432d23e8d57966a2dd18"

# The 'openshift' ClusterImagePolicy as openshift/cluster-update-keys ships it (public data: Red Hat's RSA 4096
# Sigstore release key), manifests.rhel/0000_90_openshift-cluster-image-policy.yaml.
RED_HAT_POLICY_KEYDATA = (
    "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQ0lqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FnOEFNSUlDQ2dLQ0FnRUEwQVN5dUgyVExX"
    "dkJVcVBIWjRJcAo3NWc3RW5jQmtnUUhkSm5qenhBVzVLUVRNaC9zaUJvQi9Cb1NydGlQTXduQ2hiVENuUU9JUWVadURpRm5odUo3Ck0vRDNi"
    "N0pvWDBtMTIzTmNDU242N21BZGpCYTZCZzZrdWtaZ0NQNFpVWmVFU2FqV1gvRWp5bEZjUkZPWFc1N3AKUkRDRU40MkovallsVnF0K2c5K0dy"
    "a2VyOFN6ODZIM2wwdGJxT2RqYnovVnhIWWh3RjBjdFVNSHN5VlJEcTJRUAp0cXpOWGxtbE1oUy9Qb0ZyNlI0dS83SENuL0srTGVnY08yZkFG"
    "T2I0MEt2S1NLS1ZENmxld1VaRXJob3AxQ2dKClhqRHRHbW1POWRHTUY3MW1mNkhFZmFLU2R5K0VFNmlTRjJBMlZ2OVFoQmF3TWlxMmtPekVp"
    "TGc0bkFkSlQ4d2cKWnJNQW1QQ3FHSXNYTkdaNC9RK1lUd3dsY2UzZ2xxYjVMOXRmTm96RWRTUjlOODVERVNmUUxRRWRZM0NhbHdLTQpCVDFP"
    "RWhFWDF3SFJDVTRkck1PZWo2Qk5XMFZ0c2NHdEhtQ3JzNzRqUGV6aHdOVDh5cGt5UytUMHpUNFRzeTZmClZYa0o4WVNIeWVuU3pNQjJPcDJi"
    "dnNFM2dyWStzNzRXaEc5VUlBNkRCeGNUaWUxNU5Tekt3Znphb05XT0RjTEYKcDdCWThhYUhFMk1xRnhZRlgrSWJqcGtRUmZhZVFRc291REZk"
    "Q2tYRUZWZlBwYkQyZGs2RmxlYU1UUHV5eHRJVApnalZFdEdRSzJxR0NGR2lRSEZkNGhmVitlQ0E2M0pybzF6MHpvQk01QmJJSVEzK2VWRnd0"
    "M0FsWnA1VVZ3cjZkCnNlY3FraS95cm12M1kwZHFaOVZPbjNVQ0F3RUFBUT09Ci0tLS0tRU5EIFBVQkxJQyBLRVktLS0tLQ=="
)


def _payload(digest: str = DIGEST, ref: str = IMAGE_REPO, **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "critical": {
            "identity": {"docker-reference": ref},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def _pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def _sign(key: Any, payload: bytes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return base64.b64encode(key.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()
    return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def _write_sig_image(
    store: DirStore, layers: list[tuple[bytes, str | None]], digest: str = DIGEST, repo: str = REPO
) -> str:
    """Write a cosign signature image (payload layers with their annotation) tagged sha256-<hex>.sig."""
    descs = []
    for payload, sig in layers:
        d = "sha256:" + hashlib.sha256(payload).hexdigest()
        store.push_blob(repo, d, len(payload), [payload])
        desc: dict[str, Any] = {
            "mediaType": sigstore.SIMPLESIGNING_MEDIA_TYPE,
            "digest": d,
            "size": len(payload),
        }
        if sig is not None:
            desc["annotations"] = {sigstore.SIGNATURE_ANNOTATION: sig}
        descs.append(desc)
    cfg = json.dumps({"rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in descs]}}).encode()
    cd = "sha256:" + hashlib.sha256(cfg).hexdigest()
    store.push_blob(repo, cd, len(cfg), [cfg])
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
        "layers": descs,
    }
    m = Manifest.from_bytes(json.dumps(manifest).encode())
    tag = sigstore.signature_tag(digest)
    store.put_manifest(repo, tag, m)
    return tag


@pytest.fixture
def store(tmp_path: Path) -> DirStore:
    return DirStore(tmp_path / "mirror", fsync=False)


@pytest.fixture
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _policy(key: Any, **kw: Any) -> sigstore.Policy:
    return sigstore.Policy(name="openshift", scopes=[IMAGE_REPO], key_pem=_pem(key), source="test", **kw)


def test_signature_tag_is_cosigns_name() -> None:
    assert sigstore.signature_tag(DIGEST) == "sha256-" + DIGEST.split(":")[1] + ".sig"


def test_valid_ecdsa_signature_verifies(store: DirStore, ec_key: Any) -> None:
    p = _payload()
    _write_sig_image(store, [(p, _sign(ec_key, p))])
    result = sigstore.verify_release(store, REPO, DIGEST, _policy(ec_key), IMAGE_REPO)
    assert result.ok, result.problems
    assert result.identity == IMAGE_REPO and result.key_type == "ECDSA secp256r1" and result.layers == 1
    assert result.scope == IMAGE_REPO


def test_rsa_signature_verifies(store: DirStore) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p = _payload()
    _write_sig_image(store, [(p, _sign(key, p))])
    result = sigstore.verify_release(store, REPO, DIGEST, _policy(key), IMAGE_REPO)
    assert result.ok and result.key_type == "RSA 2048"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("other key", "cryptographic signature verification failed"),
        ("payload altered", "cryptographic signature verification failed"),
        ("other digest", "not the release"),
        ("other identity", "does not match the policy"),
        ("wrong type", "unrecognized signature type"),
        ("extra field", "expected exactly"),
        ("no annotation", "has no dev.cosignproject.cosign/signature annotation"),
        ("bad base64", "not valid base64"),
    ],
)
def test_invalid_signatures_are_refused_with_the_reason(
    store: DirStore, ec_key: Any, case: str, expected: str
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    p = _payload()
    sig: str | None = _sign(ec_key, p)
    if case == "other key":
        sig = _sign(other, p)
    elif case == "payload altered":
        p = p.replace(b"ocp-release", b"ocp-releasX")
    elif case == "other digest":
        p = _payload(digest="sha256:" + "00" * 32)
        sig = _sign(ec_key, p)
    elif case == "other identity":
        p = _payload(ref="quay.io/someone/else")
        sig = _sign(ec_key, p)
    elif case == "wrong type":
        doc = json.loads(_payload())
        doc["critical"]["type"] = "atomic container signature"
        p = json.dumps(doc).encode()
        sig = _sign(ec_key, p)
    elif case == "extra field":
        p = _payload(extra_top="x")
        sig = _sign(ec_key, p)
    elif case == "no annotation":
        sig = None
    elif case == "bad base64":
        sig = "!!!not base64!!!"
    _write_sig_image(store, [(p, sig)])
    result = sigstore.verify_release(store, REPO, DIGEST, _policy(ec_key), IMAGE_REPO)
    assert not result.ok
    assert any(expected in x for x in result.problems), result.problems
    with pytest.raises(SignatureError) as err:
        sigstore.require_valid(result, "the mirror")
    assert "does not verify" in err.value.message and err.value.fix


def test_one_valid_layer_among_others_is_enough(store: DirStore, ec_key: Any) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    p = _payload()
    _write_sig_image(store, [(p, _sign(other, p)), (p, _sign(ec_key, p))])
    assert sigstore.verify_release(store, REPO, DIGEST, _policy(ec_key), IMAGE_REPO).ok


def test_missing_signature_image_names_the_fix(store: DirStore, ec_key: Any) -> None:
    result = sigstore.verify_release(store, REPO, DIGEST, _policy(ec_key), IMAGE_REPO)
    assert not result.ok and result.problems[0].startswith("no signature image sha256-")
    with pytest.raises(SignatureError) as err:
        sigstore.require_valid(result, "the mirror")
    assert "is missing" in err.value.message and "ocp-airgap mirror" in (err.value.fix or "")


@pytest.mark.parametrize(
    ("identity", "signed", "ok"),
    [
        ({"matchPolicy": "MatchRepoDigestOrExact"}, IMAGE_REPO, True),
        ({"matchPolicy": "MatchRepoDigestOrExact"}, IMAGE_REPO + ":4.21.3-x86_64", True),
        ({"matchPolicy": "MatchRepository"}, "quay.io/openshift-release-dev/other", False),
        (
            {"matchPolicy": "ExactRepository", "exactRepository": {"repository": "quay.io/x/y"}},
            "quay.io/x/y",
            True,
        ),
        (
            {
                "matchPolicy": "RemapIdentity",
                "remapIdentity": {
                    "prefix": "quay.io/openshift-release-dev",
                    "signedPrefix": "registry.example/ocp",
                },
            },
            "registry.example/ocp/ocp-release",
            True,
        ),
    ],
)
def test_signed_identity_rules_from_the_cluster_policy(
    store: DirStore, ec_key: Any, identity: dict[str, Any], signed: str, ok: bool
) -> None:
    obj = {
        "metadata": {"name": "openshift"},
        "spec": {
            "scopes": [IMAGE_REPO],
            "policy": {
                "rootOfTrust": {
                    "policyType": "PublicKey",
                    "publicKey": {"keyData": base64.b64encode(_pem(ec_key)).decode()},
                },
                "signedIdentity": identity,
            },
        },
    }
    policy = sigstore.policy_from_object(obj)
    p = _payload(ref=signed)
    _write_sig_image(store, [(p, _sign(ec_key, p))])
    assert sigstore.verify_release(store, REPO, DIGEST, policy, IMAGE_REPO).ok is ok


def test_red_hat_openshift_policy_parses_with_its_rsa_key() -> None:
    obj = {
        "apiVersion": "config.openshift.io/v1alpha1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": "openshift"},
        "spec": {
            "scopes": [IMAGE_REPO, "quay.io/openshift-release-dev/ocp-v4.0-art-dev"],
            "policy": {
                "rootOfTrust": {"policyType": "PublicKey", "publicKey": {"keyData": RED_HAT_POLICY_KEYDATA}}
            },
        },
    }
    policy = sigstore.policy_from_object(obj)
    assert policy.match_policy == "MatchRepoDigestOrExact"
    assert sigstore.key_description(policy.key) == "RSA 4096"
    assert policy.scope_for(IMAGE_REPO) == IMAGE_REPO
    assert policy.scope_for("quay.io/openshift-release-dev/ocp-release-nightly") is None
    assert sigstore.policy_covering([policy], "registry.example/ocp4/openshift4") is None


def test_bad_policies_are_one_clear_error() -> None:
    bad_key = {
        "spec": {
            "policy": {"rootOfTrust": {"policyType": "PublicKey", "publicKey": {"keyData": "bm90IGEga2V5"}}}
        }
    }
    with pytest.raises(SignatureError, match="not a PEM public key"):
        sigstore.policy_from_object(bad_key)
    fulcio = {"spec": {"policy": {"rootOfTrust": {"policyType": "FulcioCAWithRekor"}}}}
    with pytest.raises(SignatureError, match="only PublicKey policies"):
        sigstore.policy_from_object(fulcio)


def test_inspect_without_key_checks_the_digest_binding(store: DirStore, ec_key: Any) -> None:
    p = _payload(digest="sha256:" + "11" * 32)
    _write_sig_image(store, [(p, _sign(ec_key, p))])
    result = sigstore.inspect_release(store, REPO, DIGEST)
    assert result.problems and "not " + DIGEST in result.problems[0]


def test_requires_sigstore_from_421() -> None:
    assert sigstore.requires_sigstore("4.21.0") and sigstore.requires_sigstore("5.0.1")
    assert not sigstore.requires_sigstore("4.20.12") and not sigstore.requires_sigstore("")


def test_the_labs_own_signer_is_read_by_the_engine(tmp_path: Path) -> None:
    """The lab writes signature images with its own code (sandbox/cosign.py, from cosign); the engine, with its
    own, reads them: the two agree only through the format."""
    from sandbox.cosign import add_signature_image, generate_cosign_key
    from sandbox.releases import OciLayout

    key = generate_cosign_key(tmp_path / "keys")
    layout = OciLayout(tmp_path / "oci")
    tag = add_signature_image(layout, DIGEST, IMAGE_REPO, key)
    assert tag == sigstore.signature_tag(DIGEST)
    # copy the layout's signature image into a DirStore as the mirror engine would
    store = DirStore(tmp_path / "mirror", fsync=False)
    desc = layout.refs[tag]
    data = layout.blob_path(desc["digest"]).read_bytes()
    doc = json.loads(data)
    for b in [doc["config"], *doc["layers"]]:
        blob = layout.blob_path(b["digest"]).read_bytes()
        store.push_blob(REPO, b["digest"], len(blob), [blob])
    store.put_manifest(REPO, tag, Manifest.from_bytes(data))
    policy = sigstore.policy_from_key_file(key.public_file, IMAGE_REPO)
    result = sigstore.verify_release(store, REPO, DIGEST, policy, IMAGE_REPO)
    assert result.ok, result.problems


# ----- what upgrade watch says about them -------------------------------------------------------------------
# ReleaseAccepted as a real cluster reported it (cluster-version-operator pull request 1105, a 4.18 cluster)
REAL_POD_FAILURE = (
    'Retrieving payload failed version="" image="quay.io/openshift-release-dev/ocp-release@sha256:4c5a7e26d707780be'
    '6466ddc9591865beb2e3baa5556432d23e8d57966a2dd18" failure=Unable to download and prepare the update: pod '
    'version--dl4gq failed at pending with reason "" and message "" and status initcontainer cleanup is waiting with '
    'reason "SignatureValidationFailed" and message "image pull failed for quay.io/openshift-release-dev/ocp-release@'
    "sha256:4c5a7e26d707780be6466ddc9591865beb2e3baa5556432d23e8d57966a2dd18 because the signature validation failed: "
    'Source image rejected: A signature was required, but no signature exists"'
)


def test_watch_explains_a_sigstore_refusal_not_as_an_openpgp_problem() -> None:
    from engine.upgrade import explain_release_accepted

    text, fix = explain_release_accepted({"reason": "RetrievePayload", "message": REAL_POD_FAILURE})
    assert "refuse to run the release image pulled from the mirror: its Sigstore signature" in text
    assert "ocp-airgap mirror --plan P" in fix and "signature apply" not in fix


def test_watch_explains_an_admin_gate_precondition() -> None:
    from engine.upgrade import explain_release_accepted

    message = (
        'Preconditions failed for payload loaded version="4.21.3" image="m/ocp4/openshift4@sha256:ab": Precondition '
        '"ClusterVersionUpgradeable" failed because of "AdminAckRequired": This cluster has mirrors configured. 4.21 '
        "will require Sigstore signatures for quay.io/openshift-release-dev/ocp-release release verification."
    )
    text, fix = explain_release_accepted({"reason": "PreconditionChecks", "message": message})
    assert "admin-ack gate is not acknowledged" in text and "4.21 will require Sigstore signatures" in text
    assert "fix apply adminack/" in fix


def test_oc_mirror_layout_signature_is_found_beside_the_release(store: DirStore, ec_key: Any) -> None:
    """oc-mirror v2 puts the release in <repo>/openshift/release-images and its signature tag beside it."""
    p = _payload()
    sig_repo = "ocp4/openshift4/" + sigstore.OC_MIRROR_RELEASE_SUBPATH
    _write_sig_image(store, [(p, _sign(ec_key, p))], repo=sig_repo)
    found = sigstore.locate_signature(store, [sig_repo, "ocp4/openshift4"], DIGEST)
    assert found is not None and found[0] == sig_repo
    assert sigstore.locate_signature(store, ["ocp4/openshift4"], DIGEST) is None
