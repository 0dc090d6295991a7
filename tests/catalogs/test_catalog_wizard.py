"""The wizard's Operator catalog step, keys only, against the lab's blocking operator: the installed operators
are listed with the one that blocks the target, the filtered catalog is mirrored and applied after confirmation,
the blocking operator is moved to its compatible channel, and the list then shows it compatible."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.plan import Plan
from tests.catalogs.test_catalog_lab import VERSIONS, _olm_upgradeable
from tests.helpers import wait_until
from tests.procedures.test_upgrade import lab_plan
from tests.tui.conftest import FIXED_NOW, screen_text
from tests.tui.test_wizard_sandbox import act
from tui.app import WizardApp, open_journal


async def test_catalog_step_updates_the_blocking_operator(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1, profile="operators")
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    plan = Plan.load(lab_plan(info, tmp_path))
    app = WizardApp(
        plan,
        journal=open_journal(plan),
        clock=lambda: FIXED_NOW,
        operator="oncall@bastion",
        cursor_blink=False,
        output_dir=tmp_path,
        watch_interval=0.2,
        start_step="catalog",
    )
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = await act(pilot, app, "o")
        assert (
            "openshift-logging/cluster-logging 5.8.1 [stable-5.8] BLOCKS 4.17.3 -> update to 5.9.1" in text
        ), text
        text = await act(pilot, app, "d")
        assert any("Filtered catalog: 3 package(s)" in e.text for e in app.run_for("catalog").log), text
        await act(pilot, app, "m", limit=180)
        assert app.recorded_status("catalog") == "succeeded"
        text = await act(pilot, app, "u", limit=180)
        wait_until(
            lambda: "cluster-logging 5.9.1 [stable-5.9] compatible" in screen_text(app),
            30,
            what="the operator listed as compatible",
        )
    wait_until(lambda: _olm_upgradeable(info).get("status") == "True", 20, what="OLM Upgradeable=True")
