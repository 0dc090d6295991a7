"""The wizard driven only with keys (Pilot, in process) against a private sandbox lab and the real engine: every
step screen from the first one to a completed update with the MachineHealthChecks resumed, then the cluster's
state is checked. A second test stops the wizard in the middle of the update and starts a new one, which
reattaches and finishes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.cluster import CLUSTER_VERSION, MACHINE, MHC, PDB, Cluster, current_version
from engine.journal import Journal
from engine.plan import Plan
from screens.base import StepScreen
from tests.tui.conftest import FIXED_NOW, screen_text
from tui.app import WizardApp, open_journal
from tui.widgets.modals import ConfirmModal, ErrorModal

PAUSED = "cluster.x-k8s.io/paused"
VERSIONS = ("4.16.18", "4.16.20")


def _lab_app(info: Any, state: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> WizardApp:
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(state))
    plan = Plan.load(info.plan)
    return WizardApp(
        plan,
        journal=open_journal(plan),
        clock=lambda: FIXED_NOW,
        operator="oncall@bastion",
        cursor_blink=False,
        output_dir=Path(info.directory),
        watch_interval=0.2,
        rollout_settle=5.0,
        **kw,
    )


def _admin(info: Any) -> Cluster:
    return Cluster.connect(info.kubeconfig, "admin")


async def act(pilot: Any, app: WizardApp, key: str, *, limit: float = 120.0, confirm: bool = True) -> str:
    """Press ``key`` and answer 'y' to every confirmation until the step's work is done; returns the screen."""
    await pilot.press(key)
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        screen = app.screen
        if isinstance(screen, ErrorModal):
            raise AssertionError(f"error modal: {screen.title_text}: {screen.message} / {screen.fix}")
        if isinstance(screen, ConfirmModal):
            await pilot.press("y" if confirm else "n")
            quiet = 0
            continue
        if any(r.running for r in app.runs.values()):
            quiet = 0
            continue
        quiet += 1
        if quiet > 4:
            return screen_text(app)
    raise AssertionError(f"'{key}' did not finish in {limit:.0f}s:\n{screen_text(app)}")


def _step(app: WizardApp) -> str:
    assert isinstance(app.screen, StepScreen)
    return app.screen.STEP


