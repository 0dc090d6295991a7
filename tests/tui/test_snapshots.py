"""Snapshots of every wizard screen at 80x24 (the SSH minimum) and 120x40, deterministic: a fixed plan, no live
cluster reads, a fixed clock and operator, no cursor blink, relative paths only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from screens.steps import STEP_IDS

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEP_IDS)
def test_step_screen(
    snap_compare: Any, make_app: Callable[..., Any], step: str, size: tuple[int, int]
) -> None:
    app = make_app(start_step=step, live=False)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ascii_mode(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    app = make_app(start_step="credentials", live=False, ascii_only=True)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    app = make_app(start_step="mhc-pause", live=False)
    assert snap_compare(app, press=["question_mark"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_confirm_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    from engine.changes import Change, render_changes
    from tui.widgets.modals import ConfirmModal

    change = Change(
        title="Pause MachineHealthCheck worker-mhc",
        resource="machinehealthcheck/openshift-machine-api/worker-mhc",
        before={"metadata": {"annotations": {}}},
        after={"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}},
        command=[
            "oc",
            "-n",
            "openshift-machine-api",
            "annotate",
            "mhc",
            "worker-mhc",
            'cluster.x-k8s.io/paused=""',
        ],
    )
    app = make_app(start_step="mhc-pause", live=False)

    async def run_before(pilot: Any) -> None:
        app.push_screen(ConfirmModal("Pause these MachineHealthChecks?", render_changes([change])))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_error_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    from engine.errors import Unauthorized

    app = make_app(start_step="signature", live=False)

    async def run_before(pilot: Any) -> None:
        app.show_error(
            "signature",
            Unauthorized(
                "the API server https://127.0.0.1:9 did not accept the credentials (401 Unauthorized)",
                fix="Your token has expired or is wrong: log in again with 'oc login'.",
            ),
        )
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)
