"""`upgrade start` judges the edge it is actually asked to take (item 1): the release step stored the first,
recommended hop of the path (4.16.18 -> 4.16.20), the plan was then pointed at 4.17.3, and the update graph marks
4.16.18 -> 4.17.3 as conditional: the start is refused unless the risks are accepted, whatever hop was stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.guards.helpers import assert_clear_error, cli, plan_copy


def test_conditional_edge_is_judged_even_when_the_stored_hop_differs(sandbox: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = plan_copy(sandbox, tmp_path)
    stored = cli("release", "--plan", str(plan), "--write-plan", "--next-hop", state=state, timeout=300)
    assert stored.returncode == 0, stored.stdout + stored.stderr
    doc = yaml.safe_load(plan.read_text())
    assert doc["release"]["version"] == "4.16.20"  # the first, recommended hop
    # the admin points the plan at the final target directly
    target = sandbox.release(sandbox.target_version)
    doc["release"]["version"] = target.version
    doc["release"]["digest"] = target.digest
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))

    refused = cli("upgrade", "start", "--plan", str(plan), "--yes", state=state)
    assert_clear_error(
        refused, 3, f"the update graph marks {sandbox.current_version} -> {target.version} as conditional",
        "SandboxWorkerDrainStall", "--accept-not-recommended",
    )  # fmt: skip

    accepted = cli("upgrade", "start", "--plan", str(plan), "--yes", "--accept-not-recommended", state=state)
    assert "as conditional" not in accepted.stderr, accepted.stderr
    # the graph guard passes; the documented prerequisites still stop it (nothing is written)
    assert accepted.returncode == 3 and "the update cannot start" in accepted.stderr, accepted.stderr
