"""The frame every wizard step shares: the step list on the left; on the right the step's title, what it does
and why, its inputs, progress, the equivalent commands, the live log, and one line saying what to do next.

Screens hold no OpenShift logic: they gather choices into the plan, ask the App to run an engine operation in
a worker (the host's ``run_operation``, :mod:`screens.host`), and render what the operation's model holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static

from engine.changes import Change, render_changes
from engine.events import Level
from screens.steps import BY_ID, StepInfo
from tui.i18n import _
from tui.widgets.checks import CheckTable
from tui.widgets.commands import CommandPane
from tui.widgets.keybar import KeyBar
from tui.widgets.modals import ConfirmModal
from tui.widgets.model import StepRun
from tui.widgets.progress import ProgressPanel
from tui.widgets.step_list import StepList
from tui.widgets.step_log import StepLog

if TYPE_CHECKING:
    from screens.host import WizardHost

T = TypeVar("T")
LOG_CHUNK = 1000
"""Most log lines shown per turn of the event loop."""


class PlanValidator(Validator):
    """Validates an input with a plain predicate and a message saying what is expected."""

    def __init__(self, predicate: Callable[[str], bool], expected: str, *, allow_empty: bool = True) -> None:
        super().__init__(failure_description=_(expected))
        self.predicate = predicate
        self.allow_empty = allow_empty

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success() if self.allow_empty else self.failure(_("required"))
        return self.success() if self.predicate(value.strip()) else self.failure()


class StepScreen(Screen[None]):
    """Base of every step screen. Subclasses set ``STEP`` and override :meth:`compose_body` and
    :meth:`action_primary`."""

    STEP: ClassVar[str] = ""
    AUTO_FOCUS = None
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Run"),
        Binding("c", "cancel", "Cancel"),
        Binding("n", "next", "Next"),
        Binding("l", "full_log", "Log"),
        Binding("escape", "app.go_back", "Back"),
        Binding("ctrl+c", "app.interrupt_hint", "How to quit", show=False),
    ]
    DEFAULT_CSS = """
    StepScreen #frame { height: 1fr; }
    StepScreen #main { width: 1fr; height: 100%; padding: 0 0 0 1; }
    StepScreen #title { text-style: bold; height: 1; color: $accent; }
    StepScreen #about { height: auto; max-height: 3; color: $text-muted; }
    StepScreen #body { height: auto; max-height: 12; }
    StepScreen #next { dock: bottom; height: auto; max-height: 3; text-style: bold; background: $boost; }
    StepScreen .field { height: 1; margin: 0; }
    StepScreen .field Static.label { width: auto; min-width: 14; padding-right: 1; }
    StepScreen .field Input { width: 1fr; height: 1; border: none; padding: 0; }
    StepScreen .field Input.-invalid { border: none; background: $error 20%; }
    StepScreen .field Input.-invalid:focus { border: none; }
    StepScreen .field-error { height: auto; color: $error; }
    StepScreen .field-error.-empty { display: none; }
    StepScreen .notice { height: auto; color: $warning; }
    """

    def __init__(self) -> None:
        super().__init__(name=self.STEP)
        self._commands_seen = 0
        self._checks_version = -1
        self._catching_up = False
        self._reading = False
        """The running operation is the screen's own read (:meth:`start_read`)."""
        self._after_read = ""
        """The action of a key pressed during that read, carried out when it is done."""

    # ----- shortcuts ------------------------------------------------------------------------------------
    @property
    def wizard(self) -> WizardHost:
        return self.app  # type: ignore[return-value]

    @property
    def info(self) -> StepInfo:
        return BY_ID[self.STEP]

    @property
    def run(self) -> StepRun:
        return self.wizard.run_for(self.STEP)

    @property
    def step_log(self) -> StepLog:
        return self.query_one(StepLog)

    @property
    def command_pane(self) -> CommandPane:
        return self.query_one(CommandPane)

    @property
    def progress_panel(self) -> ProgressPanel:
        return self.query_one(ProgressPanel)

    # ----- layout ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="frame"):
            yield StepList(ascii_only=self.wizard.ascii_only, id="steps")
            with Vertical(id="main"):
                yield Static(self.title_text(), id="title")
                yield Static(escape(_(self.info.about)), id="about")
                with Vertical(id="body"):
                    yield from self.compose_body()
                yield ProgressPanel(ascii_only=self.wizard.ascii_only, id="progress")
                yield from self.compose_results()
                yield CommandPane(id="commands")
                yield StepLog(id="log")
                yield Static("", id="next")
        yield KeyBar(id="keys")

    def title_text(self) -> str:
        """'Step 3 of 10: Release'; on one side of a removable-media transfer it also names the side, so
        'Step 3 of 3' on the connected host is not read as the end of the whole update."""
        order = self.wizard.order
        title = escape(_(self.info.title))
        if self.STEP == "welcome" or self.STEP not in order:
            return title
        text = _("Step {n} of {total}: {title}").format(
            n=order.index(self.STEP), total=len(order) - 1, title=title
        )
        side = {
            "connected": _("connected host, writes the media"),
            "disconnected": _("disconnected host, reads the media"),
        }.get(self.wizard.where)
        return f"{text}  [$text-muted]({escape(side)})[/]" if side else text

    def compose_body(self) -> ComposeResult:
        """Inputs and choices of the step."""
        yield from ()

    def compose_results(self) -> ComposeResult:
        """Extra result widgets above the commands (e.g. the preflight table)."""
        yield from ()

    def field(
        self,
        label: str,
        input_id: str,
        value: str,
        validator: PlanValidator | None = None,
        *,
        password: bool = False,
        placeholder: str = "",
    ) -> Horizontal:
        inp = Input(
            value=value,
            id=input_id,
            password=password,
            placeholder=placeholder,
            validators=[validator] if validator else None,
            validate_on=["changed", "submitted"],
        )
        inp.cursor_blink = self.wizard.cursor_blink
        return Horizontal(Static(label, classes="label"), inp, classes="field")

    # ----- lifecycle ------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.show_planned_commands()
        self.refresh_state()

    def show_planned_commands(self) -> None:
        planned = self.info.commands(self.wizard.plan)
        self.command_pane.display = bool(planned) or self.command_pane.count > 0
        if self.command_pane.count == 0:
            self.command_pane.show_planned(planned)

    def on_screen_resume(self) -> None:
        self.refresh_state()

    def refresh_state(self) -> None:
        """Re-read the step list, the model and the next-action line."""
        self.query_one(StepList).show(self.wizard.step_states(), self.STEP)
        self.sync()
        self.update_next()

    def ready_for_updates(self) -> bool:
        """Composed and not being torn down: at exit the children go in no set order, while workers may still
        report."""
        parts = (StepList, StepLog, CommandPane, ProgressPanel, "#next")
        return self.is_mounted and all(self.query(p) for p in parts)

    def sync(self) -> None:
        """Pull what is new in the step's model into the widgets (UI thread)."""
        if not self.ready_for_updates():
            return
        run = self.run
        log = self.step_log
        entries = run.lines_after(log.last_n)
        if len(entries) > LOG_CHUNK:
            # a flood: show a slice now and the rest on the next turn of the event loop, so keys pressed
            # meanwhile are handled first
            entries = entries[:LOG_CHUNK]
            if not self._catching_up:
                self._catching_up = True
                self.call_later(self._catch_up)
        log.add_entries(entries)
        new = run.commands_after(self.command_pane.count)
        if new:
            self.command_pane.display = True
            self.command_pane.add_commands(new)
        # progress is about work under way: a finished operation's last figure ("880 of 903 manifests 97%") would
        # contradict its result, which the screen shows instead
        self.progress_panel.show(run.progress_list() if run.running else [])
        if run.checks_version != self._checks_version:
            self._checks_version = run.checks_version
            for table in self.query(CheckTable):
                table.show(run.check_list())

    def _catch_up(self) -> None:
        self._catching_up = False
        self.sync()

    def set_next(self, text: str) -> None:
        self.query_one("#next", Static).update(" " + _("Next: {what}").format(what=text))
        self.refresh_bindings()

    def unfinished_before(self) -> list[str]:
        """Every earlier step still to do that this one needs, directly or through the steps it needs, in the
        order of the steps."""
        found: set[str] = set()
        todo = list(self.wizard.missing_requirements(self.STEP))
        while todo:
            step = todo.pop()
            if step in found:
                continue
            found.add(step)
            todo.extend(self.wizard.missing_requirements(step))
        return [s for s in self.wizard.order if s in found]

    def update_next(self) -> None:
        """Say what to do next; subclasses refine it."""
        run = self.run
        state = self.wizard.step_states().get(self.STEP, "todo")
        if run.running:
            self.set_next(_("{operation}... (c cancels, l full log)").format(operation=run.operation))
        elif run.outcome == "cancelled":
            self.set_next(
                _("{operation} was cancelled: press r to run it again, l for the log").format(
                    operation=run.last_operation
                )
            )
        elif state == "blocked":
            missing = ", ".join(_(BY_ID[s].title) for s in self.unfinished_before())
            self.set_next(_("first finish: {steps} (Esc goes back)").format(steps=missing))
        elif state in ("done", "skipped"):
            self.set_next(_("press n for the next step"))
        else:
            self.set_next(self.primary_hint())

    def primary_hint(self) -> str:
        return _("press r to run this step")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The cancel key is shown (and works) only while something runs."""
        if action == "cancel":
            return self.is_mounted and self.run.running
        return True

    # ----- actions --------------------------------------------------------------------------------------
    def action_primary(self) -> None:
        self.notify(_("This step has nothing to run."), severity="warning")

    def action_next(self) -> None:
        self.wizard.go_next(self.STEP)

    def action_cancel(self) -> None:
        if self.run.running:
            self.run.cancel.set()
            self.run.add_line(
                _("cancel requested; the operation stops at the next safe point"), Level.WARNING
            )
            self.sync()
        else:
            self.notify(_("Nothing is running."))

    def action_full_log(self) -> None:
        self.wizard.show_full_log(self.STEP)

    def check_blocked(self) -> bool:
        """True (and a notice) when the step's requirements are not met."""
        missing = self.unfinished_before()
        if missing:
            names = ", ".join(_(BY_ID[s].title) for s in missing)
            self.notify(
                _("Finish {steps} first.").format(steps=names), title=_("Blocked"), severity="warning"
            )
            return True
        return False

    def check_not_running(self, action: str = "") -> bool:
        """True when nothing runs for this step. While the screen's own read runs (:meth:`start_read`), the key's
        ``action`` is carried out as soon as the read is done instead of being refused."""
        if not self.run.running:
            self._reading = False
            return True
        if self._reading and action:
            self._after_read = action
            self.notify(
                _("{operation}: your key is carried out when it is done.").format(
                    operation=self.run.operation
                )
            )
            return False
        self.notify(
            _("{operation} is still running.").format(operation=self.run.operation), severity="warning"
        )
        return False

    def start_read(self, description: str, work: Callable[[Any], T], on_success: Callable[[T], None]) -> None:
        """A read the screen makes by itself (what it shows when it opens): a key pressed meanwhile waits for it
        (:meth:`check_not_running` with the key's action) rather than being refused."""
        self._reading = True

        def done(result: T) -> None:
            self._reading = False
            on_success(result)
            action, self._after_read = self._after_read, ""
            if action:
                self.call_after_refresh(self.run_action, action)

        self.start(description, work, done)

    def start(
        self,
        description: str,
        work: Callable[[Any], T],
        on_success: Callable[[T], None] | None = None,
        *,
        changes_cluster: bool = False,
    ) -> None:
        """Run ``work(ctx)`` in a thread worker for this step."""
        self.wizard.run_operation(self.STEP, description, work, on_success, changes_cluster=changes_cluster)
        self.update_next()

    def prepare_then_apply(
        self,
        description: str,
        prepare: Callable[[Any], T],
        changes_of: Callable[[T], list[Change]],
        apply: Callable[[Any, T], Any],
        on_done: Callable[[Any], None] | None = None,
        *,
        confirm_title: str = "",
        apply_when_unchanged: bool = True,
        preview: Callable[[T], str] | None = None,
    ) -> None:
        """The engine's two phases: ``prepare(ctx)`` builds the change previews (nothing changes), the user
        confirms them in the modal, then ``apply(ctx, prepared)`` makes them. Nothing changes without a 'y'.
        ``preview`` gives a readable summary to show instead of the raw diff (which stays one key away)."""

        def prepared(result: T) -> None:
            changes = changes_of(result)

            def go() -> None:
                self.start(
                    _("Applying: {what}").format(what=description),
                    lambda ctx: apply(ctx, result),
                    on_done,
                    changes_cluster=True,
                )

            if not changes:
                self.run.add_line(_("No change is needed."))
                self.sync()
                if apply_when_unchanged:
                    go()
                return
            self.confirm_changes(
                confirm_title or description, changes, go, summary=preview(result) if preview else ""
            )

        self.start(_("Preparing: {what}").format(what=description), prepare, prepared)

    def confirm_changes(
        self,
        title: str,
        changes: list[Change],
        then: Callable[[], None],
        *,
        question: str = "",
        summary: str = "",
    ) -> None:
        """Show the changes (or ``summary``, with the changes one key away); ``then()`` runs only on 'y'."""
        if not changes:
            self.run.add_line(_("No change is needed: the cluster already matches."))
            self.sync()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.run.add_line(_("Not confirmed: nothing was changed."), Level.WARNING)
                self.sync()

        rendered = render_changes(changes)
        self.app.push_screen(
            ConfirmModal(
                title,
                summary or rendered,
                question or _("Apply these changes?"),
                details=rendered if summary else "",
            ),
            answered,
        )
