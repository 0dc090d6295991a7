"""Run external programs (oc, oc-mirror, skopeo) with live line-by-line output and cancellation.

Output lines are redacted before anyone sees them. The child runs in its own process group so a cancel
(or the caller's death) takes the whole tree down; after exit, remaining output is drained so the last
lines are never lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.errors import Cancelled, ToolMissing
from engine.redact import redact

LineSink = Callable[[str, str], None]
"""Called with (stream, line) for each line, stream being 'stdout' or 'stderr'."""


@dataclass
class ProcResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, n: int = 5) -> str:
        lines = (self.stderr or self.stdout)[-n:]
        return "\n".join(lines)


def run_streaming(
    argv: Sequence[str],
    *,
    on_line: LineSink | None = None,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin_data: bytes | None = None,
    timeout: float | None = None,
    keep_output: bool = True,
    grace_seconds: float = 5.0,
) -> ProcResult:
    """Run ``argv``; call ``on_line`` for every output line as it arrives.

    Raises :class:`~engine.errors.Cancelled` if ``cancel`` is set while it runs (the process group gets SIGTERM,
    then SIGKILL after ``grace_seconds``), :class:`~engine.errors.ToolMissing` if the program does not exist."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ToolMissing(
            f"{argv[0]} is not installed or not on PATH", fix=f"Install {argv[0]} or give its path."
        ) from None
    result = ProcResult(argv=tuple(argv), returncode=-1)
    lock = threading.Lock()

    def pump(stream_name: str, stream: object) -> None:
        assert hasattr(stream, "readline")
        for raw in iter(stream.readline, b""):
            line = redact(raw.decode("utf-8", "replace").rstrip("\r\n"))
            with lock:
                if keep_output:
                    getattr(result, stream_name).append(line)
                if on_line is not None:
                    on_line(stream_name, line)

    threads = [
        threading.Thread(target=pump, args=("stdout", proc.stdout), daemon=True),
        threading.Thread(target=pump, args=("stderr", proc.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    if stdin_data is not None and proc.stdin is not None:
        try:
            proc.stdin.write(stdin_data)
            proc.stdin.close()
        except BrokenPipeError:
            pass

    cancelled = False
    waited = 0.0
    while True:
        try:
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            waited += 0.1
            if (cancel is not None and cancel.is_set()) or (timeout is not None and waited >= timeout):
                cancelled = True
                _terminate_group(proc, grace_seconds)
                break
    for t in threads:
        t.join(timeout=grace_seconds)
    result.returncode = proc.returncode if proc.returncode is not None else -1
    if cancelled:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{os.path.basename(argv[0])} was stopped on request.")
        raise Cancelled(f"{os.path.basename(argv[0])} did not finish within {timeout:.0f} s and was stopped.")
    return result


def _terminate_group(proc: subprocess.Popen[bytes], grace_seconds: float) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
