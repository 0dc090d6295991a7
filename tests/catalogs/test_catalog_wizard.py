"""The wizard's Operator catalog step, keys only, at 80x24, against the lab's blocking operator (profile
``operators``: cluster-logging 5.8.1 declares olm.maxOpenShiftVersion 4.16, the target is 4.17):

- direct: preflight fails naming the operator and the channel to update it through; the Update step refuses to
  start while it blocks; the catalog step lists it (the list and the next action on the 80x24 screen), mirrors
  and applies the filtered catalog after confirmation and moves the operator to its compatible channel;
  preflight then passes and the minor update runs to Completed, the MachineHealthChecks paused and resumed;
- through media: the connected side's wizard writes the filtered catalog onto the media, the disconnected side's
  wizard (its own state) uploads it, applies it, updates the operator, and the minor update completes.

The steps before preflight's verdict matters (credentials, release, mirror, mirror config, signature) are done
headless on the same journal; they have their own wizard tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.catalogs.installed import SUBSCRIPTION
from engine.plan import Plan
from screens.base import StepScreen
from tests.catalogs.test_catalog_lab import VERSIONS, _ok, _olm_upgradeable
from tests.helpers import wait_until
from tests.procedures.test_handoff import _side
from tests.procedures.test_upgrade import admin, cv_condition, lab_plan, relax_drain_blocker, run_cli
from tests.tui.conftest import FIXED_NOW, screen_text
from tests.tui.test_wizard_sandbox import act
from tui.app import WizardApp, open_journal
from tui.widgets.modals import ErrorModal

SIZE = (80, 24)
BLOCKS = "openshift-logging/cluster-logging 5.8.1 [stable-5.8] BLOCKS 4.17.3"


def _wizard(plan_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch, start: str) -> WizardApp:
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(state))
    plan = Plan.load(plan_path)
    return WizardApp(
        plan,
        journal=open_journal(plan),
        clock=lambda: FIXED_NOW,
        operator="oncall@bastion",
        cursor_blink=False,
        output_dir=plan_path.parent,
        watch_interval=0.1,
        rollout_settle=2.0,
        start_step=start,
    )


def _step(app: WizardApp) -> str:
    assert isinstance(app.screen, StepScreen)
    return app.screen.STEP


def _prepared(info: Any, plan: Path, state: Path, *, from_media: bool = False) -> None:
    """Headless, on the wizard's journal: the release mirrored (or uploaded from the media), its mirror config
    and signature, the credentials annotation the lab's CCO asks for, the PodDisruptionBudget relaxed."""
    P = ("--plan", str(plan))
    _ok(run_cli("credentials", "merge", *P, "--update-cluster", "--yes", state=state), "credentials")
    _ok(run_cli("credentials", "trust-ca", *P, "--cluster-only", "--yes", state=state), "trust-ca")
    _ok(run_cli("mirror", *P, state=state, timeout=600), "mirror from media" if from_media else "mirror")
    _ok(run_cli("mirror-config", "apply", *P, "--yes", state=state), "mirror-config")
    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature")
    _ok(
        run_cli("fix", "apply", "cloudcredential/upgradeable-to", *P, "--yes", "--acknowledge", state=state),
        "cco",
    )
    relax_drain_blocker(admin(info))


async def _preflight(pilot: Any, app: WizardApp) -> dict[str, Any]:
    if not app.screen.query("#etcd-backup").first().value:  # type: ignore[attr-defined]
        await pilot.press("tab", *"2025-03-14 08:00", "escape")
    await act(pilot, app, "r")
    return {c.name: c for c in app.run_for("preflight").check_list()}