async def test_whole_update_with_keys_only(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=VERSIONS)
    state = tmp_path / "state"
    cluster = _admin(info)
    machines_before = {m["metadata"]["uid"] for m in cluster.list(MACHINE, "openshift-machine-api")}
    app = _lab_app(info, state, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Nothing recorded for this cluster yet" in screen_text(app)
        await act(pilot, app, "r")
        assert _step(app) == "preflight"
        await pilot.press("tab", *"2025-03-14 08:00", "escape")
        text = await act(pilot, app, "r")
        checks = {c.name: c for c in app.run_for("preflight").check_list()}
        assert checks, text
        # preflight names the lab's PodDisruptionBudget that allows no disruption (it would block the drain
        # forever); the admin acts on the finding, as its fix says, and runs the checks again
        pdb = checks["PodDisruptionBudgets"]
        assert pdb.status in ("warn", "fail") and "payments-api-pdb" in pdb.detail, pdb
        cluster.merge_patch(PDB, "payments-api-pdb", {"spec": {"minAvailable": 0}}, "payments")
        await act(pilot, app, "r")
        if [c for c in app.run_for("preflight").check_list() if c.status == "fail"]:
            await act(pilot, app, "a")
        assert app.recorded_status("preflight") == "succeeded"

        await act(pilot, app, "n")
        assert _step(app) == "credentials"
        await act(pilot, app, "r")
        assert app.recorded_status("credentials") == "succeeded"

        await act(pilot, app, "n")
        assert _step(app) == "release"
        await act(pilot, app, "r")
        assert app.plan.release.digest == info.release("4.16.20").digest
        assert Plan.load(info.plan).release.digest == app.plan.release.digest  # stored in the plan file

        await act(pilot, app, "n")
        assert _step(app) == "mirror"
        text = await act(pilot, app, "r")
        assert app.recorded_status("mirror") == "succeeded", text

        await act(pilot, app, "n")
        assert _step(app) == "mirror-config"
        text = await act(pilot, app, "r")
        assert app.recorded_status("mirror-config") == "succeeded", text
        await act(pilot, app, "n")
        assert _step(app) == "signature"
        await act(pilot, app, "r")
        assert app.recorded_status("signature") == "succeeded"
        await act(pilot, app, "n")
        assert _step(app) == "catalog"
        await act(pilot, app, "s")  # optional: no operator catalog in this update
        assert app.recorded_status("catalog") == "skipped"
        await act(pilot, app, "n")
        assert _step(app) == "mhc-pause"
        await act(pilot, app, "r")
        assert app.recorded_status("mhc-pause") == "succeeded"
        await act(pilot, app, "n")
        assert _step(app) == "upgrade"

        text = await act(pilot, app, "r", limit=150)
        assert app.recorded_status("upgrade") == "succeeded", text
        await act(pilot, app, "n")
        assert _step(app) == "mhc-resume"
        text = await act(pilot, app, "r")
        assert "all done" in text
        await pilot.press("w")
        await pilot.pause()

    cv = cluster.get(CLUSTER_VERSION, "version")
    assert current_version(cv) == "4.16.20"
    assert cv["status"]["history"][0]["state"] == "Completed"
    paused = {
        m["metadata"]["name"]: PAUSED in (m["metadata"].get("annotations") or {})
        for m in cluster.list(MHC, "openshift-machine-api")
    }
    assert paused == {"master-mhc": True, "worker-mhc": False}  # the admin's stays paused, ours resumed
    machines_after = {m["metadata"]["uid"] for m in cluster.list(MACHINE, "openshift-machine-api")}
    assert machines_after == machines_before  # nothing remediated
    runbook = (Path(info.directory) / "runbook.sh").read_text()
    assert "annotate mhc worker-mhc cluster.x-k8s.io/paused" in runbook
    assert "oc" in runbook and "adm upgrade --allow-explicit-upgrade --to-image" in runbook


async def test_kill_mid_update_then_reattach(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first wizard starts the update and goes away without finishing (as after a dropped SSH session);
    the second finds the update in progress in the journal, reattaches and follows it to completion."""
    info = sandbox_factory(versions=VERSIONS, speed=120)
    state = tmp_path / "state"
    cluster = _admin(info)
    cluster.merge_patch(PDB, "payments-api-pdb", {"spec": {"minAvailable": 0}}, "payments")
    plan = Plan.load(info.plan)
    plan.release.digest = info.release("4.16.20").digest
    plan.save(info.plan)
    from engine.context import Context
    from engine.events import Emitter, Recorder

    # what the earlier steps do, through the engine directly (the screens for them are tested above)
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(state))
    from engine import mhc, mirror, mirrorconfig, signatures

    ctx = Context(plan, Emitter("setup", Recorder()))
    mirror.mirror_release(ctx)
    mirrorconfig.apply(ctx, mirrorconfig.prepare(ctx))
    signatures.apply(ctx, signatures.prepare(ctx))
    mhc.pause(ctx, mhc.prepare_pause(ctx))

    first = _lab_app(info, state, monkeypatch, start_step="upgrade")
    async with first.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        for _ in range(400):
            await pilot.pause(0.05)
            if isinstance(first.screen, ConfirmModal):
                await pilot.press("y")
            run = first.run_for("upgrade")
            if run.running and run.operation.startswith("Following") and run.progress_list():
                break
        assert first.run_for("upgrade").operation.startswith("Following")
        # gone mid-update: cancel the watch as a dying process would stop it
        for r in first.runs.values():
            r.cancel.set()
    journal = Journal.for_cluster(info.api.server)
    assert journal.step_status("upgrade") == "running"
    assert current_version(cluster.cluster_version()) == "4.16.18"

    second = _lab_app(info, state, monkeypatch)
    async with second.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        welcome = screen_text(second)
        assert "In progress: Update & monitor." in welcome
        assert "MHCs paused by this tool: worker-mhc" in welcome
        await pilot.press("r")  # continue where things stand: the update screen, which reattaches
        await pilot.pause()
        assert _step(second) == "upgrade"
        deadline = time.monotonic() + 150
        while second.recorded_status("upgrade") != "succeeded" and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert second.recorded_status("upgrade") == "succeeded", screen_text(second)
        assert "reattaching" in "\n".join(e.text for e in second.run_for("upgrade").log)
    assert current_version(cluster.cluster_version()) == "4.16.20"


async def test_first_screen_shows_the_cluster_version_and_channel(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _lab_app(sandbox, tmp_path / "state", monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        from textual.widgets import Static

        def cluster_line() -> str:
            return str(app.screen.query_one("#cluster", Static).render())

        deadline = time.monotonic() + 20
        while "runs 4.16.18" not in cluster_line():
            assert time.monotonic() < deadline, screen_text(app)
            await pilot.pause(0.05)
        assert "runs 4.16.18 (channel stable-4.16)" in cluster_line()
        assert "Target: 4.17.3" in cluster_line()
