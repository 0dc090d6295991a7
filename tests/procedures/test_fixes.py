"""Fix actions for blocking preflight findings, against private labs (they change the cluster):

* the PodDisruptionBudget fix: listed, dry run changes nothing, refused without a terminal, applied; then a
  z-stream update (release copied to the mirror with skopeo, signature ConfigMap applied, MHCs paused,
  ``upgrade start``) drains the node the budget used to pin and the worker pool completes; ``fix restore`` puts
  the exact previous spec back and leaves the other budget alone;
* the CloudCredential fix refused without ``--acknowledge`` (exit 3, the reason), applied with it, the statement
  journaled as a decision, the operator's Upgradeable gate cleared; the read-only user gets 403 naming the
  right; a paused pool unpaused; neither is restored;
* the journal: a 409 on the budget re-read and retried, a budget changed since by someone else left alone by
  restore, a process killed right after the patch (restore still finds and restores it) or right before it
  (restore closes the record, changes nothing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.cluster import CLOUD_CREDENTIAL, CLUSTER_OPERATOR, CONFIGMAP, MCP, NODE, PDB, POD, Cluster
from engine.context import Context
from engine.errors import Forbidden
from engine.events import Emitter, Recorder, StepStatus
from engine.fixes import (
    ACK_DECISION,
    CHECK_CLOUD_CREDENTIAL,
    CHECK_MCP,
    CHECK_PDB,
    CLOUD_CREDENTIAL_ANNOTATION,
    CLOUD_CREDENTIAL_FIX,
    STEP,
    apply_fix,
    available_fixes,
    fix_for_check,
    fixes_for_check,
    prepare_restore,
    relaxed_pdbs,
    restore_fixes,
)
from engine.journal import Journal
from engine.plan import Plan
from engine.signatures import configmap_for_digest
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
SPEED = 1200.0
PDB_FIX = "pdb/payments/payments-api-pdb"
LAB = {"speed": SPEED, "components": 6, "size_mb": 2}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's journals go to its own folder (for the engine here and the CLI in subprocesses)."""
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def run_cli(*args: str, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def plan_copy(info: Any, directory: Path, name: str, **edits: Any) -> Path:
    """The lab's plan with ``section__key=value`` edits."""
    doc = yaml.safe_load(Path(info.plan).read_text())
    for dotted, value in edits.items():
        section, _, key = dotted.partition("__")
        doc[section][key] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def result_of(stdout: str) -> dict[str, Any]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results = [e for e in events if e["kind"] == "StepResult"]
    assert results, stdout
    last: dict[str, Any] = results[-1]
    return last


def admin(info: Any) -> Cluster:
    return Cluster.connect(info.kubeconfig, "admin")


def pdb_spec(cluster: Cluster, name: str = "payments-api-pdb", ns: str = "payments") -> dict[str, Any]:
    return dict(cluster.get(PDB, name, ns)["spec"])


def fix_records(state: Path, info: Any) -> list[dict[str, Any]]:
    journal = Journal.for_cluster(info.api.server)
    return [r.data for r in journal.changes(STEP)]


def context(plan: Path | str, cluster: Cluster | None = None) -> tuple[Context, Recorder]:
    rec = Recorder()
    return Context(Plan.load(plan), Emitter(STEP, rec), _cluster=cluster), rec


def pool_done(cluster: Cluster, name: str, initial_config: str) -> bool:
    pool = cluster.get(MCP, name)
    st = pool.get("status") or {}
    degraded: dict[str, Any] = next(
        (c for c in st.get("conditions") or [] if c.get("type") == "Degraded"), {}
    )
    assert degraded.get("status") != "True", f"pool {name} degraded: {degraded.get('message')}"
    return bool(
        (st.get("configuration") or {}).get("name") not in ("", None, initial_config)
        and st.get("updatedMachineCount") == st.get("machineCount") == 3
    )


# ---------------------------------------------------------------------------------------------- the drain


def test_pdb_fix_lets_the_drain_finish_and_restore_puts_the_exact_spec_back(
    sandbox_factory: Any, state: Path, tmp_path: Path
) -> None:
    info = sandbox_factory(**LAB)
    cluster = admin(info)
    before = pdb_spec(cluster)
    router_before = pdb_spec(cluster, "router-default", "openshift-ingress")
    assert before == {"minAvailable": 1, "selector": {"matchLabels": {"app": "payments-api"}}}

    # list: the budget and (target 4.17.3 is a minor update) the CloudCredential fixes, named by check
    res = run_cli("fix", "list", "--plan", info.plan, "--json", state=state)
    assert res.returncode == 0, res.stderr
    fixes = {f["id"]: f for f in result_of(res.stdout)["data"]["fixes"]}
    assert set(fixes) == {PDB_FIX, CLOUD_CREDENTIAL_FIX}, fixes
    assert fixes[PDB_FIX]["check"] == CHECK_PDB and fixes[PDB_FIX]["restorable"] is True
    assert not fixes[PDB_FIX]["needs_acknowledgement"]
    assert "patch pdb payments-api-pdb --type=merge" in fixes[PDB_FIX]["commands"][0]
    assert "-  minAvailable: 1" in fixes[PDB_FIX]["changes"][0]["diff"]
    assert "+  maxUnavailable: 1" in fixes[PDB_FIX]["changes"][0]["diff"]
    cco = fixes[CLOUD_CREDENTIAL_FIX]
    assert cco["check"] == CHECK_CLOUD_CREDENTIAL and cco["needs_acknowledgement"] and not cco["restorable"]

    # dry run: shown, nothing changed, nothing journaled
    res = run_cli("fix", "apply", PDB_FIX, "--plan", info.plan, "--dry-run", state=state)
    assert res.returncode == 0, res.stderr
    assert "dry run: nothing was changed" in res.stdout and "maxUnavailable: 1" in res.stdout
    assert pdb_spec(cluster) == before and fix_records(state, info) == []
    # no terminal and no --yes: refused with the reason, nothing changed
    res = run_cli("fix", "apply", PDB_FIX, "--plan", info.plan, state=state)
    assert res.returncode == 3 and "no terminal" in res.stderr, res.stderr
    assert pdb_spec(cluster) == before and fix_records(state, info) == []

    res = run_cli("fix", "apply", PDB_FIX, "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (
        "$ oc --kubeconfig" in res.stdout
        and "poddisruptionbudget.policy/payments-api-pdb patched" in res.stdout
    )
    assert pdb_spec(cluster) == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "payments-api"}}}
    records = fix_records(state, info)
    assert [(r["action"], r["phase"]) for r in records] == [("relax", "intent"), ("relax", "done")]
    assert records[0]["before"] == {"spec": before}, "the exact previous spec is journaled before the patch"
    wait_until(
        lambda: cluster.get(PDB, "payments-api-pdb", "payments")["status"]["disruptionsAllowed"] == 1,
        10,
        what="the budget to allow one disruption",
    )
    res = run_cli("fix", "list", "--plan", info.plan, "--json", state=state)
    assert PDB_FIX not in {f["id"] for f in result_of(res.stdout)["data"]["fixes"]}

    # a z-stream update: release copied with skopeo, signature applied, MHCs paused, upgrade start
    rel = info.release("4.16.20")
    zplan = plan_copy(info, tmp_path, "zstream", release__version="4.16.20", release__digest=rel.digest)
    subprocess.run(
        [
            "skopeo", "copy", "-q", "--all", "--authfile", info.auth_file,
            "--src-cert-dir", info.upstream.cert_dir, "--dest-cert-dir", info.mirror.cert_dir,
            f"docker://{rel.pullspec}", f"docker://{info.mirror.registry}/{info.mirror.repository}:4.16.20-x86_64",
        ],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    signature = httpx.get(rel.signature_url, timeout=10)
    signature.raise_for_status()
    cluster.create(
        CONFIGMAP, configmap_for_digest(rel.digest, [signature.content]), "openshift-config-managed"
    )
    assert run_cli("mhc", "pause", "--plan", str(zplan), "--yes", state=state).returncode == 0
    pod = cluster.list(POD, "payments")[0]
    pinned = pod["spec"]["nodeName"]
    initial = cluster.get(MCP, "worker")["status"]["configuration"]["name"]
    res = run_cli("upgrade", "start", "--plan", str(zplan), "--yes", state=state)
    assert res.returncode == 0, res.stdout + res.stderr

    wait_until(lambda: pool_done(cluster, "worker", initial), 90, 0.2, "the worker pool to complete")
    node = cluster.get(NODE, pinned)
    assert node["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"] != initial
    moved = cluster.list(POD, "payments")
    assert len(moved) == 1 and moved[0]["metadata"]["name"] != pod["metadata"]["name"], "the pod was evicted"

    # restore: the exact previous spec; the router budget (not ours) untouched
    res = run_cli("fix", "restore", "--plan", info.plan, "--dry-run", state=state)
    assert res.returncode == 0 and "minAvailable: 1" in res.stdout, res.stdout + res.stderr
    assert pdb_spec(cluster)["maxUnavailable"] == 1
    res = run_cli("fix", "restore", "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "restored 1 PodDisruptionBudget(s)" in res.stdout
    assert pdb_spec(cluster) == before
    assert pdb_spec(cluster, "router-default", "openshift-ingress") == router_before
    assert relaxed_pdbs(Journal.for_cluster(info.api.server)) == {}
    res = run_cli("fix", "restore", "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 0 and "restored 0 PodDisruptionBudget(s)" in res.stdout, res.stdout
    assert pdb_spec(cluster) == before


# ---------------------------------------------------------------------------------------------- gates


def test_cloudcredential_needs_acknowledgement_read_only_gets_403_and_pool_unpause(
    sandbox_factory: Any, state: Path, tmp_path: Path
) -> None:
    info = sandbox_factory(**LAB)
    cluster = admin(info)
    journal = Journal.for_cluster(info.api.server)

    def annotation() -> str | None:
        cc = cluster.get(CLOUD_CREDENTIAL, "cluster")
        return (cc["metadata"].get("annotations") or {}).get(CLOUD_CREDENTIAL_ANNOTATION)

    res = run_cli("fix", "apply", CLOUD_CREDENTIAL_FIX, "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "needs your acknowledgement" in res.stderr and "ocp-airgap cannot check this" in res.stderr
    assert "--acknowledge" in res.stderr
    journal.reload()
    assert annotation() is None and journal.decision(STEP, ACK_DECISION) is None

    # the read-only user: 403 naming the missing right; the journal's intent is closed as failed
    ro_plan = plan_copy(info, tmp_path, "readonly", cluster__context="readonly")
    res = run_cli("fix", "apply", PDB_FIX, "--plan", str(ro_plan), "--yes", state=state)
    assert res.returncode == 1, res.stdout + res.stderr
    assert 'User "auditor" cannot patch resource "poddisruptionbudgets"' in res.stderr, res.stderr
    assert "fix: " in res.stderr
    assert pdb_spec(cluster)["minAvailable"] == 1
    journal.reload()
    assert [(r.data["action"], r.data["phase"]) for r in journal.changes(STEP)] == [
        ("relax", "intent"),
        ("relax", "failed"),
    ]
    assert relaxed_pdbs(journal) == {}

    res = run_cli(
        "fix", "apply", CLOUD_CREDENTIAL_FIX, "--plan", info.plan, "--yes", "--acknowledge", state=state
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert annotation() == "4.17.3"
    journal.reload()
    assert journal.decision(STEP, ACK_DECISION) == "4.17.3"
    decision = next(r for r in journal.records if r.kind == "decision" and r.data["key"] == ACK_DECISION)
    assert "cloud provider credentials have been updated for release 4.17.3" in decision.data["reason"]

    def cco_upgradeable() -> bool:
        co = cluster.get(CLUSTER_OPERATOR, "cloud-credential")
        return any(c["type"] == "Upgradeable" and c["status"] == "True" for c in co["status"]["conditions"])

    wait_until(cco_upgradeable, 10, what="co/cloud-credential Upgradeable=True")

    # an id that names nothing: exit 2 with the ids that apply
    res = run_cli("fix", "apply", "pdb/nowhere/none", "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 2 and f"Choose one of: {PDB_FIX}" in res.stderr, res.stderr

    # a paused pool: listed under MachineConfigPools, unpaused
    cluster.merge_patch(MCP, "worker", {"spec": {"paused": True}})
    ctx, rec = context(info.plan, cluster)
    fixes = available_fixes(ctx)
    assert fix_for_check(CHECK_CLOUD_CREDENTIAL, fixes) is None, "annotated: no longer offered"
    pool_fix = fix_for_check(CHECK_MCP, fixes)
    assert pool_fix is not None and pool_fix.id == "mcp/worker/unpause" and not pool_fix.restorable
    assert [f.id for f in fixes_for_check(CHECK_PDB, fixes)] == [PDB_FIX]
    result = apply_fix(ctx, pool_fix.id)
    assert result.status == StepStatus.SUCCEEDED
    assert cluster.get(MCP, "worker")["spec"]["paused"] is False
    again = apply_fix(ctx, pool_fix.id)
    assert again.status == StepStatus.SKIPPED and "not paused" in again.summary

    # restore: neither the annotation nor the unpause is undone, and it says why
    res = run_cli("fix", "restore", "--plan", info.plan, "--yes", state=state)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cloudcredential/cluster: not restored" in res.stdout and "meant to stay" in res.stdout
    assert "machineconfigpool/worker: not restored" in res.stdout and '"paused":true' in res.stdout
    assert annotation() == "4.17.3" and cluster.get(MCP, "worker")["spec"]["paused"] is False
    assert pdb_spec(cluster)["minAvailable"] == 1, "a budget ocp-airgap did not change is never touched"


# ---------------------------------------------------------------------------------------------- journal


def test_conflict_retried_changed_since_left_alone_and_crash_safe(
    sandbox_factory: Any, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(**LAB)
    cluster = admin(info)
    before = pdb_spec(cluster)
    real_patch = cluster.merge_patch
    mode: list[str] = []

    def patch(res: Any, name: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        action = mode.pop(0) if mode and res is PDB else ""
        if action == "interfere":  # someone else writes the budget between our read and our patch
            real_patch(PDB, name, {"metadata": {"labels": {"touched-by": "someone-else"}}}, namespace)
        if action == "die-before":
            raise SystemExit("killed before the patch")
        out = real_patch(res, name, body, namespace)
        if action == "die-after":
            raise SystemExit("killed after the patch")
        return out

    monkeypatch.setattr(cluster, "merge_patch", patch)

    # 409: re-read and retried; the other writer's label is kept
    mode.append("interfere")
    ctx, rec = context(info.plan, cluster)
    result = apply_fix(ctx, PDB_FIX)
    assert result.status == StepStatus.SUCCEEDED and result.data["retries"] == 1
    assert any("409 Conflict" in t for t in rec.texts())
    pdb = cluster.get(PDB, "payments-api-pdb", "payments")
    assert pdb["metadata"]["labels"]["touched-by"] == "someone-else" and pdb["spec"]["maxUnavailable"] == 1

    # changed since by someone else: restore leaves it alone and says so
    real_patch(PDB, "payments-api-pdb", {"spec": {"maxUnavailable": 2}}, "payments")
    ctx, rec = context(info.plan, cluster)
    plan = prepare_restore(ctx)
    assert (
        plan.changes == []
        and "changed by someone else" in plan.skipped["poddisruptionbudget/payments/payments-api-pdb"]
    )
    result = restore_fixes(ctx, plan)
    assert result.data["restored"] == [] and pdb_spec(cluster)["maxUnavailable"] == 2
    assert any("left alone" in t for t in rec.texts())
    assert relaxed_pdbs(Journal.for_cluster(info.api.server)) == {}

    # the admin puts the blocking budget back
    real_patch(PDB, "payments-api-pdb", {"spec": {"maxUnavailable": None, "minAvailable": 1}}, "payments")
    assert pdb_spec(cluster) == before
    wait_until(lambda: any(f.id == PDB_FIX for f in available_fixes(context(info.plan, cluster)[0])), 10)

    # killed right after the patch: the intent survives, a fresh process restores the exact previous spec
    mode.append("die-after")
    with pytest.raises(SystemExit):
        apply_fix(context(info.plan, cluster)[0], PDB_FIX)
    assert pdb_spec(cluster)["maxUnavailable"] == 1
    fresh = Journal.for_cluster(info.api.server)
    (held,) = relaxed_pdbs(fresh).values()
    assert held.state == "relaxing" and held.before == before
    # the read-only user cannot restore it: 403, and the record stays open for the next run
    ctx, rec = context(info.plan, Cluster.connect(info.kubeconfig, "readonly"))
    with pytest.raises(Forbidden, match='cannot patch resource "poddisruptionbudgets"'):
        restore_fixes(ctx)
    assert pdb_spec(cluster)["maxUnavailable"] == 1
    assert list(relaxed_pdbs(Journal.for_cluster(info.api.server))) == [held.resource]
    ctx, rec = context(info.plan, admin(info))
    result = restore_fixes(ctx)
    assert result.data["restored"] == ["poddisruptionbudget/payments/payments-api-pdb"]
    assert pdb_spec(cluster) == before

    # killed right before the patch: restore closes the record and changes nothing
    wait_until(lambda: any(f.id == PDB_FIX for f in available_fixes(context(info.plan, cluster)[0])), 10)
    mode.append("die-before")
    with pytest.raises(SystemExit):
        apply_fix(context(info.plan, cluster)[0], PDB_FIX)
    assert relaxed_pdbs(Journal.for_cluster(info.api.server))
    ctx, rec = context(info.plan, admin(info))
    result = restore_fixes(ctx)
    assert result.data["restored"] == [] and "never made" in json.dumps(result.data["settled"])
    assert pdb_spec(cluster) == before
    assert relaxed_pdbs(Journal.for_cluster(info.api.server)) == {}
