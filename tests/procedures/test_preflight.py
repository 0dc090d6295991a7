"""Preflight against the sandbox lab: a healthy admin run, the read-only user's missing rights, a Failing
cluster, an update already in progress, a paused pool, the CloudCredential gate, the etcd backup decision, and
the mirror registry's TLS / subjectAltName / expiry / login / push-right checks."""

from __future__ import annotations

import copy
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.commands.preflight import parse_when
from engine.cluster import CLOUD_CREDENTIAL, CLUSTER_VERSION, MCP, MERGE_PATCH, Cluster
from engine.context import Context
from engine.events import CheckResult, CheckStatus, Emitter, Recorder
from engine.plan import Plan
from engine.preflight import PreflightOptions, run_preflight
from sandbox.certs import make_ca, make_server_cert

# The tests of this module share a module-scoped lab and build on one another: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("test_preflight")

REPO = Path(__file__).resolve().parents[2]
TEST_SPEED = float(os.environ.get("OCP_AIRGAP_TEST_SPEED", "600"))


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def preflight(plan: Plan, **options: Any) -> tuple[dict[str, CheckResult], Recorder]:
    rec = Recorder()
    ctx = Context(plan, Emitter("preflight", rec))
    results = run_preflight(ctx, PreflightOptions(**options))
    assert len(by_name(results)) == len(results), "check names are unique"
    return by_name(results), rec


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture(scope="module")
def private_lab(tmp_path_factory) -> Iterator[Any]:
    """A lab of our own: these tests make the cluster fail, pause pools, annotate CloudCredential."""
    import shutil

    if not (shutil.which("docker-registry") and shutil.which("skopeo")):
        pytest.skip("the sandbox lab needs docker-registry and skopeo")
    from sandbox.lab import down, status, up

    directory = tmp_path_factory.mktemp("preflight-lab")
    try:
        info = up(directory, speed=TEST_SPEED, components=6, size_mb=2)
        yield info
    finally:
        down(directory)
        left = {n: s["pid"] for n, s in status(directory).items() if s["alive"]}
        assert not left, f"lab processes left running: {left}"


def admin(info: Any) -> Cluster:
    return Cluster.connect(info.kubeconfig, "admin")


