"""Release signatures: keyrings (Red Hat's real keys, the lab's key), strict verification, stores, media files,
the two ConfigMap shapes, the ``signature verify`` command, and (with the sandbox) apply + CVO visibility."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pysequoia as ps
import pytest

from engine import signatures as sigs
from engine.errors import InputError, SignatureError
from sandbox import certs
from sandbox.httpd import SIGSTORE_PREFIX, start_server
from sandbox.sigstore import sign_payload, sign_release, signature_payload, write_signature

# The tests of this module share a module-scoped lab and build on one another: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("test_signatures")

DATA = Path(__file__).parents[1] / "data"
REDHAT_KEYS = DATA / "redhat-release-verification-keys.asc"
"""Red Hat's public release and beta keys, re-signed with SHA-256 (late 2024)."""
REDHAT_KEY_412 = DATA / "redhat-release-key-4.12.asc"
"""Red Hat's release key exactly as cluster-update-keys shipped it on release-4.12 (SHA-1 self-signature)."""
REDHAT_RELEASE_FPR = "567E347AD0044ADE55BA8A5F199E2F91FD431D51"
REDHAT_BETA_FPR = "B08B659EE86AF623BC90E8DB938A80CAF21541EB"
DIGEST = "sha256:" + "3f" * 32
OTHER = "sha256:" + "a0" * 32
REF = "quay.io/openshift-release-dev/ocp-release:4.99.1-x86_64"


def _rsa(user_id: str) -> ps.Tsk:
    # The CVO's Go OpenPGP library reads RSA/DSA/ECDSA keys only (no EdDSA), so release keys here are RSA.
    return ps.Tsk.generate(user_id, cipher_suite=ps.CipherSuite.RSA2k)


@pytest.fixture(scope="module")
def lab_key() -> ps.Tsk:
    return _rsa("Lab release signer <signer@lab.invalid>")


@pytest.fixture(scope="module")
def lab_ring(lab_key: ps.Tsk) -> sigs.Keyring:
    return sigs.parse_keyring(str(lab_key.extract_certificate()).encode(), "lab key")


@pytest.fixture(scope="module")
def redhat_ring() -> sigs.Keyring:
    return sigs.load_keyring(REDHAT_KEYS)


def _sign_json(tsk: ps.Tsk, doc: object) -> bytes:
    return sign_payload(tsk, json.dumps(doc).encode())


def _doc(digest: str = DIGEST, **extra: object) -> dict[str, object]:
    d: dict[str, object] = {
        "critical": {
            "type": "atomic container signature",
            "image": {"docker-manifest-digest": digest},
            "identity": {"docker-reference": REF},
        },
        "optional": {"creator": "test"},
    }
    d.update(extra)
    return d


# ---------------------------------------------------------------------------------------------- keyrings


def test_redhat_keyring_holds_two_certificates(redhat_ring: sigs.Keyring) -> None:
    fprs = [f.upper() for f in redhat_ring.fingerprints]
    assert fprs == [REDHAT_RELEASE_FPR, REDHAT_BETA_FPR]
    assert redhat_ring.knows("199E2F91FD431D51")  # the key id the real signatures carry


def test_keyring_with_text_header_and_binary_keyring(tmp_path: Path, lab_key: ps.Tsk) -> None:
    # Red Hat's key file in cluster-update-keys starts with a plain 'pub ... Key fingerprint' header.
    text = b"pub  4096R/FD431D51 2009-10-22\n      Key fingerprint = 567E ...\n\n" + REDHAT_KEYS.read_bytes()
    assert len(sigs.parse_keyring(text, "with header").certs) == 2
    # a binary keyring: two certificates concatenated, as 'gpg --export' writes
    other = _rsa("Other <o@lab.invalid>").extract_certificate()
    binary = bytes(lab_key.extract_certificate()) + bytes(other)
    ring = sigs.parse_keyring(binary, "binary")
    assert sorted(ring.fingerprints) == sorted([lab_key.extract_certificate().fingerprint, other.fingerprint])


