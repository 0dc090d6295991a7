"""What the wizard knows about one step's engine operation: a thread-safe, bounded model fed by the engine's
event sink from a worker thread and read by the screen on the UI thread.

The screen keeps cursors (how many log lines, commands and checks it has shown) and pulls only what is new,
so a screen that was hidden while work went on catches up when it is shown again, and a log flood costs one
message per batch, not one per line.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from engine.events import CheckResult, Command, Event, Level, LogLine, Progress, StepResult, StepStatus
from tui.messages import EventsPending, ProgressUpdated, StepFinished

MAX_LOG_LINES = 5000
MAX_COMMANDS = 500


@dataclass(frozen=True)
class LogEntry:
    n: int
    """Running number of the line in this step (1-based, never reused)."""
    level: Level
    text: str


class StepRun:
    """The live state of one step: log, commands, checks, progress, result."""

    def __init__(
        self, step: str, post: Callable[[Message], object] | None = None, *, max_log: int = MAX_LOG_LINES
    ):
        self.step = step
        self._post = post
        self._lock = threading.Lock()
        self.log: deque[LogEntry] = deque(maxlen=max_log)
        self.log_total = 0
        self.commands: deque[Command] = deque(maxlen=MAX_COMMANDS)
        self.commands_total = 0
        self.checks: dict[str, CheckResult] = {}
        self.checks_version = 0
        self.progress: dict[str, Progress] = {}
        self.result: StepResult | None = None
        self.running = False
        self.operation = ""
        """Description of the operation running now (for the quit confirmation)."""
        self.changes_cluster = False
        """The running operation changes the cluster (quitting asks first)."""
        self.outcome = ""
        """How the last operation ended: 'succeeded', 'failed', 'cancelled' (empty while one runs)."""
        self.last_operation = ""
        self.cancel = threading.Event()
        self._pending = False

    # ----- writer side (any thread) ---------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        """The engine sink."""
        post_pending = False
        with self._lock:
            if isinstance(event, LogLine):
                self.log_total += 1
                self.log.append(LogEntry(self.log_total, event.level, event.text))
            elif isinstance(event, Command):
                self.commands_total += 1
                self.commands.append(event)
            elif isinstance(event, CheckResult):
                self.checks[event.name] = event
                self.checks_version += 1
            elif isinstance(event, Progress):
                self.progress[event.unit] = event
                if self._post is not None:
                    self._post(ProgressUpdated(self.step, event))
                return
            elif isinstance(event, StepResult):
                self.result = event
                if self._post is not None:
                    self._post(StepFinished(self.step, event))
            if not self._pending:
                self._pending = True
                post_pending = True
        if post_pending and self._post is not None:
            self._post(EventsPending(self.step))

    def add_line(self, text: str, level: Level = Level.INFO) -> None:
        """A line from the wizard itself (not the engine)."""
        with self._lock:
            self.log_total += 1
            self.log.append(LogEntry(self.log_total, level, text))

    # ----- reader side (UI thread) ----------------------------------------------------------------------
    def take_pending(self) -> None:
        """Called by the handler of EventsPending before it reads: the next event posts a new message."""
        with self._lock:
            self._pending = False

    def lines_after(self, n: int) -> list[LogEntry]:
        with self._lock:
            if not self.log or self.log[-1].n <= n:
                return []
            first = self.log[0].n
            start = max(0, n + 1 - first)
            return list(self.log)[start:]

    def commands_after(self, count: int) -> list[Command]:
        with self._lock:
            new = self.commands_total - count
            if new <= 0:
                return []
            items = list(self.commands)
            return items[-min(new, len(items)) :]

    def check_list(self) -> list[CheckResult]:
        with self._lock:
            return list(self.checks.values())

    def progress_list(self) -> list[Progress]:
        with self._lock:
            return list(self.progress.values())

    def start(self, operation: str, *, changes_cluster: bool = False) -> None:
        with self._lock:
            self.running = True
            self.operation = operation
            self.last_operation = operation
            self.outcome = ""
            self.changes_cluster = changes_cluster
            self.cancel = threading.Event()
            self.result = None
            self.progress.clear()

    def finish(self, outcome: str = "succeeded") -> None:
        with self._lock:
            self.running = False
            self.outcome = outcome
            self.changes_cluster = False

    @property
    def status(self) -> StepStatus | None:
        return self.result.status if self.result else None
