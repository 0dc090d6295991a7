"""What a plain terminal receives, byte for byte: the installed ``ocp-airgap`` runs in tmux (private socket,
80x24) and ``tmux pipe-pane`` records every byte the program writes to the pane. With ``--ascii`` every byte is
7-bit and no SGR sequence sets a colour; with ``NO_COLOR=1`` no SGR sequence sets a colour (bold, dim and
reverse video stay: they show the selection). Without either, colours are sent (so the checks can fail)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.plan import Plan
from tests.tui.conftest import KUBECONFIG

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SGR = re.compile(rb"\x1b\[([0-9;:]*)m")
COLOUR_PARAMS = {str(n) for n in [*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)]}


def _exe() -> str:
    local = Path(sys.executable).parent / "ocp-airgap"
    return str(local) if local.exists() else shutil.which("ocp-airgap") or ""


def colour_sequences(raw: bytes) -> list[bytes]:
    """SGR sequences that set a foreground or background colour (16, 256 or true colour)."""
    found = []
    for m in SGR.finditer(raw):
        params = m.group(1).replace(b":", b";").split(b";")
        if any(p.decode() in COLOUR_PARAMS for p in params):
            found.append(m.group(0))
    return found


class Pane:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=False
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "w")

    def wait_for(self, text: str, limit: float = 30.0) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {text!r}:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "w", key)
            time.sleep(0.05)


def run_wizard(tmp_path: Path, args: str, env: str) -> bytes:
    """Start the wizard on an offline plan, walk a few screens (table, help modal, log), quit; the raw bytes."""
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    plan = Plan()
    plan.cluster.kubeconfig = "kubeconfig"
    plan.mirror.registry = "mirror.example.com:8443"
    plan.release.version = "4.17.3"
    plan.save(tmp_path / "plan.yaml")
    raw = tmp_path / "raw.bin"
    raw.touch()
    pane = Pane(f"ocp-airgap-plain-{os.getpid()}")
    command = (
        f"sleep 0.5; cd {tmp_path} && env -u NO_COLOR OCP_AIRGAP_STATE_DIR={tmp_path / 'state'} "
        f"TERM=xterm-256color LANG=C.UTF-8 {env} {_exe()} --plan plan.yaml {args}"
    )
    pane.tmux("new-session", "-d", "-s", "w", "-x", "80", "-y", "24", command)
    try:
        pane.tmux("pipe-pane", "-o", "-t", "w", f"cat >> {raw}")
        pane.wait_for("Next:")
        pane.keys("r")
        pane.wait_for("Step 1 of 10: Preflight")
        pane.keys("?")
        pane.wait_for("Needs:")
        pane.keys("q")
        time.sleep(0.3)
        pane.keys("n")
        pane.wait_for("Step 2 of 10: Credentials")
        pane.keys("C-c")
        pane.wait_for("Ctrl+Q")
        pane.keys("C-q")
        deadline = time.monotonic() + 20
        while pane.tmux("list-sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pane.tmux("kill-server")
    return raw.read_bytes()


@pytest.mark.skipif(not _exe(), reason="needs the installed ocp-airgap command (pip install -e .)")
def test_ascii_sends_only_7bit_and_no_colour(tmp_path: Path) -> None:
    raw = run_wizard(tmp_path, "--ascii", "")
    assert len(raw) > 2000  # the screens were drawn
    high = sorted({b for b in raw if b > 0x7F})
    assert not high, f"bytes above 0x7F: {[hex(b) for b in high[:20]]}"
    assert colour_sequences(raw) == []
    assert b"\x1b[7m" in raw or b";7m" in raw or b"7;" in raw  # the selection in reverse video


@pytest.mark.skipif(not _exe(), reason="needs the installed ocp-airgap command (pip install -e .)")
def test_no_color_sends_no_colour(tmp_path: Path) -> None:
    raw = run_wizard(tmp_path, "", "NO_COLOR=1")
    assert len(raw) > 2000
    assert colour_sequences(raw) == []


@pytest.mark.skipif(not _exe(), reason="needs the installed ocp-airgap command (pip install -e .)")
def test_default_terminal_gets_colour_and_box_drawing(tmp_path: Path) -> None:
    """The checks above can fail: the same walk without --ascii / NO_COLOR sends colours and box drawing."""
    raw = run_wizard(tmp_path, "", "")
    assert colour_sequences(raw)
    assert "╭".encode() in raw


def test_colour_sequences_are_recognised() -> None:
    assert colour_sequences(b"\x1b[1;38;2;1;2;3mX\x1b[0m") == [b"\x1b[1;38;2;1;2;3m"]
    assert colour_sequences(b"\x1b[31mX\x1b[48;5;200mY") == [b"\x1b[31m", b"\x1b[48;5;200m"]
    assert colour_sequences(b"\x1b[1mX\x1b[7mY\x1b[0m") == []
