"""MachineHealthCheck pause/resume against the lab: only the ones this tool paused are resumed, the admin's stay
paused; the journal survives a process killed (SIGKILL) between the journaled intent and the patch, and between
the patch and the 'done' record; dry-run and no-terminal behaviour."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cluster import MHC
from engine.journal import Journal, journal_path
from engine.mhc import journal_states
from tests.procedures.test_upgrade import ROOT, admin, lab_plan, run_cli

PAUSED = "cluster.x-k8s.io/paused"
NS = "openshift-machine-api"


def _paused(info: Any) -> dict[str, bool]:
    return {
        m["metadata"]["name"]: PAUSED in (m["metadata"].get("annotations") or {})
        for m in admin(info).list(MHC, NS)
    }


@pytest.fixture
def env(sandbox: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The session lab with a fresh journal; the MHCs' pause annotations are put back afterwards."""
    before = _paused(sandbox)
    yield {"info": sandbox, "plan": lab_plan(sandbox, tmp_path), "state": tmp_path / "state"}
    cluster = admin(sandbox)
    for name, paused in before.items():
        cluster.merge_patch(MHC, name, {"metadata": {"annotations": {PAUSED: "" if paused else None}}}, NS)


def _journal(e: dict[str, Any]) -> Journal:
    os.environ["OCP_AIRGAP_STATE_DIR"] = str(e["state"])
    try:
        return Journal(journal_path(e["info"].api.server))
    finally:
        del os.environ["OCP_AIRGAP_STATE_DIR"]


def test_pause_and_resume_leave_the_admins_pause_alone(env: dict[str, Any]) -> None:
    info, P, state = env["info"], ("--plan", str(env["plan"])), env["state"]
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}

    res = run_cli("mhc", "pause", *P, state=state)  # no terminal, no --yes: refused, nothing changed
    assert res.returncode == 3 and "there is no terminal to ask on" in res.stderr
    res = run_cli("mhc", "pause", *P, "--dry-run", state=state)
    assert res.returncode == 0 and "dry run: nothing was changed" in res.stdout
    assert _paused(info)["worker-mhc"] is False

    res = run_cli("mhc", "pause", *P, "--yes", state=state)
    assert res.returncode == 0, res.stderr
    assert "master-mhc: paused by an administrator before" in res.stdout
    assert (
        "oc --kubeconfig" in res.stdout and "annotate mhc worker-mhc cluster.x-k8s.io/paused=" in res.stdout
    )
    assert _paused(info) == {"master-mhc": True, "worker-mhc": True}
    records = [
        (r.data["action"], r.data.get("phase"), r.data["resource"]) for r in _journal(env).changes("mhc")
    ]
    assert records == [
        ("pause", "intent", f"machinehealthcheck/{NS}/worker-mhc"),
        ("pause", "done", f"machinehealthcheck/{NS}/worker-mhc"),
    ]
    # pausing again changes nothing
    res = run_cli("mhc", "pause", *P, "--yes", state=state)
    assert res.returncode == 0 and "paused 0" in res.stdout

    status = run_cli("mhc", "status", *P, state=state)
    assert "master-mhc               paused by an administrator (left alone)" in status.stdout
    assert "worker-mhc               paused by ocp-airgap" in status.stdout

    res = run_cli("mhc", "resume", *P, "--yes", state=state)
    assert res.returncode == 0, res.stderr
    assert "annotate mhc worker-mhc cluster.x-k8s.io/paused-" in res.stdout
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}
    assert journal_states(_journal(env)) == {}


def _killed_run(env: dict[str, Any], where: str) -> int:
    """Run 'ocp-airgap mhc pause --yes' in a process that SIGKILLs itself at ``where``:
    'before-patch' (the intent is journaled, the MHC not yet patched) or 'before-done' (patched, no 'done')."""
    code = f"""
import os, signal, sys
import engine.cluster, engine.journal
where = {where!r}
if where == "before-patch":
    real = engine.cluster.Cluster.merge_patch
    def merge_patch(self, res, name, patch, namespace=None):
        if res.plural == "machinehealthchecks":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, res, name, patch, namespace)
    engine.cluster.Cluster.merge_patch = merge_patch
else:
    real = engine.journal.Journal.change
    def change(self, step, action, resource, *a, **kw):
        if step == "mhc" and kw.get("phase") == "done":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, step, action, resource, *a, **kw)
    engine.journal.Journal.change = change
from cli.main import main
sys.exit(main(["mhc", "pause", "--plan", {str(env["plan"])!r}, "--yes"]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "OCP_AIRGAP_STATE_DIR": str(env["state"]), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    return proc.returncode


def test_killed_between_intent_and_patch(env: dict[str, Any]) -> None:
    info, P, state = env["info"], ("--plan", str(env["plan"])), env["state"]
    assert _killed_run(env, "before-patch") == -signal.SIGKILL
    assert _paused(info)["worker-mhc"] is False  # the patch was never sent
    assert journal_states(_journal(env)) == {f"machinehealthcheck/{NS}/worker-mhc": "pausing"}
    # starting again completes the pause with the right record
    res = run_cli("mhc", "pause", *P, "--yes", state=state)
    assert res.returncode == 0, res.stderr
    assert _paused(info) == {"master-mhc": True, "worker-mhc": True}
    assert journal_states(_journal(env)) == {f"machinehealthcheck/{NS}/worker-mhc": "paused"}
    res = run_cli("mhc", "resume", *P, "--yes", state=state)
    assert res.returncode == 0 and _paused(info) == {"master-mhc": True, "worker-mhc": False}


def test_killed_between_patch_and_done_record(env: dict[str, Any]) -> None:
    info, P, state = env["info"], ("--plan", str(env["plan"])), env["state"]
    assert _killed_run(env, "before-done") == -signal.SIGKILL
    assert _paused(info)["worker-mhc"] is True  # patched, but the journal only holds the intent
    assert journal_states(_journal(env)) == {f"machinehealthcheck/{NS}/worker-mhc": "pausing"}
    status = run_cli("mhc", "status", *P, state=state)
    assert "worker-mhc               paused by ocp-airgap" in status.stdout
    # resume after the crash: exactly the MHC this tool paused, never the admin's
    res = run_cli("mhc", "resume", *P, "--yes", state=state)
    assert res.returncode == 0, res.stderr
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}
    assert journal_states(_journal(env)) == {}


def test_paused_by_someone_else_meanwhile_is_not_claimed(env: dict[str, Any]) -> None:
    """An admin pauses worker-mhc after ocp-airgap planned the pause: the MHC is read again right before the patch
    (which carries that resourceVersion, so a change in between gives 409 and another look), found paused, and
    left as the admin's."""
    from engine.context import Context
    from engine.events import Emitter, Recorder
    from engine.mhc import pause, prepare_pause
    from engine.plan import Plan

    os.environ["OCP_AIRGAP_STATE_DIR"] = str(env["state"])
    try:
        rec = Recorder()
        ctx = Context(Plan.load(env["plan"]), Emitter("mhc", rec))
        plan = prepare_pause(ctx)
        assert plan.targets == [f"machinehealthcheck/{NS}/worker-mhc"]
        admin(env["info"]).merge_patch(MHC, "worker-mhc", {"metadata": {"annotations": {PAUSED: ""}}}, NS)
        data = pause(ctx, plan)
    finally:
        del os.environ["OCP_AIRGAP_STATE_DIR"]
    assert data["paused"] == [] and data["held"] == []
    assert any("paused by someone else meanwhile" in t for t in rec.texts())
