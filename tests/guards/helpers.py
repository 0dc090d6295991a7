"""Shared by the guard tests: run the headless command, and assert the shape of a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str,
    state: Path,
    timeout: float = 180,
    env: dict[str, str] | None = None,
    input: str | None = None,  # noqa: A002 - subprocess's name
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(state), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
        cwd=ROOT,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def assert_clear_error(res: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    """One error line with the cause, one fix line, the documented exit code, and no traceback."""
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    assert res.returncode == code, f"exit {res.returncode}, expected {code}:\n{out[-3000:]}"
    if not res.stderr.startswith("usage:") and "error: argument" not in res.stderr:
        assert "error: " in out and "fix: " in out, out
    for phrase in phrases:
        assert phrase in out, f"{phrase!r} not in:\n{out[-3000:]}"


def plan_copy(info: Any, directory: Path, name: str = "plan", **changes: Any) -> Path:
    """A copy of the lab's plan with ``section__key=value`` changes."""
    doc = yaml.safe_load(Path(info.plan).read_text())
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        doc[section][key] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
