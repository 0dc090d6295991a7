"""Negative or zero durations and counts are bad input (exit 2), never silently replaced (item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guards.helpers import assert_clear_error, cli

PLAN = "does-not-matter.yaml"  # argparse refuses the value before the plan is read


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "watch", "--plan", PLAN, "--timeout", "-5"),
        ("upgrade", "watch", "--plan", PLAN, "--timeout", "0"),
        ("upgrade", "watch", "--plan", PLAN, "--interval", "0"),
        ("upgrade", "start", "--plan", PLAN, "--fail-after", "-1"),
        ("upgrade", "watch", "--plan", PLAN, "--timeout", "nan"),
        ("mirror", "--plan", PLAN, "--concurrency", "0"),
        ("mirror", "--plan", PLAN, "--concurrency", "-3"),
        ("mirror-config", "apply", "--plan", PLAN, "--timeout", "-1"),
        ("catalog", "set", "--plan", PLAN, "x", "img", "--timeout", "0"),
        ("sandbox", "up", "--dir", "x", "--components", "0"),
        ("sandbox", "up", "--dir", "x", "--speed", "-60"),
    ],
)
def test_non_positive_values_are_bad_input(args: tuple[str, ...], tmp_path: Path) -> None:
    res = cli(*args, state=tmp_path / "state", timeout=60)
    assert_clear_error(res, 2, "must be")
    assert "greater than 0" in res.stderr or "at least 1" in res.stderr or "not a number" in res.stderr
    assert not (tmp_path / "state").exists(), "nothing is written for bad input"