async def _catalog_then_update(pilot: Any, app: WizardApp, info: Any, *, media: bool) -> None:
    """From the preflight screen: it fails naming the operator; Update refuses; the catalog step updates the
    operator; preflight passes; the minor update completes with the MHCs paused and resumed."""
    assert _step(app) == "preflight"
    checks = await _preflight(pilot, app)
    op = checks["Installed operators"]
    assert op.status == "fail", op
    assert "openshift-logging/cluster-logging (cluster-logging 5.8.1)" in op.detail, op
    # no catalog read on this host yet: the fix says how to find the version to update to
    assert "find the version of cluster-logging to update to: ocp-airgap catalog operators" in op.fix, op
    # the first failure selected is the CVO's Upgradeable (it quotes OLM); the arrows reach the operator's row,
    # whose detail is on the 80x24 screen
    for _ in range(40):
        if "FAIL Installed operators" in screen_text(app):
            break
        await pilot.press("down")
        await pilot.pause()
    text = screen_text(app)
    assert "FAIL Installed operators" in text and "openshift-logging/cluster-logging" in text, text
    assert app.recorded_status("preflight") == "failed"
    await act(pilot, app, "a")  # accepted, so the steps after it can be reached; the update gate stays
    assert app.recorded_status("preflight") == "succeeded"

    # the Update step refuses while the operator blocks, naming it
    app.goto("mhc-pause")
    await pilot.pause()
    await act(pilot, app, "r")
    assert app.recorded_status("mhc-pause") == "succeeded"
    app.goto("upgrade")
    await pilot.pause()
    await pilot.press("r")
    refused = await _wait_modal(pilot, app)
    assert "installed operators compatible" in refused and "cluster-logging.v5.8.1" in refused, refused
    await pilot.press("escape")
    await pilot.pause()
    assert admin(info).cluster_version()["spec"].get("desiredUpdate") in (None, {}), "nothing was sent"

    # the catalog step, at 80x24: the list and the next action visible
    app.goto("catalog")
    await pilot.pause()
    await act(pilot, app, "o")
    text = _pane(app)
    assert "openshift-operators/openshift-pipelines-operator-rh 1.14.1 [latest] compatible" in text, text
    if media:  # nothing uploaded yet: the version to update to is not known on this side
        assert BLOCKS in text, screen_text(app)
        assert (
            "Next: m uploads the catalog from the media and applies it, then u updates the operators" in text
        )
    else:  # read from the index image
        assert f"{BLOCKS} -> update to 5.9.1 (stable-5.9)" in text, screen_text(app)
        assert "Next: m mirrors and applies the catalog, then u updates the blocking operators" in text, text
    await act(pilot, app, "m", limit=180)
    assert app.recorded_status("catalog") == "succeeded"
    assert f"{BLOCKS} -> update to 5.9.1 (stable-5.9)" in _pane(app), screen_text(app)
    if media:
        assert any("Checking the media in" in e.text for e in app.run_for("catalog").log)
    assert "Next: u moves the blocking operators to their compatible channel" in _pane(app), screen_text(app)
    await act(pilot, app, "u", limit=180)
    wait_until(
        lambda: "cluster-logging 5.9.1 [stable-5.9] compatible" in _pane(app),
        30,
        what="the operator listed as compatible",
    )
    wait_until(lambda: _olm_upgradeable(info).get("status") == "True", 20, what="OLM Upgradeable=True")
    wait_until(
        lambda: cv_condition(admin(info), "Upgradeable").get("status") != "False", 30, what="CVO Upgradeable"
    )

    # preflight passes now
    app.goto("preflight")
    await pilot.pause()
    checks = await _preflight(pilot, app)
    assert checks["Installed operators"].status == "pass", checks["Installed operators"]
    assert app.recorded_status("preflight") == "succeeded"

    # the minor update to Completed, then the MHCs resumed
    app.goto("upgrade")
    await pilot.pause()
    text = await act(pilot, app, "r", limit=240)
    assert app.recorded_status("upgrade") == "succeeded", text
    await act(pilot, app, "n")
    assert _step(app) == "mhc-resume"
    text = await act(pilot, app, "r")
    assert app.recorded_status("mhc-resume") == "succeeded", text
    head = admin(info).cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", VERSIONS[1])
    subs = {s["metadata"]["name"]: s["status"]["installedCSV"] for s in admin(info).list(SUBSCRIPTION)}
    assert subs["cluster-logging"] == "cluster-logging.v5.9.1"


def _pane(app: WizardApp) -> str:
    """The right-hand pane of the screen as one line of text: rows wrapped at 80 columns read whole."""
    rows = [line.split("\u2595", 1)[1].strip() for line in screen_text(app).splitlines() if "\u2595" in line]
    return " ".join(rows)


async def _wait_modal(pilot: Any, app: WizardApp, limit: int = 600) -> str:
    for _ in range(limit):
        await pilot.pause(0.05)
        if isinstance(app.screen, ErrorModal):
            return f"{app.screen.title_text}: {app.screen.message} / {app.screen.fix}"
    raise AssertionError(f"no error modal:\n{screen_text(app)}")


async def test_wizard_direct_preflight_catalog_then_minor_update(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1, profile="operators")
    state = tmp_path / "state"
    plan = lab_plan(info, tmp_path)
    _prepared(info, plan, state)
    app = _wizard(plan, state, monkeypatch, "preflight")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _catalog_then_update(pilot, app, info, media=False)


async def test_wizard_through_media_writes_then_uploads_the_catalog_then_minor_update(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1, profile="operators")
    media = tmp_path / "usb"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    near, far = tmp_path / "near-host", tmp_path / "far-host"
    _ok(run_cli("mirror", "--plan", str(connected), state=near, timeout=600), "release to media")

    # the connected side's wizard: no cluster here; the admin names the package as installed and the channels
    app = _wizard(connected, near, monkeypatch, "catalog")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.role == "connected" and _step(app) == "catalog"
        assert "Next: packages and channels, then m writes the filtered catalog onto the media" in _pane(app)
        app.screen.query_one("#catalog-packages").focus()
        await pilot.press(
            *"cluster-logging>=5.8.1", "tab", *"cluster-logging=stable-5.8,cluster-logging=stable-5.9"
        )
        await pilot.press("escape")
        text = await act(pilot, app, "m", limit=180)
        assert app.recorded_status("catalog") == "succeeded", text
    assert (media / "catalog" / "ocp-airgap" / "catalog.json").is_file()
    assert not any(p.name == "catalog.json" for p in (media / "mirror").rglob("*"))

    # the disconnected side: its own state; the release uploaded headless, the rest in its wizard
    _prepared(info, disconnected, far, from_media=True)
    app = _wizard(disconnected, far, monkeypatch, "preflight")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.role == "disconnected"
        await _catalog_then_update(pilot, app, info, media=True)
