"""End to end: the installed ``ocp-airgap demo`` in a real terminal (tmux on a private socket, 80x24), driven
only with keys from the first screen to a completed update with the MachineHealthChecks resumed; afterwards the
sandbox cluster's state is checked through its API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cluster import MHC, Cluster, current_version
from engine.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
PAUSED = "cluster.x-k8s.io/paused"
CONFIRM = "y apply   n / Esc cancel"
ERROR = "l full log   Enter/Esc close"


def _exe() -> str:
    local = Path(sys.executable).parent / "ocp-airgap"
    return str(local) if local.exists() else shutil.which("ocp-airgap") or ""


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
    pytest.mark.skipif(not _exe(), reason="needs the installed ocp-airgap command (pip install -e .)"),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("docker-registry", "skopeo")),
        reason="needs docker-registry and skopeo",
    ),
]


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=False
        )
        return out.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "demo")

    def frame(self, title: str, selected: str, detail: str) -> str:
        """The screen of one step at 80x24 shows, all at once: the step selected in the step list, the step's
        title, its summary (the detail), and the next action; no line is wider than the terminal."""
        screen = self.wait_for(title, what=title)
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines), screen
        assert any(line.startswith(f"▶ {selected}") for line in lines), f"{selected} not selected:\n{screen}"
        column = " ".join(line.partition("▕")[2].strip() for line in lines)
        assert detail in " ".join(column.split()), f"{detail!r} not shown whole:\n{screen}"
        assert self.next_line(), f"no next action:\n{screen}"
        return screen

    def next_line(self) -> str:
        for line in self.screen().splitlines():
            if "Next:" in line:
                return line
        return ""

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "demo", key)
            time.sleep(0.05)  # a typist's pace; each key is its own terminal read

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "demo", "-l", text)

    def wait_for(self, predicate: str | object, limit: float = 60.0, what: str = "") -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            screen = self.screen()
            if ERROR in screen:
                raise AssertionError(f"error modal while waiting for {what or predicate}:\n{screen}")
            if isinstance(predicate, str) and predicate in screen:
                return screen
            if callable(predicate) and predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or predicate}:\n{self.screen()}")

    def run_step(self, key: str, done: str | tuple[str, ...], limit: float = 120.0) -> str:
        """Press ``key``, answer 'y' to each confirmation, until the Next line says ``done``."""
        marks = (done,) if isinstance(done, str) else done
        if key:
            self.keys(key)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            screen = self.screen()
            if ERROR in screen:
                raise AssertionError(f"error modal after '{key}':\n{screen}")
            if CONFIRM in screen:
                self.keys("y")
                time.sleep(0.3)
                continue
            nxt = self.next_line()
            if any(m in nxt for m in marks) and "..." not in nxt:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"'{key}' did not reach '{done}':\n{self.screen()}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    socket = f"ocp-airgap-e2e-{os.getpid()}"
    term = Terminal(socket)
    lab = tmp_path / "lab"
    env = f"OCP_AIRGAP_STATE_DIR={tmp_path / 'state'} TERM=xterm-256color"
    command = f"cd {tmp_path} && env {env} {_exe()} demo --dir {lab} --keep --speed 600"
    term.tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)
    try:
        yield term, lab
    finally:
        term.tmux("kill-server")
        from sandbox.lab import down, status

        if lab.exists():
            down(lab)
            assert not [n for n, s in status(lab).items() if s["alive"]]


def test_demo_first_screen_to_completed_update(demo: tuple[Terminal, Path]) -> None:
    term, lab = demo
    term.wait_for("Next: press r to continue", limit=120, what="the first screen")
    screen = term.screen()
    assert len(screen.splitlines()[0]) <= 80
    term.keys("r")
    term.frame(
        "Step 1 of 10: Preflight", "Preflight", "against the documented prerequisites. Nothing is changed."
    )
    term.wait_for("when was it taken", what="the etcd backup field")
    term.wait_for("r Run checks", what="the screen's keys (the screen is mounted)")
    for _attempt in range(3):  # under load the first Tab can land before the screen takes focus: check, retry
        term.keys("Tab", "C-u")  # focus the field and clear what an earlier attempt may have left
        term.type("2025-03-14 08:00")
        try:
            term.wait_for("etcd backup   2025-03-14 08:00", limit=5, what="the typed backup time")
            break
        except AssertionError:
            term.keys("Escape")
            time.sleep(0.5)  # past the terminal's escape delay, so the next Tab is not read as Alt+Tab
    else:
        raise AssertionError(f"could not type into the etcd backup field:\n{term.screen()}")
    term.keys("Escape")
    term.wait_for(lambda s: "press r to run the checks" in s or "r Run checks" in s, what="field left")
    term.run_step("r", ("press n", "x fixes"), limit=90)
    screen = term.screen()
    if "x fixes" in term.next_line():
        # the selected row (the failure) and its detail are both on screen, the table above the detail pane
        assert "FAIL  PodDisruptionBudgets" in screen and "FAIL PodDisruptionBudgets:" in screen, screen
        assert screen.index("FAIL  PodDisruptionBudgets") < screen.index("FAIL PodDisruptionBudgets:"), screen
        assert "x: ocp-airgap makes this fix for you" in screen, screen
    # preflight names what would block the update (the PodDisruptionBudget that allows no disruption would stop
    # the drain forever): apply each offered fix (its change is shown first); the checks run again each time
    for _ in range(4):
        term.keys("x")
        screen = term.wait_for(lambda s: CONFIRM in s or "No fix is needed" in s, what="a fix preview")
        if CONFIRM not in screen:
            break
        term.keys("y")
        term.wait_for(lambda s: "Running the preflight" in s, what="preflight again")
        term.run_step("", ("press n", "x fixes"), limit=90)
    assert "press n for the next step" in term.next_line(), term.screen()
    from screens.steps import BY_ID

    steps = [
        ("credentials", "r", "press n for the next step"),
        ("release", "r", "press n for the next step"),
        ("mirror", "r", "press n for the next step"),
        ("mirror-config", "r", "press n for the next step"),
        ("signature", "r", "press n for the next step"),
        ("catalog", "s", "press n for the next step"),
        ("mhc-pause", "r", "press n for the next step"),
        ("upgrade", "r", "the update is complete"),
        ("mhc-resume", "r", "all done"),
    ]
    for number, (step, key, done) in enumerate(steps, start=2):
        info = BY_ID[step]
        term.keys("n")
        term.frame(f"Step {number} of 10: {info.title}", info.title, " ".join(info.about.split()))
        term.run_step(key, done, limit=180)
    term.keys("w")
    term.wait_for("runbook.sh", what="the runbook notice")
    term.keys("C-q")
    term.wait_for(lambda s: not term.tmux("list-sessions"), limit=30, what="the demo to exit")

    plan = Plan.load(lab / "plan.yaml")
    cluster = Cluster.connect(str(lab / "kubeconfig"), "admin")
    cv = cluster.cluster_version()
    assert current_version(cv) == plan.release.version
    assert cv["status"]["history"][0]["state"] == "Completed"
    paused = {
        m["metadata"]["name"]: PAUSED in (m["metadata"].get("annotations") or {})
        for m in cluster.list(MHC, "openshift-machine-api")
    }
    assert paused == {"master-mhc": True, "worker-mhc": False}
    assert (lab / "runbook.sh").exists() and (lab / "change-record.md").exists()
