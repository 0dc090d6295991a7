"""Shared conventions of the headless commands.

- ``--plan P`` loads a :class:`~engine.plan.Plan`; ``--json`` prints the engine's events as JSON lines, otherwise
  readable lines with the equivalent ``oc`` commands (``$ oc ...``).
- Commands that change the cluster or the host show the change and ask on a terminal; ``--yes`` confirms
  non-interactively; with no terminal and no ``--yes`` they refuse (exit 3) and say why; ``--dry-run`` shows
  the change and makes none.
- Every :class:`~engine.errors.AirgapError` becomes one ``error:`` line (the cause) and one ``fix:`` line, and its
  exit code. No traceback reaches the user.
- What the commands themselves say (labels, prompts, outcome words, their own refusals) is in the user's language
  (:mod:`tui.i18n`); the engine's messages stay English, and so does everything ``--json`` prints (:func:`human`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from engine.errors import EXIT_CANCELLED, EXIT_OK, AirgapError, Cancelled, ConfirmationRequired
from engine.events import (
    CheckResult,
    CheckStatus,
    Command,
    Emitter,
    Event,
    Level,
    LogLine,
    Progress,
    StepResult,
)
from engine.plan import Plan
from engine.redact import redact
from engine.util import format_bytes, format_duration
from tui.i18n import N_, _, ngettext

CommandFunc = Callable[[argparse.Namespace], int]


def positive_float(text: str) -> float:
    """An argparse type: a duration or ratio that must be a finite number > 0 (exit 2 otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text} is not a number (give e.g. 30 or 2.5)").format(text=repr(text))
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            _("{text} must be a number greater than 0 (e.g. 30)").format(text=text)
        )
    return value


def positive_int(text: str) -> int:
    """An argparse type: a count that must be a whole number >= 1 (exit 2 otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text} is not a whole number (give e.g. 6)").format(text=repr(text))
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            _("{text} must be a whole number of at least 1 (e.g. 6)").format(text=text)
        )
    return value


def add_plan_arg(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--plan", required=required, metavar="P", help=_("the plan file (YAML), e.g. the sandbox's plan.yaml")
    )


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print the engine's events as JSON lines"))


def add_change_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help=_("confirm the change without asking"))
    parser.add_argument("--dry-run", action="store_true", help=_("show what would change, change nothing"))
    add_wait_arg(parser)


def add_wait_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help=_(
            "when another run is changing the same cluster (or mirror, or media), wait for it instead of "
            "refusing (exit 3)"
        ),
    )


def human(args: argparse.Namespace) -> Callable[[str], str]:
    """The translation for what the command itself says: the user's language, except with ``--json``, where
    every text that can reach the machine output (events, the error document) stays English."""
    return (lambda message: message) if getattr(args, "json", False) else _


STATUS_WORDS = {
    "succeeded": N_("succeeded"),
    "running": N_("running"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "cancelled": N_("cancelled"),
    "pending": N_("pending"),
}
"""A step's outcome as a person reads it; the JSON keeps the English value."""


def load_plan(args: argparse.Namespace) -> Plan:
    return Plan.load(args.plan)


class EventPrinter:
    """A sink that prints events for a terminal or a script."""

    def __init__(self, *, as_json: bool = False, out: TextIO | None = None, verbose: bool = False) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.verbose = verbose
        self.tty = self.out.isatty()
        self._last_progress = 0.0
        self._progress_shown = False
        self._lock = threading.Lock()
        self.closed = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                if self.as_json:
                    self.out.write(json.dumps(event.to_dict(), default=str) + "\n")
                    self.out.flush()
                    return
                self._readable(event)
            except BrokenPipeError:
                # the reader went away (e.g. '... --json | head'): the operation goes on, its output is dropped
                self.closed = True
                silence_stdout()

    def _line(self, text: str) -> None:
        if self._progress_shown and self.tty:
            self.out.write("\r\x1b[K")
            self._progress_shown = False
        self.out.write(text + "\n")
        self.out.flush()

    def _readable(self, event: Event) -> None:
        if isinstance(event, LogLine):
            if event.level == Level.DEBUG and not self.verbose:
                return
            prefix = {Level.WARNING: _("warning: "), Level.ERROR: _("error: ")}.get(event.level, "")
            self._line(prefix + event.text)
        elif isinstance(event, Command):
            self._line(f"$ {event.shell}" + (f"    # {event.note}" if event.note else ""))
        elif isinstance(event, CheckResult):
            mark = {CheckStatus.PASS: "PASS", CheckStatus.WARN: "WARN", CheckStatus.FAIL: "FAIL"}[
                event.status
            ]
            self._line(f"[{mark}] {event.name}: {event.detail}")
            if event.status != CheckStatus.PASS:
                if event.why:
                    self._line("       " + _("why: ") + event.why)
                if event.fix:
                    self._line("       " + _("fix: ") + event.fix)
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, StepResult):
            word = STATUS_WORDS.get(event.status.value)
            self._line(f"{_(word) if word else event.status.value}: {event.summary}")

    def _progress(self, event: Progress) -> None:
        now = time.monotonic()
        final = event.total is not None and event.done >= event.total
        if not final and now - self._last_progress < (0.2 if self.tty else 5.0):
            return
        self._last_progress = now
        text = format_progress(event)
        if self.tty and not final:
            self.out.write("\r\x1b[K" + text)
            self.out.flush()
            self._progress_shown = True
        else:
            self._line(text)


