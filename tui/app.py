"""The wizard: one screen per step, the step list always visible, engine operations in thread workers.

Dependencies come in through the constructor (the plan, the cluster's journal, a clock, the operator's name, the
output folder), so tests and snapshots build the same App production uses with fixed values. ``run_app`` is the
edge: it loads the plan and the journal, then runs the App.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.markup import escape
from textual import on
from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter, Monochrome
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from engine.errors import EXIT_OK, EXIT_USAGE, AirgapError, Cancelled
from engine.events import Command, Emitter, Level

if TYPE_CHECKING:
    from engine.context import Context
from engine.journal import Journal
from engine.plan import Plan
from engine.redact import redact
from engine.workflow import BY_ID as WF_BY_ID
from engine.workflow import (
    CONNECTED,
    DISCONNECTED,
    StepState,
    find_journal,
    media_record,
    role_of,
    states_by_id,
    steps_for,
)
from screens.steps import BY_ID, STEP_IDS, STEPS, where_from_mode
from tui.i18n import _
from tui.messages import EventsPending, JournalChanged, ProgressUpdated, StepFinished
from tui.widgets.modals import ConfirmModal, ErrorModal, HelpModal, LogModal
from tui.widgets.model import StepRun
from tui.widgets.progress import ProgressPanel

T = TypeVar("T")

EXIT_HANGUP = 128 + signal.SIGHUP
HANGUP_GRACE = 5
"""Seconds the wizard may take to leave after its terminal hung up before it is made to."""


def _leave_after_hangup(signum: int, frame: object) -> None:
    raise SystemExit(EXIT_HANGUP)


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def open_journal(plan: Plan) -> Journal | None:
    """This host's journal for the plan (:func:`engine.workflow.find_journal`), found without contacting the
    cluster; None when it cannot be located (no usable kubeconfig on a host that needs one)."""
    return find_journal(plan)


class WizardApp(App[int]):
    """The ocp-airgap wizard."""

    TITLE = "ocp-airgap"
    CSS_PATH = "wizard.tcss"
    AUTO_FOCUS = None
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("ctrl+q", "safe_quit", "Quit", priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "go_back", "Back", show=False),
        Binding("w", "write_handoff", "Runbook"),
        Binding("ctrl+c", "interrupt_hint", "Quit hint", show=False),
    ]

    def __init__(
        self,
        plan: Plan,
        *,
        journal: Journal | None = None,
        clock: Clock = _utc_now,
        operator: str | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        ascii_only: bool = False,
        no_color: bool | None = None,
        cursor_blink: bool = True,
        start_step: str = "welcome",
        live: bool = True,
        watch_interval: float = 2.0,
        rollout_settle: float = 60.0,
        handle_hangup: bool = False,
    ) -> None:
        plain = ascii_only or (bool(os.environ.get("NO_COLOR")) if no_color is None else no_color)
        # ansi_color=True: Textual's own NO_COLOR filter keeps native (uncoloured) output instead of greys;
        # the wizard's NoColour filter (get_line_filters) then removes every colour
        super().__init__(ansi_color=True if plain else None)
        self.plain = plain
        """No colour at all (NO_COLOR or --ascii): selection shown with reverse video and bold."""
        self.handle_hangup = handle_hangup
        """Exit cleanly (journaled) on SIGHUP: only for the real terminal, not for tests and snapshots."""
        self.plan = plan
        self.journal = journal
        self.clock = clock
        self.operator = operator or default_operator()
        self.output_dir = Path(output_dir) if output_dir else Path.cwd()
        self.ascii_only = ascii_only
        self.cursor_blink = cursor_blink
        self.start_step = start_step
        self.live = live
        """Screens read the cluster when shown (off for snapshots: nothing outside the picture may vary)."""
        self.runs: dict[str, StepRun] = {}
        self.local_status: dict[str, str] = {}
        """Step outcomes of this session when there is no journal (no cluster on this host)."""
        self._callbacks: dict[Worker[Any], tuple[str, Callable[[Any], None] | None]] = {}
        self._cluster: Any = None
        self.accepted_risks = False
        """The admin accepted the known risks of a conditional update path (release step)."""
        self.watch_interval = watch_interval
        self.rollout_settle = rollout_settle
        """Seconds to wait for the MachineConfigPools to start rolling out a mirror set."""
        self.status_notes: list[str] = []
        """Lines about the live cluster (e.g. the update's progress) found at start."""
        if ascii_only:
            self.add_class("-ascii")
        if plain:
            self.add_class("-plain")
        self._plain_filters: list[LineFilter] = []
        from textual.scrollbar import ScrollBar, ScrollBarRender

        from tui.plain import AsciiOnly, AsciiScrollBarRender, NoColour

        # the renderer is a class attribute: set it either way, so one app's choice never leaks into the next
        ScrollBar.renderer = AsciiScrollBarRender if ascii_only else ScrollBarRender
        if plain:
            self._plain_filters.append(NoColour())
            if ascii_only:
                self._plain_filters.append(AsciiOnly())

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then no colour (NO_COLOR, --ascii) and 7-bit characters (--ascii)."""
        filters = list(super().get_line_filters())
        if self.plain:
            filters = [f for f in filters if not isinstance(f, Monochrome)] + self._plain_filters
        return filters

    # ----- steps, states, navigation --------------------------------------------------------------------
    @property
    def where(self) -> str:
        return where_from_mode(self.plan.mirroring.mode)

    @property
    def order(self) -> tuple[str, ...]:
        return ("welcome", *(st.id for st in steps_for(self.role)))

    def step_number(self, step: str) -> int:
        return STEP_IDS.index(step)

    def run_for(self, step: str) -> StepRun:
        if step not in self.runs:
            self.runs[step] = StepRun(step, self.post_message)
        return self.runs[step]

    @property
    def role(self) -> str:
        return role_of(self.plan)

    def workflow_states(self) -> dict[str, StepState]:
        """Every step's state for this host's role, from the journal (:mod:`engine.workflow` decides)."""
        return states_by_id(self.journal, self.role)

    def recorded(self) -> dict[str, str | None]:
        """Every step's recorded status ('running', 'succeeded', 'failed', 'skipped'... or None), read once: from
        the journal through the workflow, or this session's view on a host with no journal."""
        if self.journal is None:
            return {step: self.local_status.get(step) for step in STEP_IDS}
        wf = self.workflow_states()
        return {
            step: (wf[step].status if step in wf and wf[step].status not in ("pending", "n/a") else None)
            for step in STEP_IDS
        }

    def recorded_status(self, step: str) -> str | None:
        return self.recorded().get(step)

    def step_states(self) -> dict[str, str]:
        order = self.order
        recorded = self.recorded()
        states: dict[str, str] = {}
        for step in STEP_IDS:
            status = recorded.get(step)
            run = self.runs.get(step)
            if step not in order:
                states[step] = "n/a"
            elif run is not None and run.running:
                states[step] = "running"
            elif step == "welcome":
                states[step] = "done" if self.plan.source_path else "todo"
            elif status == "succeeded":
                states[step] = "done"
            elif status in ("skipped", "failed", "running"):
                states[step] = status
            elif self.missing_requirements(step, recorded):
                states[step] = "blocked"
            else:
                states[step] = "todo"
        return states

    def missing_requirements(self, step: str, recorded: dict[str, str | None] | None = None) -> list[str]:
        """Earlier steps of this host's role still to do (:attr:`engine.workflow.Step.requires`)."""
        if step not in WF_BY_ID:
            return []
        recorded = recorded if recorded is not None else self.recorded()
        order = self.order
        return [
            req
            for req in WF_BY_ID[step].requires
            if req in order and recorded.get(req) not in ("succeeded", "skipped")
        ]

    def current_position(self) -> str:
        """Where to continue: a step recorded as running (e.g. an update in progress), else the first step of this
        host's order that is not done or skipped."""
        recorded = self.recorded()
        steps = [s for s in self.order if s != "welcome"]
        running = [s for s in steps if recorded.get(s) == "running"]
        if running:
            return running[-1]
        return next((s for s in steps if recorded.get(s) not in ("succeeded", "skipped")), self.order[-1])

    def screen_for(self, step: str) -> Screen[Any]:
        if not self.is_screen_installed(step):
            from screens import screen_class

            self.install_screen(screen_class(step)(), step)
        return self.get_screen(step)

    def goto(self, step: str) -> None:
        screen = self.screen_for(step)
        if self.screen is screen:
            return
        if len(self.screen_stack) > 1:
            self.switch_screen(step)
        else:
            self.push_screen(step)

    def go_next(self, step: str) -> None:
        order = self.order
        if step not in order or order.index(step) + 1 >= len(order):
            self.notify(
                _("This is the last step on this host. Press w to write the runbook and change record.")
            )
            return
        self.goto(order[order.index(step) + 1])

    def go_back(self, step: str) -> None:
        order = self.order
        if step in order and order.index(step) > 0:
            self.goto(order[order.index(step) - 1])

    def refresh_steps(self) -> None:
        from screens.base import StepScreen

        screen = self.screen
        if isinstance(screen, StepScreen) and screen.ready_for_updates():
            screen.refresh_state()

    def mark_step(self, step: str, status: str, summary: str = "") -> None:
        """A step's outcome as this session saw it, for the display: the engine operation journals the outcome
        itself (front ends never write outcomes); without a journal this session's view is all there is."""
        if self.journal is not None:
            self.journal.reload()
        self.local_status[step] = status
        self.post_message(JournalChanged())

    def replace_plan(self, plan: Plan) -> None:
        self.plan = plan
        if plan.source_path:
            self.output_dir = Path(plan.source_path).parent
        self.reopen_journal()

    def reopen_journal(self) -> None:
        """Find the journal again after the plan's kubeconfig changed."""
        journal = open_journal(self.plan)
        if journal is None:
            self.journal = None
        elif self.journal is None or journal.path != self.journal.path:
            self.journal = journal
        self._cluster = None if journal is None or self._cluster is None else self._cluster

    def kubeconfig_skips_tls(self) -> bool:
        """The plan's kubeconfig context sets insecure-skip-tls-verify (read from the file, nothing contacted)."""
        try:
            from engine.cluster import kubeconfig_path, skips_tls_verify

            path = kubeconfig_path(self.plan.resolve_path(self.plan.cluster.kubeconfig))
            return skips_tls_verify(path, self.plan.cluster.context)
        except (AirgapError, OSError, KeyError, TypeError, ValueError):
            return False

    def resume_notes(self) -> list[str]:
        """What the journal says beyond step states, most important first (the first screen may have room for
        only a few lines at 80x24): an insecure kubeconfig, the MHCs this tool paused and has not resumed, then
        the cluster's update and, on the disconnected side, what the connected side recorded on the media."""
        notes: list[str] = []
        if self.role != CONNECTED and self.kubeconfig_skips_tls():
            notes.append(
                _(
                    "WARNING: the kubeconfig skips TLS verification of the API server "
                    "(insecure-skip-tls-verify: true): anyone in between can read the token. Use the cluster's CA."
                )
            )
        if self.journal is not None:
            from engine.mhc import paused_by_tool

            paused = [r.rsplit("/", 1)[-1] for r in paused_by_tool(self.journal)]
            if paused:
                notes.append(_("MHCs paused by this tool: {names}").format(names=", ".join(paused)))
        notes += self.status_notes
        if self.role == DISCONNECTED:
            record = media_record(self.plan)
            if record is not None:
                notes.append(record.describe())
        return notes

    def save_plan(self) -> None:
        if self.plan.source_path:
            self.plan.save(self.plan.source_path)

    # ----- lifecycle ------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.handle_hangup:
            # NotImplementedError: no signal support in this event loop (not POSIX); ValueError/RuntimeError: the
            # app does not run in the main thread. Then SIGHUP keeps its default (the process ends) and the
            # journal simply has no note of the hang-up; nothing else depends on it.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)
        self.goto(self.start_step if self.start_step in STEP_IDS else "welcome")

    def hang_up(self) -> None:
        """The terminal is gone (closed window, dropped SSH session): note it in the journal, stop this session's
        engine work (an update already started goes on in the cluster; reopening the plan reattaches) and exit."""
        running = [step for step, run in self.runs.items() if run.running]
        for run in self.runs.values():
            run.cancel.set()
        if self.journal is not None:
            with contextlib.suppress(AirgapError, OSError):
                self.journal.note(
                    "wizard",
                    "the wizard's terminal hung up; the wizard stopped"
                    + (f" (work stopped: {', '.join(running)})" if running else ""),
                    operator=self.operator,
                )
        # Leaving must not depend on the terminal that is gone: Textual's shutdown hands its last writes to its
        # output thread, and after a hang-up that hand-off can block for good (seen: the main thread waiting in
        # the writer's queue). If the wizard has not left within a few seconds, the alarm ends it from the main
        # thread (a Python signal handler interrupts a blocked lock wait), so callers' cleanup (the demo stops
        # its lab) still runs.
        with contextlib.suppress(ValueError):  # not the main thread (tests): no alarm
            signal.signal(signal.SIGALRM, _leave_after_hangup)
            signal.alarm(HANGUP_GRACE)
        self.exit(EXIT_HANGUP)

    # ----- engine operations ----------------------------------------------------------------------------
    def run_operation(
        self,
        step: str,
        description: str,
        work: Callable[[Context], T],
        on_success: Callable[[T], None] | None = None,
        *,
        changes_cluster: bool = False,
    ) -> Worker[T] | None:
        """Run ``work(ctx)`` in a thread worker; events go to the step's model; errors open the error modal."""
        run = self.run_for(step)
        if run.running:
            self.notify(f"{run.operation} is still running.", severity="warning")
            return None
        run.start(description, changes_cluster=changes_cluster)
        run.add_line(f"== {description}")
        journal = self.journal

        from engine.context import Context

        def job() -> T:
            ctx = Context(self.plan, Emitter(step, run), run.cancel, self._cluster, journal)
            try:
                return work(ctx)
            finally:
                if ctx._cluster is not None:
                    self._cluster = ctx._cluster

        worker: Worker[T] = self.run_worker(
            job,
            name=step,
            group=f"step-{step}",
            description=description,
            exit_on_error=False,
            exclusive=True,
            thread=True,
        )
        self._callbacks[worker] = (step, on_success)
        self.refresh_steps()
        return worker

    @property
    def tearing_down(self) -> bool:
        """The app is exiting (its widgets go away in no set order): no UI update may run any more."""
        return bool(getattr(self, "_exit", False) or self._closing or self._closed)

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker not in self._callbacks or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            return
        step, callback = self._callbacks.pop(worker)
        run = self.run_for(step)
        error = worker.error if event.state is WorkerState.ERROR else None
        cancelled = event.state is WorkerState.CANCELLED or isinstance(error, Cancelled)
        run.finish("cancelled" if cancelled else "failed" if error is not None else "succeeded")
        if self.tearing_down:
            # workers cancelled by the exit report while the screens lose their widgets: keep the model only
            run.add_line(f"{worker.description}: stopped at exit.", Level.WARNING)
            return
        if event.state is WorkerState.SUCCESS:
            if callback is not None:
                try:
                    callback(worker.result)
                except AirgapError as exc:
                    self.show_error(step, exc)
        elif event.state is WorkerState.ERROR:
            error = worker.error
            if isinstance(error, Cancelled):
                run.add_line(f"{worker.description}: cancelled. {error.message}", Level.WARNING)
            else:
                run.add_line(f"{worker.description} failed: {redact(str(error))}", Level.ERROR)
                self.show_error(step, error)
        else:
            run.add_line(f"{worker.description}: cancelled.", Level.WARNING)
        self._route(step)
        self.refresh_steps()

    def show_error(self, step: str, error: BaseException | None) -> None:
        if isinstance(error, AirgapError):
            title, message, fix = error.title, error.message, error.fix
        else:
            title = _("Unexpected error")
            message = f"{type(error).__name__}: {redact(str(error))}" if error else _("unknown error")
            fix = _("This is a bug in ocp-airgap. Press l for the full log and report it with the log.")

        def closed(what: str | None) -> None:
            if what == "log":
                self.show_full_log(step)

        self.push_screen(ErrorModal(title, message, fix), closed)

    def show_full_log(self, step: str) -> None:
        run = self.run_for(step)
        self.push_screen(LogModal(_("Full log: {title}").format(title=_(BY_ID[step].title)), list(run.log)))

    # ----- messages from workers ------------------------------------------------------------------------
    def _route(self, step: str) -> None:
        """Bring the step's screen up to date if it is on the stack (also under a modal)."""
        from screens.base import StepScreen

        if not self.is_screen_installed(step):
            return
        screen = self.get_screen(step)
        if screen in self.screen_stack and isinstance(screen, StepScreen) and screen.ready_for_updates():
            screen.sync()
            screen.update_next()

    def on_events_pending(self, message: EventsPending) -> None:
        self.run_for(message.step).take_pending()
        self._route(message.step)

    def on_progress_updated(self, message: ProgressUpdated) -> None:
        from screens.base import StepScreen

        screen = self.screen
        run = self.run_for(message.step)
        if (
            isinstance(screen, StepScreen)
            and message.step == screen.STEP
            and screen.query(ProgressPanel)
            and run.running
        ):
            screen.progress_panel.show(run.progress_list())

    def on_step_finished(self, message: StepFinished) -> None:
        self._route(message.step)

    def on_journal_changed(self, message: JournalChanged) -> None:
        self.refresh_steps()

    # ----- global keys ----------------------------------------------------------------------------------
    def action_help(self) -> None:
        from screens.base import StepScreen

        screen = self.screen
        step = screen.STEP if isinstance(screen, StepScreen) else "welcome"
        info = BY_ID[step]
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if (
                binding.description
                and binding.action not in seen
                and "focus" not in binding.action
                and "copy" not in binding.action
                and "interrupt_hint" not in binding.action
            ):
                seen.add(binding.action)
                keys.append((self.get_key_display(binding), _(binding.description)))
        keys += [("tab", _("move between fields")), ("enter", _("confirm a field")), ("^c", _("how to quit"))]
        self.push_screen(HelpModal(_(info.title), _(info.help), keys))

    def action_interrupt_hint(self) -> None:
        """Ctrl+C: in a terminal it usually stops a program; here it says how to quit safely instead."""
        self.notify(
            _("Ctrl+Q quits (it asks first while work is running); c cancels the running operation."),
            title=_("Ctrl+C does not quit"),
        )

    def action_go_back(self) -> None:
        from screens.base import StepScreen

        if isinstance(self.focused, Input):
            self.screen.set_focus(None)
            return
        screen = self.screen
        if isinstance(screen, StepScreen):
            self.go_back(screen.STEP)

    def action_safe_quit(self) -> None:
        running = [r for r in self.runs.values() if r.running]
        if not running:
            self.exit(EXIT_OK)
            return
        changing = [r for r in running if r.changes_cluster]
        if changing:
            text = _(
                "{operation} is changing the cluster right now. Quitting in the middle may leave the change "
                "half made; the journal records what was done, and starting the wizard again shows it."
            ).format(operation=changing[0].operation)
        else:
            names = ", ".join(r.operation for r in running)
            text = _(
                "{operations} is running. Quitting stops it here; it resumes where it stopped next time. "
                "A cluster update already started continues on the cluster: start the wizard again to reattach."
            ).format(operations=names)

        def answered(yes: bool | None) -> None:
            if yes:
                for r in self.runs.values():
                    r.cancel.set()
                self.exit(EXIT_OK)

        self.push_screen(
            ConfirmModal(
                _("Quit while work is running?"),
                text,
                _("Quit anyway?"),
                yes_label=_("quit"),
                no_label=_("stay"),
            ),
            answered,
        )

    def session_commands(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for step, run in self.runs.items():
            cmds = [c.shell for c in run.commands_after(0) if isinstance(c, Command)]
            if cmds:
                out[step] = cmds
        return out

    def action_write_handoff(self) -> None:
        from engine.fsutil import atomic_write_text
        from engine.runbook import render_change_record, render_runbook, write_handoff

        summary = {
            "Target release": self.plan.release.version or "(not chosen)",
            "Mirror": self.plan.mirror_repository if self.plan.mirror.registry else "(not set)",
        }
        now = self.clock()
        try:
            if self.journal is not None:
                runbook, record = write_handoff(
                    self.journal,
                    self.output_dir,
                    generated=now,
                    operator=self.operator,
                    extra_commands=self.session_commands(),
                    plan_summary=summary,
                )
            else:
                runbook = self.output_dir / "runbook.sh"
                record = self.output_dir / "change-record.md"
                atomic_write_text(
                    runbook,
                    render_runbook(
                        [],
                        cluster="(no cluster)",
                        generated=now,
                        operator=self.operator,
                        extra_commands=self.session_commands(),
                    ),
                    mode=0o700,
                )
                atomic_write_text(
                    record,
                    render_change_record(
                        [],
                        cluster="(no cluster)",
                        generated=now,
                        operator=self.operator,
                        plan_summary=summary,
                    ),
                    mode=0o644,
                )
        except (OSError, AirgapError) as exc:
            self.push_screen(
                ErrorModal(
                    _("Cannot write the runbook"),
                    redact(str(exc)),
                    _(
                        "Check that the plan's folder is writable, or start the wizard from a writable folder."
                    ),
                )
            )
            return
        self.notify(
            _("Wrote {runbook} and {record} in {folder}").format(
                runbook=escape(runbook.name), record=escape(record.name), folder=escape(str(self.output_dir))
            )
        )


def run_app(plan_path: str | None = None, ascii_only: bool = False, lang: str | None = None) -> int:
    """The wizard's entry point (``ocp-airgap`` alone): load the plan, find the cluster's journal, run.
    ``--ascii`` shows English (the other catalogues need more than 7-bit characters)."""
    from tui import i18n

    i18n.setup("en" if ascii_only else lang)
    try:
        if plan_path:
            plan = Plan.load(plan_path)
        else:
            plan = Plan()
            default = Path("plan.yaml")
            if default.is_file():
                plan = Plan.load(default)
        journal = open_journal(plan)
    except AirgapError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.fix:
            sys.stderr.write(f"fix: {exc.fix}\n")
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    output_dir = Path(plan.source_path).parent if plan.source_path else Path.cwd()
    app = WizardApp(
        plan,
        journal=journal,
        ascii_only=ascii_only,
        output_dir=output_dir,
        handle_hangup=True,
    )
    try:
        code = app.run()
    finally:
        with contextlib.suppress(ValueError):
            signal.alarm(0)  # left in time (see WizardApp.hang_up)
        for run in app.runs.values():
            run.cancel.set()
    return int(code or 0)


__all__ = ["WizardApp", "open_journal", "run_app", "STEPS"]


if TYPE_CHECKING:
    from screens.host import WizardHost

    def _is_a_wizard_host(app: WizardApp) -> WizardHost:
        """mypy checks here that the App provides everything the screens' host protocol promises."""
        return app
