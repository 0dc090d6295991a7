"""Fixtures for the wizard's tests: an offline plan (a kubeconfig naming a loopback port where nothing listens,
so nothing outside the machine is ever contacted), a private state dir for the journal, and an App factory
with every source of nondeterminism fixed (clock, operator name, cursor blink, live cluster reads)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.journal import Journal
from engine.plan import Plan

FIXED_NOW = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
OFFLINE_SERVER = "https://127.0.0.1:9"
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {{server: "{OFFLINE_SERVER}"}}
contexts:
- name: admin
  context: {{cluster: lab, user: admin}}
current-context: admin
users:
- name: admin
  user: {{token: not-a-real-token}}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding kubeconfig + plan.yaml; the current directory and the state dir point into it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    plan = Plan()
    plan.cluster.kubeconfig = "kubeconfig"
    plan.mirror.registry = "mirror.example.com:8443"
    plan.mirror.username = "mirror-admin"
    plan.release.version = "4.17.3"
    plan.release.channel = "stable-4.17"
    plan.save(tmp_path / "plan.yaml")
    return tmp_path


@pytest.fixture
def offline_plan(workdir: Path) -> Plan:
    plan = Plan.load("plan.yaml")
    plan.source_path = "plan.yaml"
    return plan


@pytest.fixture
def make_app(workdir: Path) -> Callable[..., Any]:
    from tui.app import WizardApp, open_journal

    def make(plan: Plan | None = None, **kw: Any) -> WizardApp:
        if plan is None:
            plan = Plan.load("plan.yaml")
            plan.source_path = "plan.yaml"
        kw.setdefault("journal", open_journal(plan))
        kw.setdefault("clock", lambda: FIXED_NOW)
        kw.setdefault("operator", "oncall@bastion")
        kw.setdefault("cursor_blink", False)
        kw.setdefault("output_dir", workdir)
        return WizardApp(plan, **kw)

    return make


def screen_text(app: Any) -> str:
    """The screen as plain text (what a tmux capture would show), read through Textual's public screenshot
    export: Rich's SVG places each run of text at x = column * char_width, y = line * line_height + char_height
    (rich.console.Console.export_svg, char_height 20, aspect 0.61, line height 1.22)."""
    import html
    import re

    from rich.cells import cell_len

    char_width, line_height, char_height = 20 * 0.61, 20 * 1.22, 20
    width, height = app.size
    rows: list[list[str]] = [[" "] * width for _ in range(height)]
    svg = app.export_screenshot()
    for m in re.finditer(r'<text class="[^"]*" x="([0-9.]+)" y="([0-9.]+)"[^>]*>([^<]*)</text>', svg):
        x, y, text = float(m.group(1)), float(m.group(2)), html.unescape(m.group(3)).replace("\xa0", " ")
        row = round((y - char_height) / line_height)
        col = round(x / char_width)
        if not 0 <= row < height:
            continue
        for ch in text:
            if col >= width:
                break
            rows[row][col] = ch
            w = cell_len(ch)
            for extra in range(1, w):
                if col + extra < width:
                    rows[row][col + extra] = ""
            col += max(w, 1)
    return "\n".join("".join(r).rstrip() for r in rows)


def journal_of(workdir: Path) -> Journal:
    return Journal.for_cluster(OFFLINE_SERVER)
