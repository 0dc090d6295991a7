"""While the update (or a pool's rollout) is in progress (items 2, 3): resuming the MachineHealthChecks and the
steps that change what nodes pull — the mirror set, the cluster's CA trust, the global pull secret — are refused
with exit 3, or done with the explicit override that names the consequence, and the override is journaled.

A private lab is updated from 4.16.18 to 4.16.20; its payments PodDisruptionBudget allows no disruption, so the
drain of that worker waits and the update stays in progress while the guarded steps are tried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.cluster import Cluster
from engine.guards import in_progress, rollout_in_progress
from engine.journal import Journal
from engine.plan import Plan
from tests.guards.helpers import assert_clear_error, cli
from tests.helpers import wait_until
from tests.procedures.test_upgrade import lab_plan


def _cond(kind: str, status: str, message: str = "") -> dict[str, Any]:
    return {"type": kind, "status": status, "message": message}


def test_what_counts_as_in_progress() -> None:
    cv = {"status": {"conditions": [_cond("Progressing", "True", "Working towards 4.16.20: 10 of 20 done")]}}
    pool = {
        "metadata": {"name": "worker"},
        "status": {"conditions": [_cond("Updating", "True")], "machineCount": 3, "updatedMachineCount": 1},
    }
    idle = {"metadata": {"name": "master"}, "status": {"conditions": [_cond("Updating", "False")]}}
    assert in_progress(cv, [pool, idle]) == [
        "the cluster is updating (Working towards 4.16.20: 10 of 20 done)",
        "MachineConfigPool worker is rolling out (1 of 3 nodes updated)",
    ]
    assert in_progress({"status": {"conditions": [_cond("Progressing", "False")]}}, [idle]) == []


def test_guards_hold_while_the_update_rolls(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(versions=("4.16.18", "4.16.20"), components=3, size_mb=2)
    state = tmp_path / "state"
    plan = lab_plan(info, tmp_path)
    P = ("--plan", str(plan))
    for step in (("mirror", *P), ("signature", "apply", *P, "--yes"), ("mhc", "pause", *P, "--yes")):
        res = cli(*step, state=state, timeout=600)
        assert res.returncode == 0, step + (res.stdout[-2000:], res.stderr)
    started = cli("upgrade", "start", *P, "--yes", state=state)
    assert started.returncode == 0, started.stdout + started.stderr
    cluster = Cluster.connect(info.kubeconfig, "")
    wait_until(lambda: rollout_in_progress(cluster), timeout=60, what="the update in progress")

    resume = cli("mhc", "resume", *P, "--yes", state=state)
    assert_clear_error(
        resume, 3, "resuming the MachineHealthChecks is refused while the cluster is updating",
        "replace their machines", "--accept-remediation-during-update",
    )  # fmt: skip
    idms = cli("mirror-config", "apply", *P, "--yes", "--no-watch", "--name", "extra", state=state)
    assert_clear_error(idms, 3, "is refused while", "--accept-node-changes-during-update")
    merge = cli(
        "credentials", "merge", *P, "--pull-secret", info.pull_secret, "--auth-file", str(tmp_path / "a.json"),
        "--update-cluster", "--password-stdin", "--yes", state=state, input=info.mirror_password() + "\n",
    )  # fmt: skip
    assert_clear_error(merge, 3, "changing the cluster's global pull secret is refused while", "pull secret")
    assert not (tmp_path / "a.json").exists(), "nothing is written when the change is refused"

    forced = cli("mhc", "resume", *P, "--yes", "--accept-remediation-during-update", state=state)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "replace their machines (accepted with --accept-remediation-during-update)" in forced.stdout
    import os

    from engine.workflow import journal_path

    os.environ["OCP_AIRGAP_STATE_DIR"] = str(state)
    journal = Journal(journal_path(Plan.load(plan)))
    decision = journal.decision("mhc", "during-update")
    assert decision and decision["action"] == "resuming the MachineHealthChecks" and decision["while"], (
        decision
    )
