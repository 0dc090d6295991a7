"""CA trust: the host side in a scratch root (the real system trust is never touched), with the real
``update-ca-certificates`` building a bundle that then verifies a real TLS server; the non-root path; and the
cluster side (ConfigMap + image config) against the sandbox API."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine import trust
from engine.context import Context
from engine.events import Command, Emitter, Recorder
from engine.plan import Plan
from sandbox.certs import make_ca, make_server_cert

REGISTRY = "127.0.0.1:8443"


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def ca_pair(tmp_path):
    return make_ca(tmp_path / "pki", "mirror", common_name="Mirror Test CA")


@pytest.fixture
def tls_server(tmp_path, ca_pair):
    """A real HTTPS server on loopback with a certificate signed by ``ca_pair``."""
    server_pair = make_server_cert(ca_pair, tmp_path / "pki", "server")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(server_pair.cert), str(server_pair.key))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def debian_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for d in (
        "usr/share/ca-certificates",
        "usr/local/share/ca-certificates",
        "etc/ssl/certs",
        "etc/ca-certificates/update.d",
    ):
        (root / d).mkdir(parents=True)
    (root / "etc/ca-certificates.conf").write_text("")
    (root / "etc/debian_version").write_text("12.0\n")
    return root


def ctx(tmp_path: Path) -> tuple[Context, Recorder]:
    plan = Plan()
    plan.cluster.kubeconfig = str(tmp_path / "no-kubeconfig")
    rec = Recorder()
    return Context(plan, Emitter("credentials", rec)), rec


def test_parse_ca_pem_and_der(ca_pair, tmp_path):
    ca = trust.load_ca(ca_pair.cert)
    assert ca.is_ca and "Mirror Test CA" in ca.subject
    der = tmp_path / "ca.der"
    der.write_bytes(x509.load_pem_x509_certificate(ca_pair.cert.read_bytes()).public_bytes(Encoding.DER))
    from_der = trust.load_ca(der)
    assert from_der.pem == ca.pem and from_der.fingerprint == ca.fingerprint
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    with pytest.raises(trust.InputError):
        trust.load_ca(bad)


def test_configmap_key():
    assert trust.configmap_key("registry.example.com:8443") == "registry.example.com..8443"
    assert trust.configmap_key("registry.example.com") == "registry.example.com"


@pytest.mark.skipif(
    not shutil.which("update-ca-certificates"), reason="needs update-ca-certificates (Debian)"
)
def test_debian_host_trust_in_scratch_root_verifies_real_tls(tmp_path, ca_pair, tls_server):
    root = debian_root(tmp_path)
    assert trust.detect_family(root) == trust.DEBIAN
    layout = trust.HostTrustLayout(trust.DEBIAN, root, as_root=True)
    ca = trust.load_ca(ca_pair.cert)
    plan = trust.plan_host_trust(REGISTRY, ca, layout)
    assert [c.resource for c in plan.changes] == [
        str(root / "usr/local/share/ca-certificates/127.0.0.1_8443.crt"),
        str(root / "etc/containers/certs.d/127.0.0.1:8443/ca.crt"),
    ]
    assert all(
        str(root) in arg for arg in plan.refresh[2::2]
    )  # every folder of the refresh is in the scratch root

    # before: the bundle does not know the CA, the TLS server is not trusted
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(tls_server, context=ssl.create_default_context(), timeout=5)

    c, rec = ctx(tmp_path)
    assert trust.apply_host_trust(c, plan) is True
    assert (root / "etc/containers/certs.d/127.0.0.1:8443/ca.crt").read_bytes() == ca.pem
    bundle = layout.bundle
    assert ca.pem.decode().strip() in bundle.read_text()
    with urllib.request.urlopen(
        tls_server, context=ssl.create_default_context(cafile=str(bundle)), timeout=5
    ) as resp:
        assert resp.read() == b"ok"
    commands = [e.shell for e in rec.of(Command)]
    assert any(cmd.startswith("update-ca-certificates") for cmd in commands)

    # idempotent: a second plan has nothing to do
    assert not trust.plan_host_trust(REGISTRY, ca, layout).needed


def test_non_root_prints_exact_commands_and_changes_nothing(tmp_path, ca_pair):
    root = debian_root(tmp_path)
    layout = trust.HostTrustLayout(trust.DEBIAN, root, as_root=False)
    ca = trust.load_ca(ca_pair.cert)
    plan = trust.plan_host_trust(REGISTRY, ca, layout)
    c, rec = ctx(tmp_path)
    assert trust.apply_host_trust(c, plan) is False
    assert not (root / "usr/local/share/ca-certificates/127.0.0.1_8443.crt").exists()
    commands = [e.shell for e in rec.of(Command)]
    anchor = root / "usr/local/share/ca-certificates/127.0.0.1_8443.crt"
    assert f"sudo cp {ca_pair.cert} {anchor}" in commands
    assert any(cmd.startswith("sudo update-ca-certificates") for cmd in commands)
    assert any("needs root" in t for t in rec.texts())


def test_rhel_layout_uses_the_documented_anchor_folder(tmp_path, ca_pair):
    root = tmp_path / "rhel"
    (root / "etc").mkdir(parents=True)
    (root / "etc/redhat-release").write_text("Red Hat Enterprise Linux release 9.4\n")
    assert trust.detect_family(root) == trust.RHEL
    layout = trust.HostTrustLayout(trust.RHEL, root, as_root=True)
    plan = trust.plan_host_trust(REGISTRY, trust.load_ca(ca_pair.cert), layout)
    assert plan.changes[0].resource == str(root / "usr/share/pki/ca-trust-source/anchors/127.0.0.1_8443.crt")
    assert plan.refresh == ["update-ca-trust", "extract"]
    c, rec = ctx(tmp_path)
    trust.apply_host_trust(c, plan)  # writes the anchor; cannot refresh another root's bundle: says so
    assert Path(plan.changes[0].resource).exists()
    assert any("update-ca-trust extract" in t for t in rec.texts())


# ----- the cluster side (the shared lab; everything is put back afterwards) ---------------------------------


def lab_ctx(sandbox, context: str = "admin") -> tuple[Context, Recorder]:
    plan = Plan.load(sandbox.plan)
    plan.cluster.context = context
    rec = Recorder()
    return Context(plan, Emitter("credentials", rec)), rec


@pytest.fixture
def clean_cluster_trust(sandbox):
    from engine.cluster import CONFIGMAP, IMAGE_CONFIG, Cluster

    cluster = Cluster.connect(sandbox.kubeconfig, "admin")
    image_before = cluster.get(IMAGE_CONFIG, "cluster").get("spec", {}).get("additionalTrustedCA")
    yield cluster
    for name in ("registry-cas", "user-cas"):
        if cluster.get_or_none(CONFIGMAP, name, "openshift-config") is not None:
            cluster.delete(CONFIGMAP, name, "openshift-config")
    cluster.merge_patch(IMAGE_CONFIG, "cluster", {"spec": {"additionalTrustedCA": image_before}})


def test_cluster_trust_configmap_and_image_config(sandbox, clean_cluster_trust):
    from engine.cluster import CONFIGMAP, IMAGE_CONFIG

    cluster = clean_cluster_trust
    c, rec = lab_ctx(sandbox)
    ca = trust.load_ca(sandbox.mirror.ca_file)
    registry = sandbox.mirror.registry
    key = trust.configmap_key(registry)
    assert key == registry.replace(":", "..")
    steps = trust.plan_cluster_trust(c, registry, ca)
    assert [s.change.resource for s in steps] == [
        "configmap/openshift-config/registry-cas",
        "image.config.openshift.io/cluster",
    ]
    assert steps[0].change.command[-1] == f"--from-file={key}={sandbox.mirror.ca_file}"
    assert (
        cluster.get_or_none(CONFIGMAP, "registry-cas", "openshift-config") is None
    )  # planning changes nothing
    trust.apply_cluster_trust(c, steps)
    cm = cluster.get(CONFIGMAP, "registry-cas", "openshift-config")
    assert cm["data"][key] == ca.text
    assert cluster.get(IMAGE_CONFIG, "cluster")["spec"]["additionalTrustedCA"] == {"name": "registry-cas"}
    changes = c.journal.changes("credentials")
    assert [r.data["resource"] for r in changes[-2:]] == [
        "configmap/openshift-config/registry-cas",
        "image.config.openshift.io/cluster",
    ]
    assert "BEGIN CERTIFICATE" not in json.dumps([r.data for r in changes])  # fingerprints, not the PEM
    commands = [e.shell for e in rec.of(Command)]
    assert any(
        s.startswith("oc ") and "patch image.config.openshift.io/cluster --type=merge" in s for s in commands
    )
    assert trust.plan_cluster_trust(c, registry, ca) == []  # idempotent


def test_cluster_trust_adds_to_the_configmap_already_named(sandbox, clean_cluster_trust):
    from engine.cluster import CONFIGMAP, IMAGE_CONFIG

    cluster = clean_cluster_trust
    cluster.create(
        CONFIGMAP,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "user-cas", "namespace": "openshift-config"},
            "data": {
                "other.example.com..5000": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
            },
        },
        "openshift-config",
    )
    cluster.merge_patch(IMAGE_CONFIG, "cluster", {"spec": {"additionalTrustedCA": {"name": "user-cas"}}})
    c, _ = lab_ctx(sandbox)
    ca = trust.load_ca(sandbox.mirror.ca_file)
    steps = trust.plan_cluster_trust(c, sandbox.mirror.registry, ca)
    assert [s.change.resource for s in steps] == ["configmap/openshift-config/user-cas"]
    trust.apply_cluster_trust(c, steps)
    data = cluster.get(CONFIGMAP, "user-cas", "openshift-config")["data"]
    assert set(data) == {"other.example.com..5000", trust.configmap_key(sandbox.mirror.registry)}


def test_read_only_user_gets_403_naming_the_right(sandbox, clean_cluster_trust):
    from engine.errors import Forbidden

    c, _ = lab_ctx(sandbox, "readonly")
    steps = trust.plan_cluster_trust(c, sandbox.mirror.registry, trust.load_ca(sandbox.mirror.ca_file))
    with pytest.raises(Forbidden) as info:
        trust.apply_cluster_trust(c, steps)
    assert 'User "auditor" cannot create resource "configmaps"' in info.value.message
    assert 'namespace "openshift-config"' in info.value.message
    assert "cluster-admin" in info.value.fix


def test_cli_trust_ca_dry_run_and_confirmation(sandbox, clean_cluster_trust, tmp_path):
    import os
    import subprocess
    import sys

    from engine.cluster import CONFIGMAP

    env = dict(os.environ, OCP_AIRGAP_STATE_DIR=str(tmp_path / "state"))
    base = [sys.executable, "-m", "cli", "credentials", "trust-ca", "--plan", sandbox.plan, "--cluster-only"]
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([*base, "--dry-run"], capture_output=True, text=True, env=env, cwd=repo, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "registry-cas" in res.stdout and "dry run: nothing was changed" in res.stdout
    res = subprocess.run(
        base, capture_output=True, text=True, env=env, cwd=repo, timeout=60, stdin=subprocess.DEVNULL
    )
    assert res.returncode == 3 and "--yes" in res.stderr
    assert clean_cluster_trust.get_or_none(CONFIGMAP, "registry-cas", "openshift-config") is None
    res = subprocess.run([*base, "--yes"], capture_output=True, text=True, env=env, cwd=repo, timeout=60)
    assert res.returncode == 0, res.stderr
    assert clean_cluster_trust.get_or_none(CONFIGMAP, "registry-cas", "openshift-config") is not None
