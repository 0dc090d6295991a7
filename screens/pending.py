"""Screens for steps whose engine operation is not in this build: they show what the step does and why, the
equivalent commands to do it by hand, and say plainly that the wizard cannot run it here."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen


class PendingStepScreen(StepScreen):
    MODULE: ClassVar[str] = ""
    FUNCTIONS: ClassVar[tuple[str, ...]] = ()
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Run"),
        Binding("s", "skip", "Skip", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(escape(unavailable_text(self.MODULE, *self.FUNCTIONS)), classes="notice")

    def primary_hint(self) -> str:
        extra = "; s skips it" if self.info.skippable else ""
        return f"not available in this build: do it by hand with the commands below{extra}"

    def action_primary(self) -> None:
        if engine_module(self.MODULE, *self.FUNCTIONS) is None:
            self.notify(unavailable_text(self.MODULE, *self.FUNCTIONS), severity="error")

    def action_skip(self) -> None:
        if not self.info.skippable:
            self.notify(f"{self.info.title} cannot be skipped.", severity="warning")
            return
        self.wizard.mark_step(self.STEP, "skipped", "skipped in the wizard")
        self.refresh_state()


def pending(step: str, module: str, *functions: str) -> type[PendingStepScreen]:
    return type(
        f"Pending{module.title()}Screen",
        (PendingStepScreen,),
        {"STEP": step, "MODULE": module, "FUNCTIONS": functions},
    )
