"""`upgrade start` refuses a conditional edge of the update graph unless its risks are accepted: a disconnected
cluster has no conditionalUpdates of its own, so the risks recorded by the release step are what is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.cluster import read_server_url
from engine.journal import Journal
from tests.procedures.test_upgrade import lab_plan, run_cli

RISK = {
    "name": "SandboxWorkerDrainStall",
    "message": "Updates can stall while draining workers.",
    "url": "https://example.invalid/risk",
}


def test_conditional_edge_needs_explicit_acceptance(sandbox: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"  # the autouse fixture points OCP_AIRGAP_STATE_DIR here
    plan = lab_plan(sandbox, tmp_path)  # targets 4.17.3 by digest; the cluster runs 4.16.18
    target = sandbox.release(sandbox.target_version)
    server = read_server_url(sandbox.kubeconfig, "")
    journal = Journal.for_cluster(server)
    journal.record_decision(
        "release",
        "target",
        {
            "version": sandbox.target_version,
            "digest": target.digest,
            "path": [sandbox.current_version, sandbox.target_version],
            "from": sandbox.current_version,
            "risks": [RISK],
        },
    )

    refused = run_cli("upgrade", "start", "--plan", str(plan), "--yes", state=state)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "marks 4.16.18 -> 4.17.3 as conditional" in refused.stderr
    assert "SandboxWorkerDrainStall" in refused.stderr and "--accept-not-recommended" in refused.stderr

    # accepted: the guard passes; the prerequisites (signature, MHCs) still stop it, and nothing is written
    accepted = run_cli(
        "upgrade", "start", "--plan", str(plan), "--yes", "--accept-not-recommended", state=state
    )
    assert "as conditional" not in accepted.stderr, accepted.stderr
    assert accepted.returncode == 3 and "the update cannot start" in accepted.stderr
