"""What a step screen needs from the application that hosts it: the plan, this host's journal and step states,
running engine operations, navigation and the error/log views. ``tui.app.WizardApp`` provides it; screens
depend only on this protocol, never on the App class (no import cycle between the screens and the app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from textual.worker import Worker

    from engine.context import Context
    from engine.journal import Journal
    from engine.plan import Plan
    from tui.widgets.model import StepRun

T = TypeVar("T")


class WizardHost(Protocol):
    plan: Plan
    journal: Journal | None
    clock: Callable[[], datetime]
    operator: str
    live: bool
    ascii_only: bool
    cursor_blink: bool
    watch_interval: float
    rollout_settle: float
    accepted_risks: bool
    status_notes: list[str]

    @property
    def where(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def order(self) -> tuple[str, ...]: ...

    def step_states(self) -> dict[str, str]: ...

    def recorded_status(self, step: str) -> str | None: ...

    def missing_requirements(self, step: str) -> list[str]: ...

    def current_position(self) -> str: ...

    def mark_step(self, step: str, status: str, summary: str = "") -> None: ...

    def save_plan(self) -> None: ...

    def replace_plan(self, plan: Plan) -> None: ...

    def reopen_journal(self) -> None: ...

    def resume_notes(self) -> list[str]: ...

    def run_for(self, step: str) -> StepRun: ...

    def run_operation(
        self,
        step: str,
        description: str,
        work: Callable[[Context], T],
        on_success: Callable[[T], None] | None = None,
        *,
        changes_cluster: bool = False,
    ) -> Worker[T] | None: ...

    def goto(self, step: str) -> None: ...

    def go_next(self, step: str) -> None: ...

    def show_error(self, step: str, error: BaseException | None) -> None: ...

    def show_full_log(self, step: str) -> None: ...

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None: ...
