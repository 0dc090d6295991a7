"""The update graph: parsing (with positions for broken JSON), recommended vs conditional edges, shortest paths
over several hops, refusing a target with no path, and fetching/saving the graph from the lab's graph server."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from engine import graph as g
from engine.errors import AirgapError, InputError, PreconditionFailed
from engine.events import Command, Emitter, Recorder
from sandbox.graph import DEFAULT_RISK, build_model, graph_document, placeholder_payload


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


def lab_graph(channel: str) -> dict:
    model = build_model()
    payloads = {n.version: placeholder_payload("quay.example/ocp-release", n.version) for n in model.nodes}
    return graph_document(model, payloads)["channels"][channel]


def test_parse_edges_and_conditional_edges():
    graph = g.parse_graph(lab_graph("stable-4.17"), channel="stable-4.17")
    assert graph.versions() == ["4.16.18", "4.16.19", "4.16.20", "4.17.3"]
    assert ("4.16.20", "4.17.3") in graph.edges and not graph.is_conditional("4.16.20", "4.17.3")
    assert graph.is_conditional("4.16.18", "4.17.3")
    [risk] = graph.conditional[("4.16.18", "4.17.3")]
    assert risk.name == DEFAULT_RISK["name"] and risk.url == DEFAULT_RISK["url"] and risk.rules == ("PromQL",)
    assert graph.releases["4.17.3"].digest.startswith("sha256:")
    ups = graph.updates_from("4.16.18")
    assert [h.to for h in ups] == ["4.16.20", "4.16.19", "4.17.3"]  # recommended first, newest first
    assert ups[-1].conditional


def test_shortest_recommended_path_over_two_hops_and_the_shorter_conditional_one():
    graph = g.parse_graph(lab_graph("stable-4.17"), channel="stable-4.17")
    rec = Recorder()
    choice = g.plan_path(graph, "4.16.18", "4.17.3", emit=Emitter("release", rec))
    assert choice.recommended is not None and choice.recommended.versions == ["4.16.18", "4.16.20", "4.17.3"]
    assert not choice.recommended.conditional
    assert choice.shortest is not None and choice.shortest.versions == ["4.16.18", "4.17.3"]
    assert [r.name for r in choice.shortest.risks] == ["SandboxWorkerDrainStall"]
    assert choice.chosen == choice.recommended
    texts = rec.texts()
    assert any("recommended edges only" in t for t in texts)
    assert any("SandboxWorkerDrainStall" in t and DEFAULT_RISK["url"] in t for t in texts)


def test_only_conditional_path_is_reported_with_its_risk():
    doc = {
        "nodes": [
            {"version": v, "payload": f"q/r@sha256:{i:064x}"} for i, v in enumerate(["4.16.1", "4.17.0"])
        ],
        "edges": [[0, 1]],
        "conditionalEdges": [
            {
                "edges": [{"from": "4.16.1", "to": "4.17.0"}],
                "risks": [
                    {
                        "name": "R1",
                        "message": "m\nline",
                        "url": "https://x/1",
                        "matchingRules": [{"type": "Always"}],
                    }
                ],
            }
        ],
    }
    graph = g.parse_graph(doc)
    choice = g.plan_path(graph, "4.16.1", "4.17.0")
    assert choice.recommended is None
    assert (
        choice.chosen is choice.shortest and choice.shortest.conditional
    )  # listed as both: conditional (CVO rule)


def test_longer_path_finds_several_hops():
    versions = ["4.14.1", "4.14.9", "4.15.2", "4.15.8", "4.16.3"]
    doc = {
        "nodes": [{"version": v, "payload": ""} for v in versions],
        "edges": [[0, 1], [1, 2], [2, 3], [3, 4], [0, 2]],
    }
    choice = g.plan_path(g.parse_graph(doc), "4.14.1", "4.16.3")
    assert choice.chosen is not None
    assert choice.chosen.versions == ["4.14.1", "4.15.2", "4.15.8", "4.16.3"]


def test_target_with_no_path_is_refused_unless_overridden():
    graph = g.parse_graph(lab_graph("stable-4.17"), channel="stable-4.17")
    with pytest.raises(PreconditionFailed) as info:
        g.plan_path(graph, "4.17.3", "4.16.20")
    assert "has no update path from 4.17.3 to 4.16.20" in info.value.message
    assert "--allow-no-path" in info.value.fix
    with pytest.raises(PreconditionFailed) as info:
        g.plan_path(graph, "4.16.18", "4.17.4")  # fast-only: not in stable-4.17
    assert "4.17.4 is not in the stable-4.17 graph" in info.value.message
    with pytest.raises(PreconditionFailed) as info:
        g.plan_path(graph, "4.15.1", "4.17.3")
    assert "current version 4.15.1 is not in" in info.value.message
    rec = Recorder()
    choice = g.plan_path(graph, "4.17.3", "4.16.20", allow_no_path=True, emit=Emitter("t", rec))
    assert choice.override is not None and choice.override.explicit
    assert choice.chosen == choice.override
    assert any("explicitly overrode" in t for t in rec.texts())


def test_broken_graph_files_are_named():
    with pytest.raises(InputError) as info:
        g.parse_graph('{"nodes": [\n  {"version": "4.1.0"}\n  {"version": "4.1.1"}]}', "g.json")
    assert (info.value.line, info.value.column) == (3, 3)
    with pytest.raises(InputError, match="edges\\[0\\].*points outside"):
        g.parse_graph({"nodes": [{"version": "4.1.0"}], "edges": [[0, 5]]})
    with pytest.raises(InputError, match="not a Cincinnati update graph"):
        g.parse_graph({"versions": []})
    with pytest.raises(InputError, match="missing_params"):
        g.parse_graph({"kind": "missing_params", "value": "mandatory client parameters missing: channel"})


def test_go_arch():
    assert (
        g.go_arch("x86_64") == "amd64" and g.go_arch("aarch64") == "arm64" and g.go_arch("multi") == "multi"
    )
    with pytest.raises(InputError):
        g.go_arch("i386")


# ----- against the lab's graph server ----------------------------------------------------------------------


def test_fetch_save_and_reload(sandbox, tmp_path):
    rec = Recorder()
    graph, raw = g.fetch_graph(sandbox.graph_url, "stable-4.17", "amd64", emit=Emitter("release", rec))
    assert {r.version for r in sandbox.releases} <= set(graph.releases)
    for r in sandbox.releases:
        assert graph.releases[r.version].digest == r.digest
    [cmd] = rec.of(Command)
    assert cmd.argv[:4] == ("curl", "-sSf", "-H", "Accept: application/json")
    assert "channel=stable-4.17" in cmd.argv[-1] and "arch=amd64" in cmd.argv[-1]

    saved = g.save_graph(tmp_path / "graph.json", raw)
    assert saved.read_bytes() == raw  # byte for byte, readable by jq and other tools
    again = g.load_graph(saved, channel="stable-4.17")
    assert again.edges == graph.edges and again.conditional == graph.conditional
    via_file, _ = g.fetch_graph(saved.as_uri(), "stable-4.17", "amd64")
    assert via_file.edges == graph.edges


def test_unknown_channel_gives_an_empty_graph_and_a_clear_refusal(sandbox):
    graph, _ = g.fetch_graph(sandbox.graph_url, "stable-4.99", "amd64")
    assert graph.releases == {}
    with pytest.raises(PreconditionFailed, match="the stable-4.99 graph has no release at all"):
        g.plan_path(graph, "4.16.18", "4.17.3")
    with pytest.raises(InputError, match="no update channel"):
        g.fetch_graph(sandbox.graph_url, "", "amd64")


def test_unreachable_graph_says_to_carry_a_file():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AirgapError) as info:
        g.fetch_graph(f"http://127.0.0.1:{port}/graph", "stable-4.17", "amd64", timeout=5)
    assert "cannot reach the update graph" in info.value.message
    assert "--graph-file" in info.value.fix


def test_graph_file_that_does_not_exist(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        g.load_graph(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text(json.dumps({"nodes": "x"}))
    with pytest.raises(InputError, match="not a Cincinnati"):
        g.load_graph(tmp_path / "bad.json")
