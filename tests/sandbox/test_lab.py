"""The whole lab, as a user sees it: files in D, kubectl, skopeo, signatures, the graph, and a clean ``down``."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pysequoia as ps
import pytest
import yaml

from engine.plan import Plan
from sandbox.lab import SandboxInfo, down, status, up
from sandbox.registry import SandboxError, pid_alive
from sandbox.sigstore import generate_key, sign_release
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _kubectl(info: SandboxInfo, *args: str, context: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["kubectl", "--kubeconfig", info.kubeconfig, *(["--context", context] if context else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)


def test_sandbox_json_and_files(sandbox: SandboxInfo, record_property: Any) -> None:
    d = Path(sandbox.directory)
    record_property("sandbox_up_seconds", sandbox.timings.get("total"))
    print(f"sandbox up took {sandbox.timings.get('total')} s: {sandbox.timings}")
    raw = json.loads((d / "sandbox.json").read_text())
    for key in (
        "kubeconfig", "plan", "auth_file", "pull_secret", "pids", "upstream", "mirror", "releases",
        "signature_store", "graph_url", "current_version", "api", "signing_key",
    ):  # fmt: skip
        assert key in raw, key
    assert set(raw["upstream"]) >= {"registry", "ca_file"}
    assert set(raw["mirror"]) >= {"registry", "repository", "ca_file", "username", "password_file"}
    assert set(raw["releases"][0]) >= {"version", "architecture", "digest", "pullspec"}
    assert set(raw["pids"]) == {
        "upstream-registry",
        "mirror-registry",
        "httpd",
        "mirror-readonly-proxy",
        "apiserver",
        "upstream-token-service",
    }
    assert SandboxInfo.load(d) == sandbox
    assert sandbox.current_version == "4.16.18" and sandbox.target_version == "4.17.3"
    assert [(r.version, r.architecture) for r in sandbox.releases] == [
        ("4.16.18", "x86_64"), ("4.16.20", "x86_64"), ("4.17.3", "x86_64"),
    ]  # fmt: skip
    for secret in (sandbox.auth_file, sandbox.pull_secret, sandbox.mirror.password_file, sandbox.kubeconfig,
                   sandbox.mirror.readonly_password_file, sandbox.signing_key.secret_key):  # fmt: skip
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600, secret
    # no secret in sandbox.json or the plan
    password = sandbox.mirror_password()
    assert password not in (d / "sandbox.json").read_text()
    assert password not in Path(sandbox.plan).read_text()
    # pull secret = upstream only; auth file = upstream + mirror
    pull = json.loads(Path(sandbox.pull_secret).read_text())["auths"]
    auth = json.loads(Path(sandbox.auth_file).read_text())["auths"]
    assert sandbox.upstream.registry in pull and sandbox.mirror.registry not in pull
    assert set(auth) == set(pull) | {sandbox.mirror.registry}
    # kubeconfig: admin context current, plus readonly
    kc = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
    assert kc["current-context"] == "admin"
    assert {c["name"] for c in kc["contexts"]} == {"admin", "readonly"}
    assert kc["clusters"][0]["cluster"]["server"] == sandbox.api.server


def test_plan_is_complete(sandbox: SandboxInfo) -> None:
    plan = Plan.load(sandbox.plan)
    plan.require(
        "cluster.kubeconfig", "mirror.registry", "mirror.repository", "mirror.ca_file", "mirror.username",
        "release.version", "release.channel", "auth_file",
    )  # fmt: skip
    assert plan.release.version == "4.17.3" and plan.release.channel == "stable-4.17"
    assert plan.mirror.registry == sandbox.mirror.registry and plan.mirror.repository == "ocp4/openshift4"
    assert plan.endpoints.release_source == f"{sandbox.upstream.registry}/openshift-release-dev/ocp-release"
    assert (
        plan.endpoints.component_source
        == f"{sandbox.upstream.registry}/openshift-release-dev/ocp-v4.0-art-dev"
    )
    assert plan.endpoints.source_ca_file == sandbox.upstream.ca_file
    assert plan.endpoints.signature_store == sandbox.signature_store
    assert plan.endpoints.update_graph == sandbox.graph_url
    assert plan.auth_file == sandbox.auth_file
    assert plan.source_pullspec == sandbox.release("4.17.3").tag_pullspec


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_answers(sandbox: SandboxInfo) -> None:
    r = _kubectl(sandbox, "get", "clusterversion", "version", "-o", "json")
    assert r.returncode == 0, r.stderr
    cv = json.loads(r.stdout)
    assert cv["status"]["desired"]["version"] == sandbox.current_version
    assert cv["status"]["desired"]["image"] == sandbox.release(sandbox.current_version).pullspec
    assert cv["spec"]["channel"] == "stable-4.16"
    r = _kubectl(sandbox, "get", "mhc", "-n", "openshift-machine-api", "-o", "json")
    assert r.returncode == 0, r.stderr
    mhcs = json.loads(r.stdout)["items"]
    paused = [m for m in mhcs if "cluster.x-k8s.io/paused" in m["metadata"].get("annotations", {})]
    assert len(mhcs) >= 2 and len(paused) == 1
    for resource in ("co", "mcp", "nodes", "clusterversion"):
        r = _kubectl(sandbox, "get", resource)
        assert r.returncode == 0 and r.stdout.startswith("NAME"), (resource, r.stderr)
    assert {"master", "worker"} <= {
        line.split()[0] for line in _kubectl(sandbox, "get", "mcp").stdout.splitlines()[1:]
    }
    # the read-only context reads, and may not write
    assert _kubectl(sandbox, "get", "clusterversion", context="readonly").returncode == 0
    r = _kubectl(sandbox, "label", "namespace", "default", "x=y", context="readonly")
    assert r.returncode != 0 and "forbidden" in r.stderr.lower()


def test_python_kubernetes_client_with_kubeconfig(sandbox: SandboxInfo) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=sandbox.kubeconfig, context="admin")
    with api_client:
        cv = client.CustomObjectsApi(api_client).get_cluster_custom_object(
            "config.openshift.io", "v1", "clusterversions", "version"
        )
        assert cv["status"]["desired"]["version"] == sandbox.current_version


def test_skopeo_sees_every_release_upstream(sandbox: SandboxInfo) -> None:
    certs = ["--authfile", sandbox.auth_file, "--cert-dir", sandbox.upstream.cert_dir]
    for rel in sandbox.releases:
        for ref in (rel.pullspec, rel.tag_pullspec):
            r = _skopeo("inspect", *certs, f"docker://{ref}")
            assert r.returncode == 0, r.stderr
            doc = json.loads(r.stdout)
            assert doc["Digest"] == rel.digest
            assert doc["Labels"]["io.openshift.release"] == rel.version
            assert doc["Architecture"] == "amd64"
    r = _skopeo("list-tags", *certs, f"docker://{sandbox.upstream.release_repository}")
    # each release and, beside it, its cosign signature image (sha256-<hex>.sig)
    assert sorted(json.loads(r.stdout)["Tags"]) == sorted(
        [f"{v}-x86_64" for v in ("4.16.18", "4.16.20", "4.17.3")]
        + [f"sha256-{rel.digest.split(':', 1)[1]}.sig" for rel in sandbox.releases]
    )
    sig = rel.digest.replace(":", "-", 1) + ".sig"
    r = _skopeo("inspect", "--raw", *certs, f"docker://{sandbox.upstream.release_repository}:{sig}")
    layer = json.loads(r.stdout)["layers"][0]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["annotations"]["dev.cosignproject.cosign/signature"]
    # the pull secret alone (as downloaded from OpenShift Cluster Manager) is enough for the upstream
    r = _skopeo("inspect", "--raw", "--authfile", sandbox.pull_secret, "--cert-dir", sandbox.upstream.cert_dir,
                f"docker://{sandbox.releases[0].pullspec}")  # fmt: skip
    assert r.returncode == 0, r.stderr
    # without credentials: the release image is public (as on quay.io), its components are not
    r = _skopeo(
        "inspect",
        "--raw",
        "--no-creds",
        "--cert-dir",
        sandbox.upstream.cert_dir,
        f"docker://{sandbox.releases[0].pullspec}",
    )
    assert r.returncode == 0, r.stderr
    component = sandbox.upstream.component_repository
    r = _skopeo("list-tags", "--no-creds", "--cert-dir", sandbox.upstream.cert_dir, f"docker://{component}")
    assert r.returncode != 0 and "unauthorized" in r.stderr.lower(), r.stderr


def test_release_components_exist_upstream(sandbox: SandboxInfo, tmp_path: Path) -> None:
    rel = sandbox.release(sandbox.target_version)
    out = tmp_path / "release"
    certs = ["--src-authfile", sandbox.auth_file, "--src-cert-dir", sandbox.upstream.cert_dir]
    r = _skopeo("copy", "--quiet", *certs, f"docker://{rel.pullspec}", f"dir:{out}")
    assert r.returncode == 0, r.stderr
    import gzip
    import io
    import tarfile

    refs = None
    manifest = json.loads((out / "manifest.json").read_text())
    for layer in manifest["layers"]:
        blob = gzip.decompress((out / layer["digest"].split(":", 1)[1]).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            if "release-manifests/image-references" in tar.getnames():
                f = tar.extractfile("release-manifests/image-references")
                assert f is not None
                refs = json.loads(f.read())
    assert refs is not None and refs["metadata"]["name"] == rel.version
    assert len(refs["spec"]["tags"]) == rel.components == 24
    some = refs["spec"]["tags"][0]["from"]["name"]
    assert some.startswith(f"{sandbox.upstream.registry}/openshift-release-dev/ocp-v4.0-art-dev@sha256:")
    r = _skopeo(
        "inspect",
        "--raw",
        "--authfile",
        sandbox.auth_file,
        "--cert-dir",
        sandbox.upstream.cert_dir,
        f"docker://{some}",
    )
    assert r.returncode == 0, r.stderr


def test_mirror_accepts_the_read_write_user_and_the_read_only_endpoint_denies(
    sandbox: SandboxInfo, tmp_path: Path
) -> None:
    rel = sandbox.releases[0]
    src = ["--src-authfile", sandbox.auth_file, "--src-cert-dir", sandbox.upstream.cert_dir]
    dest = ["--dest-authfile", sandbox.auth_file, "--dest-cert-dir", sandbox.mirror.cert_dir]
    component = "openshift-release-dev/ocp-v4.0-art-dev"
    tag = "lab-test-hello"
    # a read-write copy of one small image into a scratch repository of the mirror
    r = _skopeo("copy", "--quiet", *src, *dest, f"docker://{sandbox.upstream.registry}/{component}:"
                f"{rel.version}-x86_64-cluster-version-operator", f"docker://{sandbox.mirror.registry}/lab-test/hello:{tag}")  # fmt: skip
    assert r.returncode == 0, r.stderr
    ro_auth = tmp_path / "ro.json"
    import base64

    user, pw = (
        sandbox.mirror.readonly_username,
        Path(sandbox.mirror.readonly_password_file).read_text().strip(),
    )
    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
    ro_auth.write_text(json.dumps({"auths": {sandbox.mirror.readonly_registry: {"auth": token}}}))
    ro_certs = tmp_path / "ro-certs"
    ro_certs.mkdir()
    shutil.copy(sandbox.mirror.ca_file, ro_certs / "ca.crt")
    ro = f"docker://{sandbox.mirror.readonly_registry}/lab-test/hello"
    r = _skopeo("inspect", "--authfile", str(ro_auth), "--cert-dir", str(ro_certs), f"{ro}:{tag}")
    assert r.returncode == 0, r.stderr
    r = _skopeo("copy", "--quiet", *src, "--dest-authfile", str(ro_auth), "--dest-cert-dir", str(ro_certs),
                f"docker://{sandbox.releases[0].pullspec}", f"{ro}:denied")  # fmt: skip
    assert r.returncode != 0 and "denied" in r.stderr.lower()


def test_signatures_verify_with_the_lab_key(sandbox: SandboxInfo) -> None:
    cert = ps.Cert.from_file(sandbox.signing_key.public_key)
    assert cert.fingerprint == sandbox.signing_key.fingerprint
    for rel in sandbox.releases:
        assert rel.signature_url == (
            f"{sandbox.signature_store}/sha256={rel.digest.split(':', 1)[1]}/signature-1"
        )
        r = httpx.get(rel.signature_url)
        assert r.status_code == 200
        result = ps.verify(bytes=r.content, store=lambda _ids, c=cert: [c])
        doc = json.loads(bytes(result.bytes or b""))
        assert doc == {
            "critical": {
                "type": "atomic container signature",
                "image": {"docker-manifest-digest": rel.digest},
                "identity": {"docker-reference": rel.tag_pullspec},
            },
            "optional": {"creator": "ocp-airgap sandbox"},
        }
    # the real layout: a second signature or an unknown digest is a 404
    assert httpx.get(sandbox.releases[0].signature_url[:-1] + "2").status_code == 404
    assert httpx.get(f"{sandbox.signature_store}/sha256={'0' * 64}/signature-1").status_code == 404


def test_wrong_key_signature_does_not_verify(sandbox: SandboxInfo, tmp_path: Path) -> None:
    other = generate_key(tmp_path, name="other")
    rel = sandbox.releases[-1]
    forged = sign_release(other.tsk, rel.digest, rel.tag_pullspec)
    lab_cert = ps.Cert.from_file(sandbox.signing_key.public_key)
    with pytest.raises(Exception):  # noqa: B017 - pysequoia raises a plain RuntimeError/ValueError
        ps.verify(bytes=forged, store=lambda _ids: [lab_cert])


def test_update_graph(sandbox: SandboxInfo) -> None:
    r = httpx.get(sandbox.graph_url, params={"channel": "stable-4.17", "arch": "amd64"},
                  headers={"Accept": "application/json"})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    g = r.json()
    assert set(g) == {"version", "nodes", "edges", "conditionalEdges"}
    versions = [n["version"] for n in g["nodes"]]
    by_version = {n["version"]: n for n in g["nodes"]}
    for rel in sandbox.releases:
        assert by_version[rel.version]["payload"] == rel.pullspec
        assert (
            "stable-4.17"
            in by_version[rel.version]["metadata"]["io.openshift.upgrades.graph.release.channels"]
        )
    for a, b in g["edges"]:
        assert 0 <= a < len(versions) and 0 <= b < len(versions)
    edges = {(versions[a], versions[b]) for a, b in g["edges"]}
    assert {("4.16.18", "4.16.20"), ("4.16.20", "4.17.3")} <= edges
    cond = g["conditionalEdges"]
    assert {"from": "4.16.18", "to": "4.17.3"} in cond[0]["edges"]
    assert cond[0]["risks"][0]["matchingRules"][0]["type"] == "PromQL"
    s416 = httpx.get(sandbox.graph_url, params={"channel": "stable-4.16", "arch": "amd64"}).json()
    assert "4.17.3" not in [n["version"] for n in s416["nodes"]]
    r = httpx.get(sandbox.graph_url, params={"arch": "amd64"})
    assert r.status_code == 400
    assert r.json() == {"kind": "missing_params", "value": "mandatory client parameters missing: channel"}
    assert httpx.get(sandbox.graph_url, params={"channel": "stable-9.9"}).json()["nodes"] == []


def test_down_stops_every_process_and_is_idempotent(sandbox_factory: Any) -> None:
    info = sandbox_factory(components=4, size_mb=2)
    pids = dict(info.pids)
    assert set(pids) == {
        "upstream-registry",
        "mirror-registry",
        "httpd",
        "mirror-readonly-proxy",
        "apiserver",
        "upstream-token-service",
    }
    assert all(pid_alive(p) for p in pids.values())
    assert all(s["alive"] for s in status(info.directory).values())
    result = down(info.directory)
    assert result == dict.fromkeys(pids, True)
    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} (pid {pid}) still runs"
    assert not any(s["alive"] for s in status(info.directory).values())
    assert down(info.directory) == dict.fromkeys(pids, True)
    # once down, the same folder can be brought up again
    again = up(info.directory, components=2, size_mb=1, api=False, speed=600)
    try:
        assert all(pid_alive(p) for p in again.pids.values())
    finally:
        down(info.directory)
    assert not any(pid_alive(p) for p in again.pids.values())


def test_failed_up_stops_what_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.lab as lab

    def broken_push(*_a: Any, **_kw: Any) -> float:
        raise SandboxError("injected push failure", fix="none")

    monkeypatch.setattr(lab, "push_layout", broken_push)
    with pytest.raises(SandboxError, match="injected push failure"):
        up(tmp_path / "lab", components=2, size_mb=1, api=False)
    procs = status(tmp_path / "lab")
    assert {"upstream-registry", "mirror-registry"} <= set(procs)
    assert not any(s["alive"] for s in procs.values()), procs


def test_cli_up_status_down(tmp_path: Path) -> None:
    d = tmp_path / "cli-lab"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "sandbox", *args], capture_output=True, text=True,
                              timeout=120, env=env, cwd=ROOT)  # fmt: skip

    r = cli("up", "--dir", str(d), "--components", "3", "--size-mb", "1", "--speed", "600", "--json")
    try:
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        pids = info["pids"]
        assert len(pids) == 6  # with the upstream registry's token service
        # a second 'up' in the same folder is refused with the fix
        again = cli("up", "--dir", str(d))
        assert again.returncode == 1 and "already running" in again.stderr and "fix:" in again.stderr
        st = cli("status", "--dir", str(d), "--json")
        assert st.returncode == 0 and json.loads(st.stdout)["running"] is True
        # the lab outlives the command that started it
        assert all(pid_alive(p) for p in pids.values())
    finally:
        dn = cli("down", "--dir", str(d))
    assert dn.returncode == 0, dn.stderr
    wait_until(lambda: not any(pid_alive(p) for p in pids.values()), timeout=10, what="lab processes to exit")
    st = cli("status", "--dir", str(d))
    assert st.returncode == 4 and "stopped" in st.stdout
