"""End to end: the media flow of a whole update path with the installed wizard in a real terminal (tmux on a
private socket, 80x24), keys only, on the lab's ``eus`` profile (4.16.20 -> 4.17.5 -> 4.18.2, channel eus-4.18).

The connected side's wizard (``ocp-airgap --plan connected.yaml``, mode ``to-media``, no cluster) walks three of its
four steps (the fourth, the optional operator catalog, is not needed here) — the pull secret from a file, the
release with the cluster's version typed in (that side cannot read it), and ONE mirroring run that writes both
releases of the path onto the media. The disconnected side's wizard (``from-media``, a state folder of its own)
walks each of its steps in order: preflight, credentials, release, ONE upload from the media, mirror config,
signature, catalog (skipped), MHC pause, the update along the whole path in the control-plane-only mode chosen with
``p``, and the summary. At each step the step selected in the list, its summary whole and the next action are on
screen, no line wider than 80 cells. Afterwards the lab says: the cluster at 4.18.2 with 4.17.5 and 4.16.20
Completed in its history, each worker rebooted once and each master twice; the journals say: the media written in
one run, uploaded in one run, the MHCs paused once and resumed once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cluster import CONFIGMAP, MCP
from engine.journal import Journal
from engine.workflow import path_run
from tests.procedures.test_handoff import _side
from tests.procedures.test_path import CURRENT, MIDDLE, TARGET, _reboots, _roles, gates_handled
from tests.tui.test_e2e_tmux import TEXT, Terminal, _exe
from tests.tui.test_e2e_tmux import pytestmark as e2e_marks

pytestmark = list(e2e_marks)

T = TEXT["en"]
DONE = T["step done"]
STORED = f"Update path: {MIDDLE} -> {TARGET} (hop by hop)"


class Wizard(Terminal):
    """One side's wizard in tmux (session 'demo' on a private socket, as :class:`Terminal` expects)."""

    def open(self, plan: Path, state: Path) -> None:
        env = f"OCP_AIRGAP_STATE_DIR={state} TERM=xterm-256color LANG=C.UTF-8"
        command = f"cd {plan.parent} && env {env} {_exe()} --lang en --plan {plan}"
        self.tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)
        self.wait_for("press r to continue", limit=60, what="the welcome screen")

    def quit(self) -> None:
        self.keys("C-q")
        self.wait_for(lambda s: not self.tmux("list-sessions"), limit=30, what="the wizard to exit")

    def step(self, number: int, total: int, step: str) -> str:
        from screens.steps import BY_ID

        info = BY_ID[step]
        return self.frame(f"Step {number} of {total}: {info.title}", info.title, info.about)


@pytest.fixture
def wizard(tmp_path: Path) -> Iterator[Wizard]:
    term = Wizard(f"ocp-airgap-media-path-{os.getpid()}")
    try:
        yield term
    finally:
        term.tmux("kill-server")


def _plans(info: Any, tmp_path: Path, media: Path) -> tuple[Path, Path]:
    plans = []
    for name, mode in (("connected", "to-media"), ("disconnected", "from-media")):
        path = _side(info, tmp_path, name, mode, media)
        doc = yaml.safe_load(path.read_text())
        doc["release"].update({"channel": "eus-4.18", "version": TARGET, "digest": ""})
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        plans.append(path)
    return plans[0], plans[1]


def _runs(journal: Journal, step: str) -> list[dict[str, Any]]:
    return [
        r.data for r in journal.records if r.step == step and r.kind == "step-started" and "path" in r.data
    ]