def set_cv_condition(
    cluster: Cluster, ctype: str, status: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    """Write a ClusterVersion condition through the /status subresource; returns the previous conditions."""
    cv = cluster.cluster_version()
    before = copy.deepcopy(cv["status"]["conditions"])
    conds = [c for c in cv["status"]["conditions"] if c["type"] != ctype]
    conds.append(
        {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    cluster.request(
        "PATCH",
        CLUSTER_VERSION.path(None, "version", "status"),
        body={"status": {"conditions": conds}},
        content_type=MERGE_PATCH,
    )
    return {"conditions": before}


def restore_cv_status(cluster: Cluster, previous: dict[str, Any]) -> None:
    cluster.request(
        "PATCH",
        CLUSTER_VERSION.path(None, "version", "status"),
        body={"status": previous},
        content_type=MERGE_PATCH,
    )


# ----- the shared lab: read-only runs ------------------------------------------------------------------------


def test_admin_preflight_on_the_lab(sandbox, state_dir):
    plan = Plan.load(sandbox.plan)
    checks, rec = preflight(plan, etcd_backup_at=datetime.now(UTC) - timedelta(hours=1))
    for name in (
        "cluster API",
        "rights",
        "ClusterVersion",
        "Failing",
        "Invalid",
        "Progressing",
        "RetrievedUpdates",
        "ClusterOperators",
        "Nodes",
        "MachineConfigPools",
        "etcd backup",
        "mirror reachable",
        "mirror TLS trust",
        "mirror certificate SAN",
        "mirror certificate expiry",
        "mirror credentials",
        "mirror push right",
        "update path",
        "release signature",
    ):
        assert checks[name].status == CheckStatus.PASS, (name, checks[name].detail, checks[name].fix)
    assert sandbox.current_version in checks["ClusterVersion"].detail
    assert "kube:admin" in checks["cluster API"].detail
    assert "an upload was started and cancelled" in checks["mirror push right"].detail
    assert "4.16.18 -> 4.16.20 -> 4.17.3" in checks["update path"].detail
    # the lab's payments PDB allows no disruption: named with its pod and node
    pdb = checks["PodDisruptionBudgets"]
    assert pdb.status == CheckStatus.FAIL and "--accept-blocking-pdbs" in pdb.fix
    assert (
        "payments/payments-api-pdb" in pdb.detail and "payments-api-" in pdb.detail and "worker" in pdb.detail
    )
    # the lab's cluster uses Manual cloud credentials without the annotation: a minor update is blocked
    assert checks["CloudCredential"].status == CheckStatus.FAIL
    assert (
        "oc annotate cloudcredential cluster cloudcredential.openshift.io/upgradeable-to=4.17.3"
        in checks["CloudCredential"].fix
    )
    # every check has a why; every non-pass has a fix
    for r in checks.values():
        assert r.why, r.name
        if r.status != CheckStatus.PASS:
            assert r.fix, r.name
    shells = [e.shell for e in rec.events if e.kind == "Command"]
    assert any(
        "cluster-backup.sh /home/core/assets/backup" in s and "oc debug --as-root node/" in s for s in shells
    )
    assert any(s.endswith(" whoami") for s in shells)
    password = sandbox.mirror_password()
    assert all(password not in json.dumps(e.to_dict(), default=str) for e in rec.events)


def test_read_only_user_missing_rights_are_named(sandbox, state_dir):
    plan = Plan.load(sandbox.plan)
    plan.cluster.context = "readonly"
    checks, _ = preflight(plan)
    assert checks["cluster API"].status == CheckStatus.PASS
    rights = checks["rights"]
    assert rights.status == CheckStatus.FAIL
    assert "user auditor lacks" in rights.detail
    assert "patch clusterversions.config.openshift.io/version (to start the update)" in rights.detail
    assert "patch machinehealthchecks.machine.openshift.io in openshift-machine-api" in rights.detail
    assert "create configmaps in openshift-config-managed" in rights.detail
    assert "oc adm policy add-cluster-role-to-user cluster-admin auditor" in rights.fix


def test_cli_exit_code_and_json(sandbox, state_dir, tmp_path):
    env = dict(os.environ, OCP_AIRGAP_STATE_DIR=str(state_dir))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "preflight",
            "--plan",
            sandbox.plan,
            "--json",
            "--etcd-backup-at",
            "1h",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 4, res.stderr  # CloudCredential gate fails on the lab's cluster
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    checks = [e for e in events if e["kind"] == "CheckResult"]
    assert {"pass", "warn", "fail"} <= {c["status"] for c in checks}
    result = events[-1]
    assert result["kind"] == "StepResult" and result["status"] == "failed"
    assert "CloudCredential" in result["summary"]
    assert any(e["kind"] == "Command" for e in events)


def test_no_cluster_on_connected_side_is_a_warning(tmp_path, state_dir, sandbox):
    plan = Plan.load(sandbox.plan)
    plan.cluster.kubeconfig = str(tmp_path / "absent-kubeconfig")
    plan.mirroring.mode = "to-media"
    plan.mirroring.media_path = str(tmp_path / "media")
    checks, _ = preflight(plan)
    assert checks["cluster API"].status == CheckStatus.WARN
    for name in ("rights", "Failing", "Nodes", "ClusterOperators", "mirror push right", "update path"):
        assert checks[name].status == CheckStatus.WARN, name
        assert "not checked" in checks[name].detail
    assert checks["media free space"].status in (CheckStatus.WARN, CheckStatus.PASS)
    assert "free" in checks["media free space"].detail
    # a disconnected-side run with no cluster is a failure, not a warning
    plan.mirroring.mode = "direct"
    checks, _ = preflight(plan)
    assert checks["cluster API"].status == CheckStatus.FAIL


# ----- the private lab: a cluster in trouble ---------------------------------------------------------------


def test_failing_cluster(private_lab, state_dir):
    cluster = admin(private_lab)
    previous = set_cv_condition(
        cluster, "Failing", "True", "ClusterOperatorDegraded", "Cluster operator etcd is degraded"
    )
    try:
        checks, _ = preflight(Plan.load(private_lab.plan))
    finally:
        restore_cv_status(cluster, previous)
    failing = checks["Failing"]
    assert failing.status == CheckStatus.FAIL
    assert "ClusterOperatorDegraded" in failing.detail and "etcd is degraded" in failing.detail
    assert failing.fix


def test_update_already_in_progress(private_lab, state_dir):
    cluster = admin(private_lab)
    previous = set_cv_condition(
        cluster, "Progressing", "True", "", "Working towards 4.16.20: 112 of 845 done (13% complete)"
    )
    try:
        checks, _ = preflight(Plan.load(private_lab.plan))
    finally:
        restore_cv_status(cluster, previous)
    prog = checks["Progressing"]
    assert prog.status == CheckStatus.FAIL
    assert "already in progress" in prog.detail and "13% complete" in prog.detail
    assert "upgrade watch" in prog.fix


def test_paused_pool_and_cloud_credential_annotation(private_lab, state_dir):
    cluster = admin(private_lab)
    cluster.merge_patch(MCP, "worker", {"spec": {"paused": True}})
    cluster.merge_patch(
        CLOUD_CREDENTIAL,
        "cluster",
        {"metadata": {"annotations": {"cloudcredential.openshift.io/upgradeable-to": "4.17.3"}}},
    )
    try:
        checks, _ = preflight(Plan.load(private_lab.plan))
    finally:
        cluster.merge_patch(MCP, "worker", {"spec": {"paused": False}})
        cluster.merge_patch(
            CLOUD_CREDENTIAL,
            "cluster",
            {"metadata": {"annotations": {"cloudcredential.openshift.io/upgradeable-to": None}}},
        )
    pools = checks["MachineConfigPools"]
    assert pools.status == CheckStatus.FAIL and "paused: worker" in pools.detail
    assert "oc patch mcp/worker" in pools.fix
    assert checks["CloudCredential"].status == CheckStatus.PASS
    assert "upgradeable-to=4.17.3 covers 4.17.3" in checks["CloudCredential"].detail


def test_z_stream_target_is_not_gated(private_lab, state_dir):
    from tests.helpers import wait_until

    cluster = admin(private_lab)

    def upgradeable() -> str:
        conds = cluster.cluster_version().get("status", {}).get("conditions") or []
        return next((c.get("status", "") for c in conds if c.get("type") == "Upgradeable"), "")

    # the lab's CVO, like the real one, re-evaluates Upgradeable on its own cadence: wait until it says False
    # again (an earlier test of this module may have set the CloudCredential annotation for a while)
    wait_until(lambda: upgradeable() == "False", 60, what="Upgradeable=False")
    plan = Plan.load(private_lab.plan)
    plan.release.version = "4.16.20"
    plan.release.channel = "stable-4.16"
    checks, _ = preflight(plan)
    assert checks["Upgradeable"].status == CheckStatus.PASS
    assert "z-stream" in checks["Upgradeable"].detail
    assert checks["CloudCredential"].status == CheckStatus.PASS
    assert checks["update path"].status == CheckStatus.PASS
    assert "4.16.18 -> 4.16.20" in checks["update path"].detail


def test_etcd_backup_statement_is_journaled(private_lab, state_dir):
    plan = Plan.load(private_lab.plan)
    stated = datetime.now(UTC) - timedelta(hours=2)
    checks, _ = preflight(plan, etcd_backup_at=stated)
    assert checks["etcd backup"].status == CheckStatus.PASS
    from engine.journal import Journal

    journal = Journal.for_cluster(private_lab.api.server)
    assert journal.decision("preflight", "etcd-backup") == stated.isoformat()
    # a later run without a statement uses the journal; three days later it is stale
    checks, _ = preflight(plan, now=stated + timedelta(days=3))
    assert checks["etcd backup"].status == CheckStatus.WARN
    assert "3 day(s)" in checks["etcd backup"].detail
    assert "cluster-backup.sh" in checks["etcd backup"].fix


def test_parse_when():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("now", now) == now
    assert parse_when("3h", now) == now - timedelta(hours=3)
    assert parse_when("2024-05-01T10:00Z", now) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(Exception, match="not a time"):
        parse_when("yesterday-ish", now)


# ----- mirror registry problems ----------------------------------------------------------------------------


def mirror_only_plan(sandbox: Any, tmp_path: Path) -> Plan:
    """The lab plan with no cluster (its checks fail fast) so the mirror checks are what is looked at."""
    plan = Plan.load(sandbox.plan)
    plan.cluster.kubeconfig = str(tmp_path / "absent-kubeconfig")
    return plan


def test_untrusted_mirror_ca(sandbox, tmp_path, state_dir):
    plan = mirror_only_plan(sandbox, tmp_path)
    plan.mirror.ca_file = ""
    checks, _ = preflight(plan)
    trust = checks["mirror TLS trust"]
    assert trust.status == CheckStatus.FAIL
    assert "does not trust" in trust.detail
    assert "credentials trust-ca" in trust.fix
    assert checks["mirror credentials"].status == CheckStatus.WARN


def test_wrong_password_and_read_only_account(sandbox, tmp_path, state_dir):
    plan = mirror_only_plan(sandbox, tmp_path)
    auth = tmp_path / "auth.json"
    import base64

    def write_auth(registry: str, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        auth.write_text(json.dumps({"auths": {registry: {"auth": token}}}))
        os.chmod(auth, 0o600)

    write_auth(sandbox.mirror.registry, sandbox.mirror.username, "wrong-password-123")
    plan.auth_file = str(auth)
    checks, _ = preflight(plan)
    creds = checks["mirror credentials"]
    assert creds.status == CheckStatus.FAIL and "rejected the login" in creds.detail

    ro_password = Path(sandbox.mirror.readonly_password_file).read_text().strip()
    write_auth(sandbox.mirror.readonly_registry, sandbox.mirror.readonly_username, ro_password)
    plan.mirror.registry = sandbox.mirror.readonly_registry
    plan.mirror.username = sandbox.mirror.readonly_username
    checks, _ = preflight(plan)
    assert checks["mirror credentials"].status == CheckStatus.PASS, checks["mirror credentials"].detail
    push = checks["mirror push right"]
    assert push.status == CheckStatus.FAIL
    assert f"user {sandbox.mirror.readonly_username} may not push" in push.detail


@pytest.fixture
def odd_tls_server(tmp_path) -> Iterator[Any]:
    """Start HTTPS servers with a chosen certificate: ``start(san=..., expired=..., days=...) -> host:port``."""
    ca = make_ca(tmp_path / "pki", "odd", common_name="Odd Test CA")
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    def start(**kw: Any) -> str:
        pair = make_server_cert(ca, tmp_path / "pki", f"srv{len(servers)}", **kw)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"127.0.0.1:{httpd.server_address[1]}"

    start.ca_file = str(ca.cert)  # type: ignore[attr-defined]
    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_certificate_without_san_and_expiring(sandbox, tmp_path, state_dir, odd_tls_server):
    plan = mirror_only_plan(sandbox, tmp_path)
    plan.mirror.ca_file = odd_tls_server.ca_file
    plan.mirror.registry = odd_tls_server(san=False)
    checks, _ = preflight(plan)
    san = checks["mirror certificate SAN"]
    assert san.status == CheckStatus.FAIL and "no subjectAltName" in san.detail
    assert "subjectAltName=IP:127.0.0.1" in san.fix

    plan.mirror.registry = odd_tls_server(days=10)
    checks, _ = preflight(plan)
    assert checks["mirror certificate SAN"].status == CheckStatus.PASS
    expiry = checks["mirror certificate expiry"]
    assert expiry.status == CheckStatus.WARN and "expires on" in expiry.detail

    plan.mirror.registry = odd_tls_server(expired=True)
    checks, _ = preflight(plan)
    assert checks["mirror certificate expiry"].status == CheckStatus.FAIL
    assert checks["mirror TLS trust"].status == CheckStatus.FAIL
    assert "expired" in checks["mirror TLS trust"].detail


def skopeo_blob_sizes(pullspec: str, cert_dir: str, auth_file: str) -> dict[str, int]:
    raw = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--cert-dir",
            cert_dir,
            "--authfile",
            auth_file,
            f"docker://{pullspec}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    doc = json.loads(raw)
    return {d["digest"]: d["size"] for d in [doc["config"], *doc["layers"]]}


def test_media_space_against_the_release_size(private_lab, state_dir, tmp_path):
    plan = Plan.load(private_lab.plan)
    plan.mirroring.mode = "to-media"
    plan.mirroring.media_path = str(tmp_path / "usb")
    target = private_lab.release(private_lab.target_version)
    plan.release.digest = target.digest
    checks, _ = preflight(plan)
    media = checks["media free space"]
    assert media.status == CheckStatus.PASS, media.detail
    # the size is what skopeo (the reference tool) sees: every distinct blob of the release and its components
    from engine.oci.payload import read_release_pullspec

    info = read_release_pullspec(
        target.pullspec, auth_file=plan.auth_file, ca_file=plan.endpoints.source_ca_file
    )
    sizes: dict[str, int] = {}
    for spec in [target.pullspec, *(c.pullspec for c in info.components)]:
        sizes.update(skopeo_blob_sizes(spec, private_lab.upstream.cert_dir, plan.auth_file))
    from engine.preflight import release_size

    ctx = Context(plan, Emitter("preflight", Recorder()))
    assert release_size(ctx, target.pullspec) == (sum(sizes.values()), len(info.components) + 1)
    assert f"({len(info.components) + 1} images)" in media.detail
    # without a digest the size cannot be known: a warning that says so
    plan.release.digest = ""
    plan.release.version = "4.99.0"
    checks, _ = preflight(plan)
    assert checks["media free space"].status == CheckStatus.WARN


def fake_oc(tmp_path: Path, version: str) -> str:
    """A stand-in for the oc binary (not installed here) that answers 'oc version --client -o json'."""
    script = tmp_path / f"oc-{version}"
    doc = json.dumps({"clientVersion": {"gitVersion": f"v{version}"}, "releaseClientVersion": version})
    script.write_text(f"#!/bin/sh\necho '{doc}'\n")
    script.chmod(0o755)
    return str(script)


def test_oc_client_version_against_the_target(sandbox, tmp_path, state_dir):
    plan = Plan.load(sandbox.plan)
    plan.cluster.kubeconfig = str(tmp_path / "absent-kubeconfig")
    plan.oc_path = fake_oc(tmp_path, "4.17.3")
    checks, _ = preflight(plan)
    assert checks["oc client"].status == CheckStatus.PASS and "4.17.3" in checks["oc client"].detail
    plan.oc_path = fake_oc(tmp_path, "4.16.18")
    checks, _ = preflight(plan)
    assert checks["oc client"].status == CheckStatus.WARN
    assert "older than the target 4.17.3" in checks["oc client"].detail
    plan.oc_path = str(tmp_path / "no-such-oc")
    checks, _ = preflight(plan)
    assert checks["oc client"].status == CheckStatus.WARN and "not found" in checks["oc client"].detail


def test_no_password_source_is_a_warning_not_a_guess(sandbox, tmp_path, state_dir):
    import keyring
    from keyring.backends import fail

    plan = mirror_only_plan(sandbox, tmp_path)
    empty = tmp_path / "empty-auth.json"
    empty.write_text('{"auths": {}}')
    plan.auth_file = str(empty)
    plan.mirror.password_file = ""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        checks, _ = preflight(plan)
    finally:
        keyring.set_keyring(previous)
    creds = checks["mirror credentials"]
    assert creds.status == CheckStatus.WARN
    assert "not checked: No system keyring" in creds.detail
    assert checks["mirror push right"].status == CheckStatus.WARN