def test_keyring_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        sigs.load_keyring(tmp_path / "missing.asc")
    junk = tmp_path / "junk.asc"
    junk.write_bytes(b"not a key at all")
    with pytest.raises(InputError, match="not an OpenPGP public key"):
        sigs.load_keyring(junk)


# ---------------------------------------------------------------------------------------------- verification


def test_valid_signature(lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:
    v = sigs.verify_signature(sign_release(lab_key, DIGEST, REF), lab_ring, DIGEST)
    assert v.signer_fingerprint == lab_key.extract_certificate().fingerprint
    assert v.signer_user_ids == ("Lab release signer <signer@lab.invalid>",)
    assert v.digest == DIGEST and v.docker_reference == REF


def test_signature_by_unknown_key_refused_against_redhat_keys(
    lab_key: ps.Tsk, redhat_ring: sigs.Keyring
) -> None:
    with pytest.raises(SignatureError) as info:
        sigs.verify_signature(sign_release(lab_key, DIGEST, REF), redhat_ring, DIGEST)
    assert "not in" in info.value.message and REDHAT_RELEASE_FPR in info.value.message


def test_wrong_digest_refused(lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:
    with pytest.raises(SignatureError, match=f"is for {DIGEST}, not for the target {OTHER}"):
        sigs.verify_signature(sign_release(lab_key, DIGEST, REF), lab_ring, OTHER)


def test_tampered_bytes_refused(lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:
    sig = bytearray(sign_release(lab_key, DIGEST, REF))
    at = sig.find(b"ocp-release")  # inside the (uncompressed) literal data
    assert at > 0
    sig[at] ^= 0x01
    with pytest.raises(SignatureError, match="altered or damaged"):
        sigs.verify_signature(bytes(sig), lab_ring, DIGEST)


def test_not_a_signature(lab_ring: sigs.Keyring) -> None:
    with pytest.raises(SignatureError, match="not an OpenPGP signed message"):
        sigs.verify_signature(b"hello", lab_ring, DIGEST)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (_doc(extra={"x": 1}), "unknown field 'extra'"),
        ({**_doc(), "optional": {"creator": "x", "comment": "hi"}}, "unknown field 'optional.comment'"),
        (
            {"critical": {**_doc()["critical"], "image": {"docker-manifest-digest": DIGEST, "x": 1}}},  # type: ignore[dict-item]
            "unknown field 'critical.image.x'",
        ),
        ({**_doc(), "optional": {"timestamp": "yesterday"}}, "optional.timestamp must be an integer"),
        ({**_doc(), "optional": {"timestamp": 1.5}}, "optional.timestamp must be an integer"),
        ({"critical": {**_doc()["critical"], "type": 7}}, "critical.type must be a string"),  # type: ignore[dict-item]
        ({"critical": {**_doc()["critical"], "type": "cosign"}}, "critical.type is 'cosign'"),  # type: ignore[dict-item]
        (
            {"critical": {**_doc()["critical"], "identity": {"docker-reference": ""}}},  # type: ignore[dict-item]
            "docker-reference is empty",
        ),
        ({"critical": None}, "critical.type is ''"),
        ([1, 2], "must be an object"),
    ],
)
def test_signed_json_checked_as_strictly_as_the_cvo(
    lab_key: ps.Tsk, lab_ring: sigs.Keyring, doc: object, reason: str
) -> None:
    with pytest.raises(SignatureError) as info:
        sigs.verify_signature(_sign_json(lab_key, doc), lab_ring, DIGEST)
    assert reason in info.value.message


def test_timestamp_and_null_members_accepted(lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:
    doc = {**_doc(), "optional": {"creator": None, "timestamp": 1555943751}}
    v = sigs.verify_signature(_sign_json(lab_key, doc), lab_ring, DIGEST)
    assert v.timestamp == 1555943751


def test_every_keyring_must_be_satisfied(lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:
    second = _rsa("Second <second@lab.invalid>")
    second_ring = sigs.parse_keyring(bytes(second.extract_certificate()), "verifier-public-key-second")
    one = sign_release(lab_key, DIGEST, REF)
    with pytest.raises(SignatureError, match="not in verifier-public-key-second"):
        sigs.verify_release([one], [lab_ring, second_ring], DIGEST)
    two = sign_release(second, DIGEST, REF)
    got = sigs.verify_release([one, two], [lab_ring, second_ring], DIGEST)
    assert [v.index for v in got] == [1, 2]


# ---------------------------------------------------------------------------------------------- ConfigMap shapes


def test_configmap_shapes() -> None:
    hexpart = DIGEST.split(":")[1]
    oc_shape = sigs.configmap_for_digest(DIGEST, [b"one", b"two"])
    assert oc_shape == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"sha256-{hexpart}",
            "namespace": "openshift-config-managed",
            "labels": {"release.openshift.io/verification-signatures": ""},
        },
        "binaryData": {
            f"sha256-{hexpart}-1": base64.b64encode(b"one").decode(),
            f"sha256-{hexpart}-2": base64.b64encode(b"two").decode(),
        },
    }
    doc_shape = sigs.configmap_for_release("4.99.1", DIGEST, [b"one"])
    assert doc_shape["metadata"]["name"] == "release-image-4.99.1"
    assert doc_shape["metadata"]["labels"] == {"release.openshift.io/verification-signatures": ""}
    assert doc_shape["binaryData"] == {f"sha256-{hexpart}": base64.b64encode(b"one").decode()}
    assert sigs.signatures_in_configmap(doc_shape, DIGEST) == [b"one"]
    assert sigs.signatures_in_configmap(oc_shape, OTHER) == []


# ---------------------------------------------------------------------------------------------- media files


def test_signature_file_round_trip_json_and_yaml(tmp_path: Path, lab_key: ps.Tsk) -> None:
    sig = sign_release(lab_key, DIGEST, REF)
    cm = sigs.configmap_for_digest(DIGEST, [sig])
    j = tmp_path / f"signature-sha256-{DIGEST[7:23]}.json"
    j.write_text(json.dumps(cm, indent=2))
    assert sigs.read_signature_file(j).signatures_for(DIGEST) == [sig]
    import yaml

    y = tmp_path / "signature.yaml"
    y.write_text(yaml.safe_dump(cm))
    assert sigs.read_signature_file(y).signatures_for(DIGEST) == [sig]
    with pytest.raises(SignatureError, match="not for the target"):
        sigs.read_signature_file(y).signatures_for(OTHER)


def test_signature_file_errors_have_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "apiVersion": "v1",\n  "kind": "ConfigMap"\n  "metadata": {}\n}\n')
    with pytest.raises(InputError) as info:
        sigs.read_signature_file(bad)
    assert (info.value.line, info.value.column) == (4, 3)
    assert "bad.json:4:3" in info.value.message

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")
    with pytest.raises(InputError) as info:
        sigs.read_signature_file(bad_yaml)
    assert info.value.line is not None and "not valid YAML" in info.value.message

    hexpart = DIGEST[7:]
    not_b64 = tmp_path / "notb64.json"
    not_b64.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "x",
                    "namespace": "openshift-config-managed",
                    "labels": {"release.openshift.io/verification-signatures": ""},
                },
                "binaryData": {f"sha256-{hexpart}-1": "***"},
            },
            indent=1,
        )
    )
    with pytest.raises(InputError, match="not valid base64") as info:
        sigs.read_signature_file(not_b64)
    assert info.value.line == 12  # the line of the offending key

    unlabelled = tmp_path / "nolabel.json"
    unlabelled.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
    with pytest.raises(InputError, match="lacks the label"):
        sigs.read_signature_file(unlabelled)


