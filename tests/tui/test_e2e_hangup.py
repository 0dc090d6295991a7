"""A closed terminal (tmux session killed: the processes in it get SIGHUP, as with a dropped SSH session):

- the demo stops its lab — nothing is left running that the user did not ask for;
- a wizard watching an update exits, notes it in the journal, and the update goes on in the cluster; the plan
  reopened in a new terminal shows the true state (found through the plan's state folder) and offers to resume
  only the MachineHealthChecks the tool paused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from engine.journal import Journal
from tests.helpers import wait_until
from tests.procedures.test_upgrade import LAB_VERSIONS, admin, lab_plan, relax_drain_blocker, run_cli
from tests.tui.test_e2e_tmux import Terminal, _exe, pytestmark  # noqa: F401  (the same requirements)


def _pids_running(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def test_closing_the_terminal_stops_the_demo_and_its_lab(tmp_path: Path) -> None:
    from sandbox.lab import down, status

    term = Terminal(f"ocp-airgap-hup-{os.getpid()}")
    lab = tmp_path / "lab"
    command = f"cd {tmp_path} && env TERM=xterm-256color {_exe()} demo --dir {lab} --speed 600"
    term.tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)
    try:
        term.wait_for("Next: press r to continue", limit=120, what="the first screen")
        assert [n for n, s in status(lab).items() if s["alive"]], "the lab runs while the wizard is open"
        demo = _pids_running(f"demo --dir {lab}")
        term.tmux("kill-server")  # the terminal is gone: SIGHUP
        # a real hang-up is rarely one signal: the kernel sends SIGHUP again when the session leader (the shell)
        # exits, and an SSH server may send more. Each one after the first must not cut the lab's teardown short.
        for _ in range(40):
            for pid in demo:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
            if not [n for n, s in status(lab).items() if s["alive"]]:
                break
            threading.Event().wait(0.05)
        wait_until(
            lambda: not [n for n, s in status(lab).items() if s["alive"]],
            30,
            interval=0.1,
            what="the lab's processes to stop",
        )
        wait_until(lambda: not _pids_running(f"demo --dir {lab}"), 30, interval=0.1, what="the demo to exit")
    finally:
        term.tmux("kill-server")
        down(lab)


def test_second_demo_on_a_running_lab_is_refused_and_leaves_it_running(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    from sandbox.lab import status

    info = sandbox_factory(versions=LAB_VERSIONS, components=4, size_mb=1)
    res = subprocess.run(
        [_exe(), "demo", "--dir", info.directory], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode != 0 and "already running" in (res.stdout + res.stderr)
    assert all(s["alive"] for s in status(info.directory).values()), "the running lab was stopped"


def test_hangup_mid_update_then_reopen_shows_the_true_state(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2, plan_state_dir="state", speed=120)
    state = tmp_path / "xdg"
    plan = Path(info.plan)
    lab_plan(info, Path(info.directory), name="plan")  # the lab's plan, with the release digest filled in
    P = ("--plan", str(plan))
    relax_drain_blocker(admin(info))
    for args in (("mirror", *P), ("signature", "apply", *P, "--yes"), ("mhc", "pause", *P, "--yes")):
        res = run_cli(*args, state=state, timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
    res = run_cli("upgrade", "start", *P, "--yes", state=state)
    assert res.returncode == 0, res.stdout + res.stderr
    journal_file = Path(info.directory) / "state" / "direct" / "journal.json"
    assert journal_file.is_file(), "the journal follows the plan's state folder"

    term = Terminal(f"ocp-airgap-reopen-{os.getpid()}")
    env = f"OCP_AIRGAP_STATE_DIR={state} TERM=xterm-256color"
    command = f"cd {tmp_path} && env {env} {_exe()} --plan {plan}"
    try:
        term.tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)
        # reopened mid-update, the first screen says where things stand; r goes on with the update's monitor
        term.wait_for("in progress", limit=60, what="the update in progress on the first screen")
        term.wait_for("MHCs paused by this tool: worker-mhc", limit=10, what="the MHC the tool paused")
        term.keys("r")
        term.wait_for("Watching the update to", limit=60, what="the wizard reattached to the running update")
        assert _pids_running(f"--plan {plan}"), "the wizard runs"
        term.tmux("kill-server")  # SIGHUP mid-update
        wait_until(lambda: not _pids_running(f"--plan {plan}"), 30, interval=0.1, what="the wizard to exit")
        notes = [r for r in Journal(journal_file).records if r.step == "wizard"]
        assert notes and "hung up" in notes[-1].data.get("text", ""), "the hang-up is journaled"
        # the update goes on without the wizard; reopening the plan finds the record and the true state
        res = run_cli("upgrade", "watch", *P, "--interval", "0.2", "--timeout", "300", state=state)
        assert res.returncode == 0, res.stdout + res.stderr
        term.tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", command)
        screen = term.wait_for(
            "MHCs paused by this tool: worker-mhc", limit=60, what="the MHC the tool paused"
        )
        assert "master-mhc" not in screen.split("paused by this tool")[-1].splitlines()[0]
        assert "Resume & summary" in screen
    finally:
        term.tmux("kill-server")
    res = run_cli("status", *P, "--offline", state=state)
    assert "Resume & summary" in res.stdout or "MachineHealthChecks paused by ocp-airgap" in res.stdout
    assert "worker-mhc" in res.stdout and "master-mhc" not in res.stdout.split("paused by ocp-airgap")[-1]
