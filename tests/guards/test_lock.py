"""One lock per cluster state (item 6): a second run that would change the same cluster, mirror or media refuses
naming who holds the lock (pid, host, command, since) with exit 3, or waits for it with --wait; a lock left by a
killed run is taken over with a note."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.context import Context
from engine.errors import Cancelled
from engine.events import Emitter
from engine.lock import Busy, cluster_lock_path, hold, media_lock_path, read_holder
from engine.plan import Plan
from tests.guards.helpers import ROOT, assert_clear_error, cli, plan_copy
from tests.guards.test_interrupt import _start, _wait_for_line

HOLDER = """
import sys
from engine.lock import hold
with hold(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """Another process holding a lock file until told to let go."""

    def __init__(self, path: Path, command: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def test_second_holder_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "clusters" / "c" / "operation.lock"
    first = Holder(path, "upgrade start")
    try:
        with pytest.raises(Busy) as info, hold(path, "upgrade start"):
            pass
        message = info.value.message
        assert f"pid {first.proc.pid} on {socket.gethostname()} (upgrade start, since " in message
        assert "changing the same cluster" in message and "--wait" in info.value.fix
        assert info.value.exit_code == 3
    finally:
        first.release()
    with hold(path, "upgrade start"):  # free again
        holder = read_holder(path)
        assert holder is not None and holder.pid == os.getpid() and holder.command == "upgrade start"
    assert read_holder(path) is None, "a released lock names no holder"


def test_wait_for_the_holder_and_cancel_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "mirrors" / "m" / "operation.lock"
    first = Holder(path, "mirror")
    seen: list[Any] = []
    threading.Timer(1.0, first.release).start()
    with hold(path, "mirror", wait=True, emit=Emitter("mirror", seen.append)):
        assert read_holder(path) is not None and read_holder(path).pid == os.getpid()  # type: ignore[union-attr]
    assert any("Waiting for pid" in getattr(e, "text", "") for e in seen), seen
    second = Holder(path, "mirror")
    try:
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        with pytest.raises(Cancelled), hold(path, "mirror", wait=True, cancel=cancel):
            pass
    finally:
        second.release()


def test_lock_left_by_a_killed_run_is_taken_over_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "media" / "ocp-airgap" / "operation.lock"
    first = Holder(path, "mirror --to-dir")
    pid = first.proc.pid
    first.kill()  # the kernel drops its flock; its record stays in the file
    assert read_holder(path) is not None and read_holder(path).pid == pid  # type: ignore[union-attr]
    seen: list[Any] = []
    with hold(path, "mirror --to-dir", emit=Emitter("mirror", seen.append)):
        pass
    notes = [getattr(e, "text", "") for e in seen]
    assert any(f"Took over the lock left by pid {pid}" in n and "no longer running" in n for n in notes), (
        notes
    )


def test_cluster_operations_take_the_cluster_lock(sandbox: Any, tmp_path: Path) -> None:
    """An engine operation that changes the cluster (here resuming MachineHealthChecks) refuses while another
    process holds the cluster's lock, and runs once it is released (the same for the wizard and the CLI)."""
    from engine.mhc import MhcPlan, resume

    plan = Plan.load(plan_copy(sandbox, tmp_path))
    ctx = Context(plan, Emitter("mhc"))
    path = cluster_lock_path(ctx)
    assert path.parent == ctx.journal.path.parent
    first = Holder(path, "mhc pause")
    try:
        with pytest.raises(Busy, match=rf"pid {first.proc.pid} .*\(mhc pause, since"):
            resume(ctx, MhcPlan("resume"))
    finally:
        first.release()
    assert resume(ctx, MhcPlan("resume"))["resumed"] == []


def test_a_second_mirror_run_to_the_same_media(sandbox: Any, tmp_path: Path) -> None:
    """While another process holds the media's lock, 'mirror --to-dir' is refused naming it (exit 3) and writes no
    image; with --wait it waits, and runs once the holder lets go."""
    media = tmp_path / "media"
    plan = plan_copy(sandbox, tmp_path)
    state = tmp_path / "state"
    first = Holder(media_lock_path(media), "mirror --to-dir")
    try:
        second = cli("mirror", "--plan", str(plan), "--to-dir", str(media), state=state, timeout=300)
        assert_clear_error(
            second, 3, f"pid {first.proc.pid} on {socket.gethostname()} (mirror --to-dir, since", "--wait"
        )
        assert not (media / "v2").exists(), "nothing was copied"
        waiting = _start(["mirror", "--plan", str(plan), "--to-dir", str(media), "--wait"], state)
        assert waiting.stdout is not None
        _wait_for_line(waiting.stdout, f"Waiting for pid {first.proc.pid}", timeout=300)
    finally:
        first.release()
    assert waiting.wait(timeout=600) == 0
    assert (media / "v2").is_dir() and read_holder(media_lock_path(media)) is None
