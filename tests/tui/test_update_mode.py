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
