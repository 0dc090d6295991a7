"""Auth file lookup, references, mirror configuration text, media checksums, the registry client's upload paths."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.authfile import AuthFile, candidate_paths, find_auth_file
from engine.errors import DigestMismatch, InputError, RegistryError
from engine.mirror import icsp_instructions, idms_instructions, mirror_sources
from engine.mirror.media import (
    DirStore,
    check_media,
    find_signature_file,
    signature_file_name,
    write_checksums,
)
from engine.oci import registry as reg_mod
from engine.oci.payload import ReleaseInfo, parse_release_files
from engine.oci.registry import Manifest, Reference, RegistryClient, sha256_digest
from engine.plan import Plan
from engine.redact import MASK, redact


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# ----- auth file -----------------------------------------------------------------------------------------
def test_auth_lookup_most_specific_namespace_wins() -> None:
    doc = {
        "auths": {
            "reg.example.com:8443": {"auth": _b64("host-user:host-pass-1")},
            "reg.example.com:8443/ocp4": {"auth": _b64("ns-user:ns-pass-22")},
            "reg.example.com:8443/ocp4/openshift4": {"username": "deep-user", "password": "deep-pass-333"},
            "https://legacy.example.com/v1/": {"auth": _b64("old:legacy-pass-4")},
            "quay.io": {"identitytoken": "refresh-token-value-5"},
        }
    }
    auth = AuthFile.parse(json.dumps(doc), "pull.json")
    assert auth.lookup("reg.example.com:8443", "ocp4/openshift4/sub").username == "deep-user"  # type: ignore[union-attr]
    assert auth.lookup("reg.example.com:8443", "ocp4/other").username == "ns-user"  # type: ignore[union-attr]
    assert auth.lookup("reg.example.com:8443", "ocp4x/repo").username == "host-user"  # type: ignore[union-attr]
    assert auth.lookup("REG.example.com:8443", "").username == "host-user"  # type: ignore[union-attr]
    assert auth.lookup("reg.example.com", "ocp4") is None, "the port is part of the key"
    legacy = auth.lookup("legacy.example.com", "a/b")
    assert legacy is not None and legacy.password == "legacy-pass-4"
    quay = auth.lookup("quay.io", "openshift-release-dev/ocp-release")
    assert quay is not None and quay.identity_token == "refresh-token-value-5"
    # every secret is masked from now on
    for secret in (
        "host-pass-1",
        "ns-pass-22",
        "deep-pass-333",
        "refresh-token-value-5",
        _b64("old:legacy-pass-4"),
    ):
        assert redact(f"x {secret} y") == f"x {MASK} y"
    assert "deep-pass-333" not in repr(auth.lookup("reg.example.com:8443", "ocp4/openshift4"))


def test_auth_file_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    # the documentation's broken example: "auths" closed too early
    text = '{\n  "auths": {\n    "cloud.openshift.com": {"auth": "b3Blb=", "email": "you@example.com"}\n  }},\n  "quay.io": {}\n}\n'
    p = tmp_path / "pull-secret.json"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        AuthFile.load(p)
    assert err.value.line == 4 and err.value.column == 5
    assert f"{p}:4:5" in err.value.message and err.value.fix
    with pytest.raises(InputError, match="not base64"):
        AuthFile.parse('{"auths": {"h:1": {"auth": "%%%not-base64%%%"}}}')


def test_auth_file_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker" / "config.json").write_text('{"auths": {}}')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert find_auth_file() == home / ".docker" / "config.json"
    (runtime / "containers").mkdir(parents=True)
    (runtime / "containers" / "auth.json").write_text('{"auths": {}}')
    assert find_auth_file() == runtime / "containers" / "auth.json"
    env_file = tmp_path / "env.json"
    env_file.write_text('{"auths": {}}')
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env_file))
    assert find_auth_file() == env_file
    plan_file = tmp_path / "plan-auth.json"
    plan_file.write_text('{"auths": {}}')
    assert find_auth_file(str(plan_file)) == plan_file
    assert candidate_paths(str(plan_file))[:2] == [plan_file, env_file]
    with pytest.raises(InputError, match="does not exist"):
        find_auth_file(str(tmp_path / "missing.json"))


# ----- references and formats ------------------------------------------------------------------------------
def test_reference_parsing() -> None:
    r = Reference.parse("quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64")
    assert (r.registry, r.repository, r.tag, r.ref) == (
        "quay.io",
        "openshift-release-dev/ocp-release",
        "4.17.3-x86_64",
        "4.17.3-x86_64",
    )
    d = "sha256:" + "a" * 64
    r = Reference.parse(f"127.0.0.1:5000/ocp4/openshift4@{d}")
    assert (r.registry, r.repository, r.digest, r.ref) == ("127.0.0.1:5000", "ocp4/openshift4", d, d)
    assert str(r) == f"127.0.0.1:5000/ocp4/openshift4@{d}"
    for bad in ("ocp-release:4.17", "openshift/release:4.1", "quay.io/x@sha256:short"):
        with pytest.raises(InputError):
            Reference.parse(bad)


def test_icsp_and_idms_text_exactly_as_oc_prints_them() -> None:
    expected_icsp = (
        "To use the new mirrored repository to install, add the following section to the install-config.yaml:\n"
        "\n"
        "imageContentSources:\n"
        "- mirrors:\n"
        "  - registry/ocp/test\n"
        "  source: quay/ocp/test\n"
        "\n"
        "To use the new mirrored repository for upgrades, use the following to create an ImageContentSourcePolicy:\n"
        "\n"
        "apiVersion: operator.openshift.io/v1alpha1\n"
        "kind: ImageContentSourcePolicy\n"
        "metadata:\n"
        "  name: example\n"
        "spec:\n"
        "  repositoryDigestMirrors:\n"
        "  - mirrors:\n"
        "    - registry/ocp/test\n"
        "    source: quay/ocp/test\n"
    )
    assert icsp_instructions("registry/ocp/test", ["quay/ocp/test"]) == expected_icsp
    idms = idms_instructions("registry/ocp/test", ["quay/ocp/test"])
    assert "imageDigestSources:\n- mirrors:\n  - registry/ocp/test\n  source: quay/ocp/test\n" in idms
    assert idms.endswith(
        "apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: example\nspec:\n"
        "  imageDigestMirrors:\n  - mirrors:\n    - registry/ocp/test\n    source: quay/ocp/test\n"
    )


def test_mirror_sources_are_release_and_component_repositories() -> None:
    plan = Plan()
    d = "sha256:" + "b" * 64
    from engine.oci.payload import Component

    info = ReleaseInfo(
        "4.17.3",
        d,
        "x86_64",
        "",
        components=[Component("cli", f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{d}")],
    )
    assert mirror_sources(plan, info) == [
        "quay.io/openshift-release-dev/ocp-release",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev",
    ]


def test_release_files_must_reference_images_by_digest() -> None:
    meta = json.dumps(
        {
            "kind": "cincinnati-metadata-v0",
            "version": "4.17.3",
            "previous": ["4.17.2"],
            "metadata": {
                "url": "https://errata",
                "io.openshift.upgrades.graph.release.channels": "fast-4.17,stable-4.17",
            },
        }
    )
    refs = {
        "kind": "ImageStream",
        "metadata": {"name": "4.17.3"},
        "spec": {
            "tags": [
                {"name": "cli", "from": {"kind": "DockerImage", "name": "quay.io/a/b@sha256:" + "c" * 64}}
            ]
        },
    }
    info = parse_release_files(meta.encode(), json.dumps(refs).encode())
    assert info.channels == ["fast-4.17", "stable-4.17"] and info.previous == ["4.17.2"] and info.errata_url
    assert info.components[0].name == "cli"
    refs["spec"]["tags"][0]["from"]["name"] = "quay.io/a/b:latest"  # type: ignore[index]
    with pytest.raises(RegistryError, match="by digest"):
        parse_release_files(meta.encode(), json.dumps(refs).encode())
    refs["metadata"]["name"] = "4.17.2"  # type: ignore[index]
    with pytest.raises(RegistryError, match="names version 4.17.2"):
        parse_release_files(meta.encode(), json.dumps(refs).encode())


# ----- media -----------------------------------------------------------------------------------------------
def test_media_checksums_find_missing_resized_and_altered_files(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    blobs = [os.urandom(n) for n in (10, 2000, 70000)]
    for b in blobs:
        store.push_blob("openshift/release", sha256_digest(b), len(b), [b])
    m = Manifest.from_bytes(
        json.dumps({"schemaVersion": 2, "mediaType": reg_mod.OCI_MANIFEST, "layers": []}).encode()
    )
    store.put_manifest("openshift/release", "4.17.3-x86_64", m)
    (tmp_path / "config").mkdir()
    sig = tmp_path / "config" / signature_file_name(m.digest, "yaml")
    sig.write_text("kind: ConfigMap\n")
    assert find_signature_file(tmp_path, m.digest) == sig
    _, n = write_checksums(tmp_path)
    assert n == len(blobs) + 3  # blobs, manifest blob + its hard link, signature
    assert check_media(tmp_path).ok
    first, second, third = (store.blob_path("openshift/release", sha256_digest(b)) for b in blobs)
    first.unlink()
    second.write_bytes(b"x" * 5)
    data = bytearray(third.read_bytes())
    data[100] ^= 1
    third.write_bytes(bytes(data))
    problems = {(p.path.rsplit("/", 1)[-1], p.problem) for p in check_media(tmp_path).problems}
    assert problems == {(first.name, "missing"), (second.name, "size"), (third.name, "checksum")}


def test_dir_store_refuses_bytes_that_do_not_match_the_digest(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    with pytest.raises(DigestMismatch):
        store.push_blob("r", sha256_digest(b"good"), 4, [b"evil"])
    assert store.blob_size("r", sha256_digest(b"good")) is None
    assert not list((tmp_path / "v2" / "r" / "blobs").iterdir())


# ----- the registry client's upload paths against a real registry ----------------------------------------
pytestmark_registry = pytest.mark.skipif(
    shutil.which("docker-registry") is None, reason="docker-registry needed"
)


@pytestmark_registry
@pytest.mark.parametrize("path", ["monolithic", "chunked"])
def test_blob_upload_paths_check_the_digest_before_committing(
    registry_factory: Any, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    target = registry_factory()
    if path == "chunked":
        monkeypatch.setattr(reg_mod, "MONOLITHIC_MAX", 1024)
        monkeypatch.setattr(reg_mod, "UPLOAD_CHUNK", 256 * 1024)
    auth = AuthFile.parse(
        json.dumps({"auths": {target.host: {"auth": _b64(f"{target.user}:{target.password}")}}})
    )
    data = os.urandom(900 * 1024 + 17)
    digest = sha256_digest(data)
    pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    with RegistryClient(target.host, auth=auth, ca_file=str(target.ca_file)) as client:
        # wrong bytes for the digest: refused, nothing committed
        bad = bytearray(data)
        bad[-1] ^= 1
        with pytest.raises(DigestMismatch):
            client.push_blob("t/a", digest, len(data), [bytes(bad)])
        assert client.blob_size("t/a", digest) is None
        with pytest.raises(DigestMismatch):
            client.push_blob("t/a", digest, len(data), pieces[:-1])  # truncated
        assert client.blob_size("t/a", digest) is None
        client.push_blob("t/a", digest, len(data), iter(pieces))
        assert client.blob_size("t/a", digest) == len(data)
        with client.open_blob("t/a", digest) as chunks:
            assert sha256_digest(b"".join(chunks)) == digest
        assert client.mount_blob("t/b", digest, "t/a") is True
        assert client.blob_size("t/b", digest) == len(data)
        assert client.mount_blob("t/c", sha256_digest(b"unknown"), "t/a") is False
        # "is it here already?" and "start an upload" in one request
        assert client.mount_or_start("t/a", digest, "t/a") is None
        location = client.mount_or_start("t/d", digest, "t/d")
        assert location and "/v2/t/d/blobs/uploads/" in location
        client.push_blob("t/d", digest, len(data), iter(pieces), location=location)
        assert client.blob_size("t/d", digest) == len(data)
        cfg = b"{}"
        client.push_blob("t/a", sha256_digest(cfg), 2, [cfg])
        manifest = Manifest.from_bytes(
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": reg_mod.OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": sha256_digest(cfg),
                        "size": 2,
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": digest,
                            "size": len(data),
                        }
                    ],
                }
            ).encode()
        )
        client.put_manifest("t/a", "v1", manifest)
        assert client.head_manifest("t/a", "v1") == manifest.digest
        assert client.get_manifest("t/a", manifest.digest).data == manifest.data
        assert client.list_tags("t/a") == ["v1"]
        assert client.head_manifest("t/a", "nope") is None


def test_a_client_request_retries_as_its_policy_says_not_more() -> None:
    """Each request of a registry client retries by the client's policy (the plan's, set by the mirror run): the
    mirror's own retries wrap whole blob copies, so a request that retried by a fixed policy of its own multiplied
    the attempts (a registry down for good took eight times longer to be reported than the policy said)."""
    import socket

    from engine.oci.registry import RegistryClient, RetryPolicy, TransientError

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            conn.close()  # the connection drops before any answer: a transient failure

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.getsockname()[1]}"
    try:
        with RegistryClient(host, scheme="http") as client:
            client.retry = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01)
            with pytest.raises(TransientError):
                client.head_manifest("ocp4/openshift4", "4.16.20-x86_64")
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert len(accepted) == 2, accepted
