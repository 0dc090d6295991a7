"""The update path without a lab: the plan's ``release.path`` validation, the channel each hop needs, merging
channels' graphs, where a cluster is on the path, and what the journal says of a path run (the workflow counts a
step over a whole path as done only when the path is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import workflow as wf
from engine.errors import PlanError
from engine.graph import Hop, UpdatePath, merge_graphs, parse_graph, plan_path
from engine.journal import Journal
from engine.plan import Plan
from engine.release import hop_channels_for
from engine.upgrade_path import pool_states, position

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _plan_text(path: str, target: str = "4.18.2") -> str:
    return f"kind: ocp-airgap/plan-v1\nrelease:\n  version: {target}\n  target: {target}\n  path:\n{path}"


def test_a_valid_path_loads_and_narrows_to_each_hop() -> None:
    plan = Plan.from_yaml(
        _plan_text(
            f"  - version: 4.17.5\n    digest: {D1}\n    channel: eus-4.18\n    risks: []\n"
            f"  - version: 4.18.2\n    digest: {D2}\n    channel: eus-4.18\n"
        )
    )
    assert plan.path_versions == ["4.17.5", "4.18.2"]
    hop = plan.for_hop("4.17.5")
    assert (hop.release.version, hop.release.digest, hop.release.channel) == ("4.17.5", D1, "eus-4.18")
    assert hop.release.target == "4.18.2" and plan.release.version == "4.18.2", "the plan itself is unchanged"
    with pytest.raises(PlanError, match="not on the plan's update path"):
        plan.for_hop("4.16.20")


@pytest.mark.parametrize(
    ("path", "where", "what"),
    [
        ("  - version: 4.17\n", "release.path[0].version", "expected a release version"),
        (
            f"  - version: 4.18.2\n    digest: {D2}\n  - version: 4.17.5\n",
            "release.path[1].version",
            "hops go forward",
        ),
        (
            "  - version: 4.17.5\n    channel: weekly-4.17\n  - version: 4.18.2\n",
            "release.path[0].channel",
            "channel",
        ),
        ("  - version: 4.17.5\n    risks: Foo\n  - version: 4.18.2\n", "release.path[0].risks", "risk names"),
        ("  - version: 4.17.5\n    colour: red\n  - version: 4.18.2\n", "release.path[0].colour", "unknown"),
        ("  - version: 4.17.5\n", "release.path", "the last hop is 4.17.5"),
    ],
)
def test_a_bad_path_is_refused_with_its_position(path: str, where: str, what: str) -> None:
    with pytest.raises(PlanError) as err:
        Plan.from_yaml(_plan_text(path), "plan.yaml")
    assert where in err.value.message and what in err.value.message
    assert err.value.line is not None and err.value.line >= 5


def test_a_path_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(PlanError, match="release.path: expected a list"):
        Plan.from_yaml("kind: ocp-airgap/plan-v1\nrelease:\n  path: 4.17.5\n", "plan.yaml")


def _graph(
    channel: str, versions: list[str], edges: list[tuple[str, str]], cond: tuple[tuple[str, str], ...] = ()
) -> Any:
    index = {v: i for i, v in enumerate(versions)}
    doc = {
        "nodes": [{"version": v, "payload": f"q/r@sha256:{str(i) * 64}"} for i, v in enumerate(versions)],
        "edges": [[index[a], index[b]] for a, b in edges],
        "conditionalEdges": [
            {"edges": [{"from": a, "to": b}], "risks": [{"name": "R", "message": "m", "url": "u"}]}
            for a, b in cond
        ],
    }
    return parse_graph(doc, channel=channel)


def test_channels_per_hop_and_merged_minor_channels() -> None:
    s17 = _graph(
        "stable-4.17", ["4.16.20", "4.17.3", "4.17.5"], [("4.16.20", "4.17.3"), ("4.16.20", "4.17.5")]
    )
    s18 = _graph(
        "stable-4.18",
        ["4.17.3", "4.17.5", "4.18.2"],
        [("4.17.5", "4.18.2"), ("4.17.3", "4.18.2")],
        (("4.17.3", "4.18.2"),),
    )
    assert not s18.has("4.16.20")
    merged = merge_graphs([s18, s17])
    choice = plan_path(merged, "4.16.20", "4.18.2")
    assert choice.chosen is not None and choice.chosen.versions == ["4.16.20", "4.17.5", "4.18.2"]
    assert merged.is_conditional("4.17.3", "4.18.2"), "the risks survive the merge"
    path = UpdatePath((Hop("4.16.20", "4.17.5"), Hop("4.17.5", "4.18.2")))
    assert hop_channels_for(path, "stable-4.18") == {"4.17.5": "stable-4.17", "4.18.2": "stable-4.18"}
    assert hop_channels_for(path, "eus-4.18") == {"4.17.5": "eus-4.18", "4.18.2": "eus-4.18"}


def _cv(history: list[tuple[str, str]]) -> dict[str, Any]:
    return {"status": {"history": [{"version": v, "state": s} for v, s in history]}}


def test_where_the_cluster_is_on_the_path() -> None:
    path = ["4.17.5", "4.18.2"]
    assert position(path, _cv([("4.16.20", "Completed")])).remaining == path
    mid = position(path, _cv([("4.17.5", "Partial"), ("4.16.20", "Completed")]))
    assert (mid.remaining, mid.in_progress, mid.index) == (path, "4.17.5", 1)
    two = position(path, _cv([("4.17.5", "Completed"), ("4.16.20", "Completed")]))
    assert (two.remaining, two.index) == (["4.18.2"], 2) and "hop 2 of 2" in two.describe()
    assert position(path, _cv([("4.18.2", "Completed")])).remaining == []


def test_the_workflow_keeps_a_path_run_open_until_its_outcome(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.json", cluster="x")
    j.step_started("upgrade", path=["4.17.5", "4.18.2"], control_plane_only=True, at="4.16.20")
    j.note("upgrade", "hop 1 of 2: updating to 4.17.5", hop="4.17.5", event="started")
    j.step_started("upgrade", image="m/r@" + D1, digest=D1, version="4.17.5")
    j.step_finished("upgrade", "succeeded", "the cluster is at 4.17.5: update Completed")
    j.note("upgrade", "hop 1 of 2: 4.17.5 Completed", hop="4.17.5", event="finished")
    j.note("upgrade", "hop 2 of 2 waits for the admin: ack", hop="4.18.2", event="gated")
    states = wf.states_by_id(j, wf.DIRECT)
    assert states["upgrade"].status == "running", "one hop done is not the path done"
    assert "1 of 2 done" in states["upgrade"].summary and "waiting for the admin" in states["upgrade"].summary
    run = wf.path_run(j.records, "upgrade")
    assert run is not None and run["done"] == ["4.17.5"] and run["control_plane_only"]
    j.step_finished("upgrade", "succeeded", "path 4.17.5 -> 4.18.2 complete", path=["4.17.5", "4.18.2"])
    assert wf.states_by_id(j, wf.DIRECT)["upgrade"].status == "succeeded"
    # mirroring: the path run is done only when its own outcome is recorded
    m = Journal(tmp_path / "mirror.json", cluster="x")
    m.step_started("mirror", mode="direct", path=["4.17.5", "4.18.2"])
    m.step_started("mirror", mode="direct", release="4.17.5")
    m.step_finished("mirror", "succeeded", "4.17.5 copied", mode="direct", version="4.17.5")
    assert wf.states_by_id(m, wf.DIRECT)["mirror"].status == "running"
    assert "1 of 2 done" in wf.states_by_id(m, wf.DIRECT)["mirror"].summary


def test_worker_pools_paused_by_the_tool_are_journaled_intent_then_outcome(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.json", cluster="x")
    j.change("pools", "pause", "machineconfigpool/worker", phase="intent")
    assert pool_states(j) == {"machineconfigpool/worker": "pausing"}
    j.change("pools", "pause", "machineconfigpool/worker", phase="done")
    j.change("pools", "pause", "machineconfigpool/infra", phase="done")
    j.change("pools", "unpause", "machineconfigpool/infra", phase="intent")
    assert pool_states(j) == {"machineconfigpool/worker": "paused", "machineconfigpool/infra": "unpausing"}
    j.change("pools", "unpause", "machineconfigpool/infra", phase="done")
    assert pool_states(j) == {"machineconfigpool/worker": "paused"}