def silence_stdout() -> None:
    """Standard output is a closed pipe: point it at /dev/null so that nothing (not even the interpreter's final
    flush) writes to it again, and no BrokenPipeError traceback is printed."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def format_progress(event: Progress) -> str:
    def amount(v: float) -> str:
        return format_bytes(v) if event.unit == "bytes" else f"{v:g}"

    text = f"{event.label + ': ' if event.label else ''}{amount(event.done)}"
    if event.total:
        total = f"{amount(event.total)} {'' if event.unit == 'bytes' else event.unit}".rstrip()
        text += " " + _("of {total}").format(total=total)
        frac = event.fraction
        if frac is not None:
            text += f" ({frac * 100:.0f}%)"
    elif event.unit != "bytes":
        text += f" {event.unit}"
    if event.rate:
        text += f", {format_bytes(event.rate)}/s" if event.unit == "bytes" else f", {event.rate:.1f}/s"
    if event.eta_seconds is not None:
        text += ", " + _("ETA {time}").format(time=format_duration(event.eta_seconds))
    if event.retries:
        text += ", " + ngettext("{n} retry", "{n} retries", event.retries).format(n=event.retries)
    return text


def emitter(args: argparse.Namespace, step: str) -> Emitter:
    return Emitter(
        step, EventPrinter(as_json=getattr(args, "json", False), verbose=getattr(args, "verbose", False))
    )


def confirm(args: argparse.Namespace, question: str, preview: str = "", **fields: Any) -> bool:
    """Show ``preview`` and get a yes. Returns False for --dry-run (nothing must change).

    ``question`` is an English message (marked with ``N_``), translated here and then filled with ``fields``. The
    prompt (on a terminal) is always in the user's language; the refusal stays English with ``--json``, as it is
    also in the JSON error document.

    Raises :class:`ConfirmationRequired` with no terminal and no --yes, :class:`Cancelled` on a 'no'."""
    tr = human(args)
    asked = _(question).format(**fields) if fields else _(question)
    question = tr(question).format(**fields) if fields else tr(question)
    out = sys.stdout if not getattr(args, "json", False) else sys.stderr
    if preview:
        out.write(redact(preview).rstrip("\n") + "\n")
        out.flush()
    if getattr(args, "dry_run", False):
        out.write(_("dry run: nothing was changed.") + "\n")
        return False
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        raise ConfirmationRequired(
            tr("{question} — this needs confirmation and there is no terminal to ask on").format(
                question=question
            ),
            fix=tr("Review the change above (or run with --dry-run) and run again with --yes."),
        )
    out.write(_("{question} [y/N] ").format(question=asked))
    out.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in YES_ANSWERS:
        raise Cancelled(tr("Nothing was changed: the change was not confirmed."))
    return True


YES_ANSWERS = ("y", "yes", "はい")
"""What confirms at a prompt, whatever the language ('y' and 'yes' always)."""


def handle_errors(func: CommandFunc) -> CommandFunc:
    """Turn engine errors into an ``error:``/``fix:`` pair on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except AirgapError as exc:
            report_error(args, exc)
            return exc.exit_code
        except KeyboardInterrupt:
            sys.stderr.write(_("interrupted") + "\n")
            return EXIT_CANCELLED
        except BrokenPipeError:  # the reader of our output went away: end quietly
            silence_stdout()
            return EXIT_OK

    return wrapper


def report_error(args: argparse.Namespace, exc: AirgapError) -> None:
    if getattr(args, "json", False):
        doc: dict[str, Any] = {"kind": "Error", "title": exc.title, "message": exc.message, "fix": exc.fix}
        doc["exit_code"] = exc.exit_code
        sys.stdout.write(json.dumps(doc) + "\n")
        sys.stdout.flush()
    sys.stderr.write(_("error: ") + exc.message + "\n")
    if exc.fix:
        sys.stderr.write(_("fix: ") + exc.fix + "\n")
    sys.stderr.flush()


def run_wizard(args: argparse.Namespace) -> int:
    """``ocp-airgap`` alone: the wizard on the current kubeconfig (or the given plan)."""
    if getattr(args, "ascii", False):
        os.environ.setdefault("NO_COLOR", "1")
    try:
        from tui.app import run_app
    except ImportError as exc:  # pragma: no cover - only while the wizard is being built
        sys.stderr.write(
            _("error: ") + _("the wizard is not available in this build ({reason})").format(reason=exc) + "\n"
        )
        return 1
    code: int = run_app(
        plan_path=getattr(args, "plan", None),
        ascii_only=getattr(args, "ascii", False),
        lang=getattr(args, "lang", None),
    )
    return code


__all__ = [
    "EXIT_OK",
    "EventPrinter",
    "add_change_args",
    "add_output_args",
    "add_wait_arg",
    "add_plan_arg",
    "confirm",
    "emitter",
    "format_bytes",
    "format_duration",
    "format_progress",
    "handle_errors",
    "human",
    "load_plan",
    "positive_float",
    "positive_int",
    "report_error",
    "run_wizard",
    "silence_stdout",
]
