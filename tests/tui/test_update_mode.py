"""The Update step's control-plane-only mode (``p``) at 80x24: offered only for a path through an intermediate minor,
in the key bar, explained on the screen, journaled as the admin's decision so a restarted wizard keeps it, fixed
once a path run has begun, and followed by the planned equivalent commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.plan import Plan
from engine.upgrade_path import MODE_KEY, chosen_mode, crosses_intermediate_minor
from tests.tui.conftest import screen_text

EUS_PATH = [
    {"version": "4.17.5", "digest": "sha256:" + "a" * 64, "channel": "eus-4.18", "risks": []},
    {"version": "4.18.2", "digest": "sha256:" + "b" * 64, "channel": "eus-4.18", "risks": []},
]


def _plan(path: list[dict[str, Any]]) -> Plan:
    plan = Plan.load("plan.yaml")
    plan.source_path = "plan.yaml"
    plan.release.channel = "eus-4.18"
    plan.release.target = plan.release.version = path[-1]["version"] if path else "4.17.3"
    plan.release.digest = path[-1]["digest"] if path else "sha256:" + "c" * 64
    plan.release.path = [dict(h) for h in path]
    return plan


def test_crosses_intermediate_minor() -> None:
    assert crosses_intermediate_minor(["4.17.5", "4.18.2"])
    assert not crosses_intermediate_minor(["4.17.5", "4.17.9"])
    assert not crosses_intermediate_minor(["4.18.2"])
    assert not crosses_intermediate_minor([])


async def test_p_chooses_control_plane_only_and_a_restart_keeps_it(make_app: Callable[..., Any]) -> None:
    app = make_app(_plan(EUS_PATH), start_step="upgrade", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "p Control plane only" in text, text
        assert "Control plane only (p): off" in text, text
        assert "--control-plane-only" not in " ".join(app.screen.command_pane.shown)
        await pilot.press("p")
        await pilot.pause()
        text = screen_text(app)
        assert "Control plane only (p): ON" in text, text
        shown = app.screen.command_pane.shown
        assert shown[0] == "$ ocp-airgap upgrade run-path --plan P --yes --control-plane-only", shown
        assert '$ oc patch mcp/worker --type merge --patch \'{"spec":{"paused":true}}\'' in shown, shown
        assert shown[-1] == '$ oc patch mcp/worker --type merge --patch \'{"spec":{"paused":false}}\'', shown
    assert app.journal.decision("upgrade", MODE_KEY) is True

    again = make_app(_plan(EUS_PATH), start_step="upgrade", live=False)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Control plane only (p): ON" in screen_text(again)
        await pilot.press("p")  # and back off
        await pilot.pause()
        assert "Control plane only (p): off" in screen_text(again)
    assert chosen_mode(again.journal) is False


async def test_a_path_run_keeps_the_mode_it_began_in(make_app: Callable[..., Any]) -> None:
    app = make_app(_plan(EUS_PATH), start_step="upgrade", live=False)
    versions = [h["version"] for h in EUS_PATH]
    app.journal.step_started("upgrade", path=versions, control_plane_only=True, at="4.16.20")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Control plane only (p): ON" in screen_text(app)
        await pilot.press("p")
        await pilot.pause()
        text = screen_text(app)
        assert "Control plane only (p): ON" in text, text
    assert app.journal.decision("upgrade", MODE_KEY) is None, "nothing recorded: the run's mode stands"


async def test_no_mode_key_without_an_intermediate_minor(make_app: Callable[..., Any]) -> None:
    z_stream = [dict(EUS_PATH[1], version="4.18.1"), EUS_PATH[1]]
    for plan in (_plan([]), _plan(z_stream)):
        app = make_app(plan, start_step="upgrade", live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            text = screen_text(app)
            assert "Control plane only" not in text, text
            await pilot.press("p")
            await pilot.pause()
        assert app.journal.decision("upgrade", MODE_KEY) is None


async def test_a_finished_hop_is_not_the_finished_update(make_app: Callable[..., Any]) -> None:
    """Following the update (f, or a reattach) ends when the hop under way completes: for a path that is one hop,
    not the update; the step stays open (the MachineHealthChecks stay paused) and r continues the path."""
    from engine import upgrade

    app = make_app(_plan(EUS_PATH), start_step="upgrade", live=False)
    marked: list[tuple[str, str]] = []
    app.mark_step = lambda step, status, summary="": marked.append((step, status))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        snap = upgrade.Snapshot(
            target="mirror/ocp@" + EUS_PATH[0]["digest"], target_version="4.17.5", generation_observed=True,
            desired_image="", desired_version="4.17.5", history_head={"state": "Completed", "version": "4.17.5"},
            progressing={"status": "False"}, available={"status": "True"}, failing={}, release_accepted={},
            upgradeable={}, progress=upgrade.Progress(None, None), operators={}, pools={}, nodes={}, machines={},
        )  # fmt: skip
        app.screen._complete(snap)
        await pilot.pause()
        assert ("upgrade", "succeeded") not in marked
        lines = [e.text for e in app.run_for("upgrade").log]
        assert any("the path goes on to 4.18.2: press r to continue it" in t for t in lines), lines
        app.screen._complete(
            upgrade.Snapshot(**{**snap.__dict__, "target_version": "4.18.2", "desired_version": "4.18.2"})
        )
        await pilot.pause()
        assert ("upgrade", "succeeded") in marked


async def test_an_open_path_run_is_reattached_as_a_path(
    make_app: Callable[..., Any], monkeypatch: Any
) -> None:
    """Reopened while a path run is recorded as running, the Update step continues the path (the engine records
    the hops done meanwhile and asks before each change), instead of following one hop."""
    from screens.update import UpdateScreen

    calls: list[str] = []
    monkeypatch.setattr(UpdateScreen, "_run_path", lambda self, accept: calls.append("path"))
    monkeypatch.setattr(UpdateScreen, "action_follow", lambda self: calls.append("follow"))
    app = make_app(_plan(EUS_PATH), start_step="upgrade", live=True)
    app.journal.step_started(
        "upgrade", path=[h["version"] for h in EUS_PATH], control_plane_only=False, at="4.16.20"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert calls and set(calls) == {"path"}, (
            calls
        )  # (the fake starts nothing, so mount and resume both ask)
        lines = [e.text for e in app.run_for("upgrade").log]
        assert "An update along the path 4.17.5 -> 4.18.2 is in progress: reattaching." in lines, lines
