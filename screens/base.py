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
from textual.widgets import Footer, Input, Static

from engine.changes import Change, render_changes
from engine.events import Level
from screens.steps import BY_ID, StepInfo
from tui.widgets.checks import CheckTable
from tui.widgets.commands import CommandPane
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
        super().__init__(failure_description=expected)
        self.predicate = predicate
        self.allow_empty = allow_empty

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success() if self.allow_empty else self.failure("required")
        return self.success() if self.predicate(value.strip()) else self.failure()


class StepScreen(Screen[None]):
    """Base of every step screen. Subclasses set ``STEP`` and override :meth:`compose_body` and
    :meth:`action_primary`."""

    STEP: ClassVar[str] = ""
    AUTO_FOCUS = None
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Run"),
        Binding("n", "next", "Next"),
        Binding("c", "cancel", "Cancel", show=False),
        Binding("l", "full_log", "Log"),
        Binding("escape", "app.go_back", "Back"),
    ]
    DEFAULT_CSS = """
    StepScreen #frame { height: 1fr; }
    StepScreen #main { width: 1fr; height: 100%; padding: 0 0 0 1; }
    StepScreen #title { text-style: bold; height: 1; color: $accent; }
    StepScreen #about { height: auto; max-height: 4; color: $text-muted; }
    StepScreen #body { height: auto; max-height: 12; }
    StepScreen #next { height: 1; text-style: bold; background: $boost; }
    StepScreen .field { height: 1; margin: 0; }
    StepScreen .field Static.label { width: 14; }
    StepScreen .field Input { width: 1fr; height: 1; border: none; padding: 0; }
    StepScreen .field Input.-invalid { background: $error 20%; }
    StepScreen .field-error { height: auto; color: $error; }
    StepScreen .notice { height: auto; color: $warning; }
    """

    def __init__(self) -> None:
        super().__init__(name=self.STEP)
        self._commands_seen = 0
        self._checks_version = -1
        self._catching_up = False

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
                yield Static(escape(self.info.about), id="about")
                with Vertical(id="body"):
                    yield from self.compose_body()
                yield ProgressPanel(ascii_only=self.wizard.ascii_only, id="progress")
                yield from self.compose_results()
                yield CommandPane(id="commands")
                yield StepLog(id="log")
                yield Static("", id="next")
        yield Footer()

    def title_text(self) -> str:
        order = self.wizard.order
        if self.STEP == "welcome" or self.STEP not in order:
            return escape(self.info.title)
        return f"Step {order.index(self.STEP)} of {len(order) - 1}: {escape(self.info.title)}"

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
        self.progress_panel.show(run.progress_list())
        if run.checks_version != self._checks_version:
            self._checks_version = run.checks_version
            for table in self.query(CheckTable):
                table.show(run.check_list())

    def _catch_up(self) -> None:
        self._catching_up = False
        self.sync()

    def set_next(self, text: str) -> None:
        self.query_one("#next", Static).update(" Next: " + text)

    def update_next(self) -> None:
        """Say what to do next; subclasses refine it."""
        run = self.run
        state = self.wizard.step_states().get(self.STEP, "todo")
        if run.running:
            self.set_next(f"{run.operation}... (c cancels, l full log)")
        elif state == "blocked":
            missing = ", ".join(BY_ID[s].title for s in self.wizard.missing_requirements(self.STEP))
            self.set_next(f"first finish: {missing} (Esc goes back)")
        elif state in ("done", "skipped"):
            self.set_next("press n for the next step")
        else:
            self.set_next(self.primary_hint())

    def primary_hint(self) -> str:
        return "press r to run this step"

    # ----- actions --------------------------------------------------------------------------------------
    def action_primary(self) -> None:
        self.notify("This step has nothing to run.", severity="warning")

    def action_next(self) -> None:
        self.wizard.go_next(self.STEP)

    def action_cancel(self) -> None:
        if self.run.running:
            self.run.cancel.set()
            self.run.add_line("cancel requested; the operation stops at the next safe point", Level.WARNING)
            self.sync()
        else:
            self.notify("Nothing is running.")

    def action_full_log(self) -> None:
        self.wizard.show_full_log(self.STEP)

    def check_blocked(self) -> bool:
        """True (and a notice) when the step's requirements are not met."""
        missing = self.wizard.missing_requirements(self.STEP)
        if missing:
            names = ", ".join(BY_ID[s].title for s in missing)
            self.notify(f"Finish {names} first.", title="Blocked", severity="warning")
            return True
        return False

    def check_not_running(self) -> bool:
        if self.run.running:
            self.notify(f"{self.run.operation} is still running.", severity="warning")
            return False
        return True

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
    ) -> None:
        """The engine's two phases: ``prepare(ctx)`` builds the change previews (nothing changes), the user
        confirms them in the modal, then ``apply(ctx, prepared)`` makes them. Nothing changes without a 'y'."""

        def prepared(result: T) -> None:
            changes = changes_of(result)

            def go() -> None:
                self.start(
                    f"Applying: {description}",
                    lambda ctx: apply(ctx, result),
                    on_done,
                    changes_cluster=True,
                )

            if not changes:
                self.run.add_line("No change is needed.")
                self.sync()
                if apply_when_unchanged:
                    go()
                return
            self.confirm_changes(confirm_title or description, changes, go)

        self.start(f"Preparing: {description}", prepare, prepared)

    def confirm_changes(
        self,
        title: str,
        changes: list[Change],
        then: Callable[[], None],
        *,
        question: str = "Apply these changes?",
    ) -> None:
        """Show the changes; ``then()`` runs only on 'y'."""
        if not changes:
            self.run.add_line("No change is needed: the cluster already matches.")
            self.sync()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.run.add_line("Not confirmed: nothing was changed.", Level.WARNING)
                self.sync()

        self.app.push_screen(ConfirmModal(title, render_changes(changes), question), answered)
