"""Release selection against the lab: current version and channel from the cluster, the path, the target digest
resolved natively from the release source (checked against the graph), release facts, storing the choice in the
plan, the disconnected side working from a carried graph file, and the refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.context import Context
from engine.errors import DigestMismatch, PreconditionFailed
from engine.events import Emitter, Recorder
from engine.plan import Plan
from engine.release import resolve_digest, select_release, store_in_plan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


def make_ctx(plan: Plan) -> tuple[Context, Recorder]:
    rec = Recorder()
    return Context(plan, Emitter("release", rec)), rec


def copy_plan(sandbox: Any, tmp_path: Path) -> Path:
    dest = tmp_path / "plan.yaml"
    shutil.copy(sandbox.plan, dest)
    return dest


def cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OCP_AIRGAP_STATE_DIR=str(state))
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


def test_select_release_from_the_cluster(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    ctx, rec = make_ctx(Plan.load(sandbox.plan))
    sel = select_release(ctx)
    target = sandbox.release(sandbox.target_version)
    assert sel.current == sandbox.current_version
    assert sel.channel == "stable-4.17"
    assert sel.digest == target.digest
    assert sel.choice.chosen is not None
    assert sel.choice.chosen.versions == ["4.16.18", "4.16.20", "4.17.3"]
    assert sel.next_hop == "4.16.20"
    assert sel.hop_digests["4.16.20"] == sandbox.release("4.16.20").digest
    assert sel.facts is not None and sel.facts.errata_url.startswith("https://access.redhat.com/errata/")
    assert sel.facts.components == target.components  # read from the release image's image-references
    shells = [e.shell for e in rec.events if e.kind == "Command"]
    assert any(
        s.startswith("oc adm release info -o") and s.endswith(f":{sandbox.target_version}-x86_64")
        for s in shells
    )
    assert any("get clusterversion version" in s for s in shells)
    assert any(s.startswith("oc adm release info ") and target.digest in s for s in shells)


def test_resolve_digest_of_each_built_release(sandbox, tmp_path):
    ctx, _ = make_ctx(Plan.load(sandbox.plan))
    for release in sandbox.releases:
        assert resolve_digest(ctx, release.version) == release.digest


def test_write_plan_and_next_hop(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    plan_path = copy_plan(sandbox, tmp_path)
    res = cli("release", "--plan", str(plan_path), "--write-plan", state=tmp_path / "state")
    assert res.returncode == 0, res.stderr
    plan = Plan.load(plan_path)
    assert plan.release.version == "4.17.3" and plan.release.digest == sandbox.release("4.17.3").digest
    res = cli(
        "release", "--plan", str(plan_path), "--write-plan", "--next-hop", "--json", state=tmp_path / "state"
    )
    assert res.returncode == 0, res.stderr
    plan = Plan.load(plan_path)
    assert plan.release.version == "4.16.20" and plan.release.digest == sandbox.release("4.16.20").digest
    result = json.loads(res.stdout.splitlines()[-1])
    assert (
        result["kind"] == "StepResult" and result["data"]["path"]["recommended"]["versions"][0] == "4.16.18"
    )
    from engine.journal import Journal

    decision = Journal.for_cluster(sandbox.api.server).decision("release", "target")
    assert decision["version"] == "4.16.20"


def test_connected_side_saves_graph_and_disconnected_side_uses_it(sandbox, tmp_path):
    plan_path = copy_plan(sandbox, tmp_path)
    graph_file = tmp_path / "media" / "graph-stable-4.17.json"
    res = cli(
        "release",
        "--plan",
        str(plan_path),
        "--current",
        "4.16.18",
        "--save-graph",
        str(graph_file),
        state=tmp_path / "state",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(graph_file.read_text())["nodes"]
    # on the disconnected side the graph URL does not answer: the carried file is enough
    plan = Plan.load(plan_path)
    plan.endpoints.update_graph = "http://127.0.0.1:9/unreachable"
    plan.save(plan_path)
    res = cli("release", "--plan", str(plan_path), "--graph-file", str(graph_file), state=tmp_path / "state")
    assert res.returncode == 0, res.stderr
    assert "4.16.18 -> 4.16.20 -> 4.17.3" in res.stdout
    res = cli("release", "--plan", str(plan_path), state=tmp_path / "state")
    assert res.returncode == 1
    assert "cannot reach the update graph" in res.stderr and "--graph-file" in res.stderr


def test_no_path_is_refused_and_override_is_explicit(sandbox, tmp_path):
    plan_path = copy_plan(sandbox, tmp_path)
    plan = Plan.load(plan_path)
    plan.release.version = "4.16.20"
    plan.save(plan_path)
    res = cli("release", "--plan", str(plan_path), "--current", "4.17.3", state=tmp_path / "state")
    assert res.returncode == 3
    assert "no update path from 4.17.3 to 4.16.20" in res.stderr and "--allow-no-path" in res.stderr
    res = cli(
        "release",
        "--plan",
        str(plan_path),
        "--current",
        "4.17.3",
        "--allow-no-path",
        "--no-resolve",
        state=tmp_path / "state",
    )
    assert res.returncode == 0, res.stderr
    assert "explicitly overrode" in res.stdout


def test_target_not_in_channel(sandbox, tmp_path):
    ctx, _ = make_ctx(Plan.load(sandbox.plan))
    ctx.plan.release.version = "4.17.4"  # listed only in the fast channels
    with pytest.raises(PreconditionFailed) as info:
        select_release(ctx, current="4.16.18")
    assert "4.17.4 is not in the stable-4.17 graph" in info.value.message


def test_graph_and_registry_must_agree_on_the_digest(sandbox, tmp_path):
    ctx, _ = make_ctx(Plan.load(sandbox.plan))
    from engine.graph import fetch_graph

    _, raw = fetch_graph(sandbox.graph_url, "stable-4.17", "amd64")
    doc = json.loads(raw)
    for node in doc["nodes"]:
        if node["version"] == "4.17.3":
            node["payload"] = node["payload"].rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    with pytest.raises(DigestMismatch) as info:
        select_release(ctx, current="4.16.18", graph_file=str(forged))
    assert "the update graph names 4.17.3" in info.value.message


def test_store_in_plan_needs_a_file(sandbox, tmp_path):
    plan_path = copy_plan(sandbox, tmp_path)
    ctx, _ = make_ctx(Plan.load(plan_path))
    sel = select_release(ctx, current="4.16.18")
    store_in_plan(ctx, sel)
    assert Plan.load(plan_path).release.digest == sandbox.release("4.17.3").digest