def test_media_flow_of_a_whole_path_control_plane_only(
    sandbox_factory: Any, tmp_path: Path, wizard: Wizard
) -> None:
    info = sandbox_factory(profile="eus", components=4, size_mb=1)
    assert info.current_version == CURRENT
    media, state = tmp_path / "usb", tmp_path / "xdg"
    connected, disconnected = _plans(info, tmp_path, media)

    # ----- the connected side: no cluster; credentials from a file, the cluster's version typed in, one run
    wizard.open(connected, state)
    wizard.keys("r")
    wizard.step(1, 4, "credentials")
    wizard.fill(1, info.pull_secret, "pull-secret.json", "r Merge")
    wizard.run_step("r", DONE)
    wizard.keys("n")
    wizard.step(2, 4, "release")
    wizard.fill(2, CURRENT, CURRENT, "r Choose")
    wizard.run_step("r", DONE)
    wizard.wait_for(STORED, what="the whole path stored in the plan")
    wizard.keys("n")
    wizard.step(3, 4, "mirror")
    screen = wizard.run_step("r", "media written: carry it to the disconnected host", limit=300)
    wizard.quit()
    conn = Journal(tmp_path / "connected" / "state" / "connected" / "journal.json")
    written = _runs(conn, "mirror")
    assert [r["path"] for r in written] == [[MIDDLE, TARGET]], "the media are written in one run"
    run = path_run(conn.records, "mirror")
    assert run is not None and run["status"] == "succeeded" and run["done"] == [MIDDLE, TARGET], run
    tags = {p.name for p in (media / "mirror" / "v2" / "openshift" / "release" / "manifests").iterdir()}
    assert {f"{MIDDLE}-x86_64", f"{TARGET}-x86_64"} <= tags

    # ----- the disconnected side: a state folder of its own; every step in order. Its plan is the one the media
    # carries (the documented handoff: the same plan on both sides), so it holds the path from the start
    carried = yaml.safe_load((media / "mirror" / "ocp-airgap" / "plan.yaml").read_text())
    assert [h["version"] for h in carried["release"]["path"]] == [MIDDLE, TARGET]
    doc = yaml.safe_load(disconnected.read_text())
    doc["release"] = carried["release"]
    disconnected.write_text(yaml.safe_dump(doc, sort_keys=False))
    cluster = gates_handled(info)
    before = _reboots(info)
    assert not before, "no node rebooted yet"
    wizard.open(disconnected, state)
    wizard.keys("r")
    wizard.step(1, 10, "preflight")
    wizard.fill(1, "2025-03-14 08:00", "2025-03-14 08:00", "r Run checks")
    screen = wizard.run_step("r", T["checked"], limit=90)
    assert DONE in wizard.next_line(), f"a check failed with the gates handled:\n{screen}"
    steps = [
        ("credentials", "r", DONE),
        ("release", "r", DONE),
        ("mirror", "r", DONE),
        ("mirror-config", "r", DONE),
        ("signature", "r", DONE),
        ("catalog", "s", DONE),
        ("mhc-pause", "r", DONE),
    ]
    for number, (step, key, done) in enumerate(steps, start=2):
        wizard.keys("n")
        wizard.step(number, 10, step)
        screen = wizard.run_step(key, done, limit=300)
        if step == "release":  # the selection's outcome shows before the confirmed store: wait for it
            wizard.wait_for(STORED, what="the whole path stored in the plan")
    # the update: the whole path, control plane only (p), chosen before it starts
    wizard.keys("n")
    screen = wizard.step(9, 10, "upgrade")
    assert f"Update path: {MIDDLE} -> {TARGET} (hop by hop)" in screen, screen
    screen = wizard.wait_for("p Control plane only", what="the mode's key in the key bar")
    assert "Control plane only (p): off" in screen, screen
    wizard.keys("p")
    screen = wizard.wait_for("Control plane only (p): ON", what="the mode chosen")
    assert "one worker reboot instead of 2" in " ".join(
        c.partition("▕")[2].strip() for c in screen.splitlines()
    )
    # the planned equivalent commands follow the mode
    wizard.wait_for("--control-plane-only", what="the equivalent command of the mode")
    wizard.run_step("r", T["update done"], limit=600)
    wizard.keys("n")
    wizard.step(10, 10, "mhc-resume")
    wizard.wait_for(lambda s: "all done" in wizard.next_line(), what="the summary (MHCs resumed by the path)")
    wizard.quit()

    # ----- what the lab and the journals say
    cv = cluster.cluster_version()
    history = [(h["version"], h["state"]) for h in cv["status"]["history"]]
    assert history[:3] == [(TARGET, "Completed"), (MIDDLE, "Completed"), (CURRENT, "Completed")], history
    pools = {p["metadata"]["name"]: p["spec"].get("paused") for p in cluster.list(MCP)}
    assert pools == {"master": False, "worker": False}, "the worker pool is unpaused at the end"
    reboots, roles = _reboots(info), _roles(info)
    workers = [n for n, r in roles.items() if r == "worker"]
    masters = [n for n, r in roles.items() if r == "master"]
    assert workers and all(reboots[n] == 1 for n in workers), reboots
    assert masters and all(reboots[n] == 2 for n in masters), reboots
    disc = Journal(tmp_path / "disconnected" / "state" / "disconnected" / "journal.json")
    uploaded = _runs(disc, "mirror")
    assert [r["path"] for r in uploaded] == [[MIDDLE, TARGET]], "the media are uploaded in one run"
    updated = _runs(disc, "upgrade")
    assert [(r["path"], r["control_plane_only"]) for r in updated] == [([MIDDLE, TARGET], True)], updated
    run = path_run(disc.records, "upgrade")
    assert run is not None and run["status"] == "succeeded" and run["done"] == [MIDDLE, TARGET], run
    mhc = [r.data.get("action") for r in disc.records if r.step == "mhc" and r.kind == "step-finished"]
    assert mhc == ["pause", "resume"], mhc
    pools_changed = [
        (r.data.get("action"), r.data.get("resource"))
        for r in disc.records
        if r.step == "pools" and r.kind == "change" and r.data.get("phase") == "done"
    ]
    assert pools_changed == [("pause", "machineconfigpool/worker"), ("unpause", "machineconfigpool/worker")]
    assert disc.decision("upgrade", "control-plane-only") is True
    # every hop's signature is on the cluster (binaryData keys sha256-<hex>-N, as the CVO reads them)
    keys = {k for c in cluster.list(CONFIGMAP, "openshift-config-managed") for k in c.get("binaryData") or {}}
    for v in (MIDDLE, TARGET):
        prefix = info.release(v).digest.replace(":", "-")
        assert any(k.startswith(prefix) for k in keys), (v, sorted(keys))
