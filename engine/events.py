"""Events that engine operations stream to whoever runs them (a Textual screen, the headless CLI, a test).

Every event carries a monotonic sequence number, the UTC time and the step that emitted it. Texts pass
through :mod:`engine.redact` before an event is built, so no event can carry a credential.

Event kinds (closed set):

- :class:`LogLine` — a line of log text with a level.
- :class:`Progress` — done/total in a unit (``images``, ``bytes``, ``operators``, ``%``), optional rate and ETA.
- :class:`Command` — the equivalent ``oc`` (or shell) command of what the engine is about to do.
- :class:`CheckResult` — a named check with pass/warn/fail, what was seen, why it matters and the fix.
- :class:`StepResult` — the end of a step: status, one-line summary and structured data.
"""

from __future__ import annotations

import itertools
import shlex
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engine.redact import redact, redact_obj


class Level(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


@dataclass(frozen=True, kw_only=True)
class Event:
    seq: int
    ts: datetime
    step: str

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ts"] = self.ts.isoformat().replace("+00:00", "Z")
        data["kind"] = self.kind
        for key, value in list(data.items()):
            if isinstance(value, StrEnum):
                data[key] = value.value
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    level: Level
    text: str


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    done: float
    total: float | None
    unit: str
    label: str = ""
    rate: float | None = None
    """units per second, when known (for transfers: the current rate, over the last few seconds)"""
    eta_seconds: float | None = None
    retries: int | None = None
    """transfers resumed or retried so far (cut connections, stalls, 429/5xx), when the work counts them"""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


@dataclass(frozen=True, kw_only=True)
class Command(Event):
    argv: tuple[str, ...]
    note: str = ""

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class CheckResult(Event):
    name: str
    status: CheckStatus
    detail: str
    fix: str = ""
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class StepResult(Event):
    status: StepStatus
    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)


Sink = Callable[[Event], None]

_SEQ = itertools.count(1)
_SEQ_LOCK = threading.Lock()


def _next_seq() -> int:
    with _SEQ_LOCK:
        return next(_SEQ)


def _now() -> datetime:
    return datetime.now(UTC)


class Emitter:
    """Builds events for one step and hands them to the sinks. Thread-safe."""

    def __init__(self, step: str, *sinks: Sink) -> None:
        self.step = step
        self._sinks: list[Sink] = list(sinks)

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def child(self, step: str) -> Emitter:
        """An emitter for a sub-step that feeds the same sinks."""
        return Emitter(step, *self._sinks)

    def emit(self, event: Event) -> Event:
        for sink in self._sinks:
            sink(event)
        return event

    def _base(self) -> dict[str, Any]:
        return {"seq": _next_seq(), "ts": _now(), "step": self.step}

    def log(self, text: str, level: Level = Level.INFO) -> None:
        self.emit(LogLine(**self._base(), level=level, text=redact(text)))

    def debug(self, text: str) -> None:
        self.log(text, Level.DEBUG)

    def info(self, text: str) -> None:
        self.log(text, Level.INFO)

    def warning(self, text: str) -> None:
        self.log(text, Level.WARNING)

    def error(self, text: str) -> None:
        self.log(text, Level.ERROR)

    def progress(
        self,
        done: float,
        total: float | None,
        unit: str,
        label: str = "",
        *,
        rate: float | None = None,
        eta_seconds: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.emit(
            Progress(
                **self._base(),
                done=done,
                total=total,
                unit=unit,
                label=redact(label),
                rate=rate,
                eta_seconds=eta_seconds,
                retries=retries,
            )
        )

    def command(self, argv: Iterable[str], note: str = "") -> None:
        self.emit(Command(**self._base(), argv=tuple(redact(a) for a in argv), note=redact(note)))

    def check(self, name: str, status: CheckStatus, detail: str, fix: str = "", why: str = "") -> CheckResult:
        event = CheckResult(
            **self._base(), name=name, status=status, detail=redact(detail), fix=redact(fix), why=redact(why)
        )
        self.emit(event)
        return event

    def result(self, status: StepStatus, summary: str, data: Mapping[str, Any] | None = None) -> StepResult:
        event = StepResult(
            **self._base(), status=status, summary=redact(summary), data=redact_obj(dict(data or {}))
        )
        self.emit(event)
        return event


class Recorder:
    """A sink that keeps every event; handy for tests and for summaries."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def texts(self) -> list[str]:
        return [e.text for e in self.of(LogLine)]
