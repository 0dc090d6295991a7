"""One lock per cluster state: two operations that change the same cluster, mirror or media never run at once.

The lock is an ``flock``-ed file holding who has it — pid, host, command, since — so the second run can say who
it waits for, or refuse (:class:`Busy`, exit 3) naming them. Where it lives:

* an operation that changes the cluster: beside the cluster's journal (``<state>/clusters/<key>/operation.lock``);
* a mirror run into a registry: ``<state>/mirrors/<key of the target repository>/operation.lock``;
* a mirror run to removable media: on the media, ``<media>/ocp-airgap/operation.lock`` (whoever writes the media).

``flock`` is released by the kernel when its holder dies, so a killed run never blocks the next one; the holder
record it leaves behind (a pid that is no longer running on this host) is reported as taken over. The lock is
re-entrant within one process (the headless command and the engine operation it calls may both take it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from engine.errors import Cancelled, PreconditionFailed

if TYPE_CHECKING:
    from engine.context import Context
    from engine.events import Emitter

LOCK_NAME = "operation.lock"
POLL = 0.25
"""Seconds between two tries while waiting (``--wait``)."""

P = ParamSpec("P")
R = TypeVar("R")


class Busy(PreconditionFailed):
    """Another run holds the lock of this cluster, mirror or media."""

    title = "Busy"


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.command}, since {self.since})"

    @property
    def alive(self) -> bool:
        """False only when it surely is not: same host and no such process."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_holder(path: Path) -> Holder | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(int(doc["pid"]), str(doc["host"]), str(doc["command"]), str(doc["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


_held: dict[str, int] = {}
_held_lock = threading.Lock()


def _busy(path: Path, holder: Holder | None, command: str) -> Busy:
    who = holder.describe() if holder else "another process"
    return Busy(
        f"{command} cannot run now: {who} is changing the same {_what(path)} (lock {path})",
        fix="Wait for it to finish (or run again with --wait to wait for it); never run two at once.",
    )


def _what(path: Path) -> str:
    parent = path.parent
    if parent.parent.name == "clusters":
        return "cluster"
    if parent.parent.name == "mirrors":
        return "mirror repository"
    return "media"


@contextlib.contextmanager
def hold(
    path: str | os.PathLike[str],
    command: str,
    *,
    wait: bool = False,
    emit: Emitter | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """Hold the lock file ``path`` for ``command``: refuse with :class:`Busy` when another run holds it, or wait
    for it with ``wait`` (cancellable)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    key = str(p.resolve())
    with _held_lock:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            holder = read_holder(p)
            if not wait:
                raise _busy(p, holder, command)
            if not announced and emit is not None:
                emit.info(f"Waiting for {holder.describe() if holder else 'another process'} to finish …")
                announced = True
            if cancel is not None:
                if cancel.wait(POLL):
                    raise Cancelled("Stopped waiting for the lock; nothing was changed.")
            else:
                threading.Event().wait(POLL)
        previous = read_holder(p)
        if previous is not None and previous.pid != os.getpid() and emit is not None:
            state = "no longer running" if not previous.alive else "gone"
            emit.info(
                f"Took over the lock left by {previous.describe()} — that process is {state} (it was stopped "
                "before it could finish; the journal says how far it got)."
            )
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        with _held_lock:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_lock:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # released: no holder left behind
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def cluster_lock_path(ctx: Context) -> Path:
    return ctx.journal.path.with_name(LOCK_NAME)


def cluster_lock(ctx: Context, command: str) -> contextlib.AbstractContextManager[None]:
    """The lock of the cluster ``ctx`` works on (beside its journal)."""
    return hold(cluster_lock_path(ctx), command, wait=ctx.wait_for_lock, emit=ctx.emit, cancel=ctx.cancel)


def mirror_lock_path(target_name: str) -> Path:
    from engine.journal import cluster_key, state_root

    return state_root() / "mirrors" / cluster_key(target_name) / LOCK_NAME


def media_lock_path(media: str | os.PathLike[str]) -> Path:
    from engine.mirror.media import STATE_DIR

    return Path(media) / STATE_DIR / LOCK_NAME


def locked(
    command: str,
) -> Callable[[Callable[Concatenate[Context, P], R]], Callable[Concatenate[Context, P], R]]:
    """Decorate an engine operation ``op(ctx, ...)`` that changes the cluster: it runs holding the cluster lock."""

    def deco(fn: Callable[Concatenate[Context, P], R]) -> Callable[Concatenate[Context, P], R]:
        def wrapper(ctx: Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with cluster_lock(ctx, command):
                return fn(ctx, *args, **kwargs)

        functools.update_wrapper(wrapper, fn)
        return wrapper

    return deco


def holder_of(path: Path) -> dict[str, Any] | None:
    h = read_holder(path)
    return None if h is None else {"pid": h.pid, "host": h.host, "command": h.command, "since": h.since}


__all__ = [
    "LOCK_NAME",
    "Busy",
    "Holder",
    "cluster_lock",
    "cluster_lock_path",
    "hold",
    "holder_of",
    "locked",
    "media_lock_path",
    "mirror_lock_path",
    "read_holder",
]