# ---------------------------------------------------------------------------------------------- stores


def test_file_store_stops_at_first_missing_and_skips_empty(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_signature(store, DIGEST, b"first", 1)
    write_signature(store, DIGEST, b"", 2)
    write_signature(store, DIGEST, b"third", 3)
    write_signature(store, DIGEST, b"fifth", 5)  # after a gap: never read
    assert sigs.fetch_signatures(f"file://{store}", DIGEST) == [b"first", b"third"]
    with pytest.raises(SignatureError, match="has no signature"):
        sigs.fetch_signatures(f"file://{store}", OTHER)


def test_file_store_caps_size(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_signature(store, DIGEST, b"x" * (50 * 1024 + 1), 1)
    with pytest.raises(SignatureError, match="larger than 50 KiB"):
        sigs.fetch_signatures(f"file://{store}", DIGEST)


@pytest.fixture(scope="module")
def https_store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("sigstore-https")
    ca = certs.make_ca(d, "ca")
    server_cert = certs.make_server_cert(ca, d, "server")
    store = d / "store"
    store.mkdir()
    config = {
        "listen_host": "127.0.0.1",
        "port": 0,
        "port_file": str(d / "port"),
        "log_file": str(d / "httpd.log"),
        "sigstore_dir": str(store),
        "tls": {"cert": str(server_cert.cert), "key": str(server_cert.key)},
    }
    server = start_server("sigstore", "sandbox.httpd", config, d / "httpd.json")
    try:
        yield f"https://127.0.0.1:{server.port}{SIGSTORE_PREFIX}", store, str(ca.cert)
    finally:
        server.stop()


def test_https_store_with_ca(https_store, lab_key: ps.Tsk, lab_ring: sigs.Keyring) -> None:  # type: ignore[no-untyped-def]
    url, store, ca = https_store
    one = sign_release(lab_key, DIGEST, REF)
    write_signature(store, DIGEST, one, 1)
    write_signature(store, DIGEST, b"second", 2)
    got = sigs.fetch_signatures(url, DIGEST, ca_file=ca)
    assert got == [one, b"second"]
    assert sigs.verify_release(got, [lab_ring], DIGEST)[0].index == 1
    with pytest.raises(SignatureError, match="has no signature"):
        sigs.fetch_signatures(url, OTHER, ca_file=ca)


def test_https_store_untrusted_certificate_named(https_store) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import TLSError

    url, _store, _ca = https_store
    with pytest.raises(TLSError) as info:
        sigs.fetch_signatures(url, DIGEST)
    assert "endpoints.ca_file" in info.value.fix


def test_store_unreachable_named() -> None:
    with pytest.raises(SignatureError, match="cannot reach the signature store"):
        sigs.fetch_signatures("http://127.0.0.1:9/store", DIGEST)


# ---------------------------------------------------------------------------------------------- the CLI


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_cli_verify_valid_and_refused(tmp_path: Path, lab_key: ps.Tsk) -> None:
    keyfile = tmp_path / "lab.pub.asc"
    keyfile.write_text(str(lab_key.extract_certificate()))
    sig = tmp_path / "signature-1"
    sig.write_bytes(sign_release(lab_key, DIGEST, REF))

    ok = _cli("signature", "verify", "--keyring", str(keyfile), "--digest", DIGEST, str(sig))
    assert ok.returncode == 0, ok.stderr
    fpr = lab_key.extract_certificate().fingerprint.upper()
    assert f"Signer:   {fpr}" in ok.stdout
    assert "Identity: Lab release signer <signer@lab.invalid>" in ok.stdout
    assert f"Digest:   {DIGEST}" in ok.stdout

    wrong = _cli("signature", "verify", "--keyring", str(keyfile), "--digest", OTHER, str(sig))
    assert wrong.returncode == 1
    assert "not for the target" in wrong.stderr

    unknown = _cli("signature", "verify", "--keyring", str(REDHAT_KEYS), "--digest", DIGEST, str(sig))
    assert unknown.returncode == 1
    assert "which is not in" in unknown.stderr and "Red Hat" in unknown.stderr

    # a ConfigMap file from the media, verified as JSON events
    cm = tmp_path / f"signature-sha256-{DIGEST[7:23]}.json"
    cm.write_text(json.dumps(sigs.configmap_for_digest(DIGEST, [sig.read_bytes()])))
    as_json = _cli("signature", "verify", "--keyring", str(keyfile), "--digest", DIGEST, str(cm), "--json")
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    result = events[-1]
    assert result["kind"] == "StepResult" and result["data"]["verified"][0]["signer"] == fpr

    usage = _cli("signature", "verify", "--digest", DIGEST, str(sig))
    assert usage.returncode == 2 and "--keyring" in usage.stderr


def test_signature_payload_helper_matches_strict_parser() -> None:
    # the lab's signer and the engine's parser agree on the format
    assert sigs.parse_signed_payload(signature_payload(DIGEST, REF), DIGEST)["critical"]["type"] == (
        "atomic container signature"
    )


# ---------------------------------------------------------------------------------------------- against the lab


@pytest.fixture
def lab_env(sandbox, tmp_path: Path):  # type: ignore[no-untyped-def]
    from engine.cluster import CONFIGMAP, Cluster
    from tests.procedures.test_upgrade import lab_plan

    cluster = Cluster.connect(sandbox.kubeconfig, "admin")
    names_before = {c["metadata"]["name"] for c in cluster.list(CONFIGMAP, sigs.SIGNATURE_NAMESPACE)}
    yield {
        "info": sandbox,
        "plan": lab_plan(sandbox, tmp_path),
        "state": tmp_path / "state",
        "cluster": cluster,
    }
    for cm in cluster.list(CONFIGMAP, sigs.SIGNATURE_NAMESPACE):
        if cm["metadata"]["name"] not in names_before:
            cluster.delete(CONFIGMAP, cm["metadata"]["name"], sigs.SIGNATURE_NAMESPACE)


def _cm_names(cluster) -> set[str]:  # type: ignore[no-untyped-def]
    from engine.cluster import CONFIGMAP

    return {c["metadata"]["name"] for c in cluster.list(CONFIGMAP, sigs.SIGNATURE_NAMESPACE)}


def test_apply_from_store_as_documented_and_idempotent(lab_env) -> None:  # type: ignore[no-untyped-def]
    from tests.procedures.test_upgrade import run_cli

    info, cluster = lab_env["info"], lab_env["cluster"]
    digest = info.release(info.target_version).digest
    P = ("--plan", str(lab_env["plan"]))
    res = run_cli("signature", "apply", *P, "--dry-run", state=lab_env["state"])
    assert res.returncode == 0 and "dry run" in res.stdout
    assert f"release-image-{info.target_version}" not in _cm_names(cluster)
    res = run_cli("signature", "apply", *P, "--yes", state=lab_env["state"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"[PASS] signature 1: valid: signed by {info.signing_key.fingerprint.upper()}" in res.stdout
    assert f"configmap/release-image-{info.target_version} created" in res.stdout
    from engine.cluster import CONFIGMAP

    cm = cluster.get(CONFIGMAP, f"release-image-{info.target_version}", sigs.SIGNATURE_NAMESPACE)
    assert cm["metadata"]["labels"] == {sigs.SIGNATURE_LABEL: ""}
    assert list(cm["binaryData"]) == [f"sha256-{digest[7:]}"]
    assert sigs.visible_signature_configmaps(cluster, digest) == [f"release-image-{info.target_version}"]
    # the equivalent 'oc apply -f' file was written and holds the same object
    manifest = next(Path(lab_env["state"]).rglob(f"checksum-{info.target_version}.yaml"))
    import yaml

    assert yaml.safe_load(manifest.read_text())["binaryData"] == cm["binaryData"]
    again = run_cli("signature", "apply", *P, "--yes", state=lab_env["state"])
    assert again.returncode == 0 and "already holds these signatures; nothing to change" in again.stdout


def test_apply_from_media_file_uses_the_oc_shape(lab_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.procedures.test_upgrade import run_cli

    info, cluster = lab_env["info"], lab_env["cluster"]
    digest = info.release(info.target_version).digest
    media = tmp_path / f"signature-sha256-{digest[7:23]}.json"
    sig = sigs.fetch_signatures(info.signature_store, digest)
    media.write_text(json.dumps(sigs.configmap_for_digest(digest, sig), indent=2))
    res = run_cli(
        "signature",
        "apply",
        "--plan",
        str(lab_env["plan"]),
        "--file",
        str(media),
        "--yes",
        state=lab_env["state"],
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"apply -f {media}" in res.stdout
    assert f"sha256-{digest[7:]}" in _cm_names(cluster)


def _bad_media(tmp_path: Path, name: str, digest: str, signature: bytes) -> Path:
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(sigs.configmap_for_digest(digest, [signature])))
    return p


def test_refused_signatures_are_never_applied(lab_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.procedures.test_upgrade import run_cli

    info, cluster = lab_env["info"], lab_env["cluster"]
    digest = info.release(info.target_version).digest
    other_digest = info.release(info.releases[0].version).digest
    good = sigs.fetch_signatures(info.signature_store, digest)[0]
    stranger = _rsa("Stranger <stranger@lab.invalid>")
    tampered = bytearray(good)
    tampered[tampered.find(b"docker-reference") + 3] ^= 0x01
    cases = {
        "unknown key": (
            _bad_media(tmp_path, "unknown", digest, sign_release(stranger, digest, REF)),
            "which is not in",
        ),
        "wrong digest": (
            _bad_media(
                tmp_path, "wrong", digest, sigs.fetch_signatures(info.signature_store, other_digest)[0]
            ),
            "not for the target",
        ),  # fmt: skip
        "tampered": (_bad_media(tmp_path, "tampered", digest, bytes(tampered)), "altered or damaged"),
    }
    before = _cm_names(cluster)
    for what, (path, reason) in cases.items():
        res = run_cli(
            "signature",
            "apply",
            "--plan",
            str(lab_env["plan"]),
            "--file",
            str(path),
            "--yes",
            state=lab_env["state"],
        )
        assert res.returncode == 1, (what, res.stdout, res.stderr)
        assert reason in res.stderr, (what, res.stderr)
        assert "Create the release signature ConfigMap" not in res.stdout, what
    assert _cm_names(cluster) == before


def test_cluster_keyrings_are_the_labs_key(lab_env) -> None:  # type: ignore[no-untyped-def]
    rings = sigs.cluster_keyrings(lab_env["cluster"])
    assert [r.name for r in rings] == ["verifier-public-key-sandbox"]
    assert rings[0].fingerprints == [lab_env["info"].signing_key.fingerprint.lower()]


def test_fetch_writes_the_documented_configmap_for_the_media(lab_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.procedures.test_upgrade import run_cli

    info = lab_env["info"]
    digest = info.release(info.target_version).digest
    keyfile = Path(info.signing_key.public_key)
    for name in ("checksum.yaml", "checksum.json"):
        out = tmp_path / name
        res = run_cli(
            "signature", "fetch", "--plan", str(lab_env["plan"]), "--out", str(out), "--keyring", str(keyfile),
            state=lab_env["state"],
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Signature 1 is valid" in res.stdout
        sf = sigs.read_signature_file(out)
        assert sf.configmap["metadata"]["name"] == f"release-image-{info.target_version}"
        assert sf.signatures_for(digest) == sigs.fetch_signatures(info.signature_store, digest)
