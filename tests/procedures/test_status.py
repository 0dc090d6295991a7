"""``status``: the journal's view of what was done, what is in flight and what comes next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.journal import Journal
from engine.status import from_journal
from tests.procedures.test_upgrade import json_events, run_cli


def _journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.json", cluster="https://api.example:6443")


def test_fresh_journal_says_start_with_preflight(tmp_path: Path) -> None:
    st = from_journal(_journal(tmp_path))
    assert [s.status for s in st.steps] == ["pending"] * len(st.steps)
    assert st.next_steps[0].step.id == "preflight" and st.in_flight == []


def test_done_in_flight_and_next(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    for step in ("preflight", "release", "credentials", "mirror", "signature"):
        j.step_started(step)
        j.step_finished(step, "succeeded", f"{step} ok")
    j.step_started("mhc", action="pause")
    j.change("mhc", "pause", "machinehealthcheck/openshift-machine-api/worker-mhc", phase="intent")
    j.change("mhc", "pause", "machinehealthcheck/openshift-machine-api/worker-mhc", phase="done")
    j.step_finished("mhc", "succeeded", "paused 1", action="pause")
    j.step_started("upgrade", image="m/r@sha256:" + "a" * 64)
    st = from_journal(j)
    by = {s.step.id: s for s in st.steps}
    assert by["signature"].status == "succeeded" and by["mhc-pause"].status == "succeeded"
    assert by["upgrade"].status == "running" and by["mhc-resume"].status == "pending"
    assert any("worker-mhc" in i for i in st.in_flight)
    assert any("Update & monitor: started" in i for i in st.in_flight)
    assert [s.step.id for s in st.next_steps if not s.step.optional] == [
        "mirror-config",
        "upgrade",
        "mhc-resume",
    ]
    assert not st.complete

    j.step_finished("upgrade", "succeeded", "the cluster is at 4.17.3")
    j.step_started("mhc", action="resume")
    j.change("mhc", "resume", "machinehealthcheck/openshift-machine-api/worker-mhc", phase="intent")
    j.change("mhc", "resume", "machinehealthcheck/openshift-machine-api/worker-mhc", phase="done")
    j.step_finished("mhc", "succeeded", "resumed 1", action="resume")
    st = from_journal(j)
    assert st.in_flight == [] and st.complete and st.next_required() is None


def test_skip_decision_shown(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.record_decision("mhc", "skip-pause", True, "demo")
    st = from_journal(j)
    by = {s.step.id: s for s in st.steps}
    assert by["mhc-pause"].status == "skipped" and st.decisions[0]["key"] == "skip-pause"


def test_cli_against_the_lab_and_offline(sandbox: Any, tmp_path: Path) -> None:
    from tests.procedures.test_upgrade import lab_plan

    plan, state = lab_plan(sandbox, tmp_path), tmp_path / "state"
    res = run_cli("status", "--plan", str(plan), state=state)
    assert res.returncode == 0, res.stderr
    assert f"Cluster: at {sandbox.current_version}" in res.stdout
    assert (
        "Next: preflight checks of the cluster, the mirror registry and this host: ocp-airgap preflight"
        in res.stdout
    )
    off = run_cli("status", "--plan", str(plan), "--offline", "--json", state=state)
    data = json_events(off.stdout)[-1]["data"]
    assert data["cluster"] == {} and data["next"][0]["step"] == "preflight"


def test_relaxed_budgets_are_in_flight_until_restored(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    res = "poddisruptionbudget/payments/payments-api-pdb"
    before, after = {"spec": {"minAvailable": 1}}, {"spec": {"maxUnavailable": 1}}
    j.step_started("fixes", fix="pdb/payments/payments-api-pdb")
    j.change(
        "fixes", "relax", res, before=before, after=after, phase="intent", fix="pdb/payments/payments-api-pdb"
    )
    j.change(
        "fixes", "relax", res, before=before, after=after, phase="done", fix="pdb/payments/payments-api-pdb"
    )
    j.step_finished("fixes", "succeeded", "relaxed 1", fix="pdb/payments/payments-api-pdb")
    st = from_journal(j)
    assert any("payments-api-pdb" in line and "fix restore" in line for line in st.in_flight)
