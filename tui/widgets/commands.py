"""The equivalent oc commands: what the step will run (from the plan) and then what the engine ran. Long
commands wrap, so they can be read whole and copied by hand."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from engine.events import Command


class CommandPane(RichLog):
    DEFAULT_CSS = """
    CommandPane {
        height: 4;
        border: round $secondary 50%;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    CommandPane:focus { border: round $secondary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=500, min_width=20, wrap=True, markup=False, auto_scroll=True, id=id)
        self.border_title = "Equivalent commands (planned)"
        self.count = 0
        """How many engine Command events were shown."""
        self._planned = True
        self.shown: list[str] = []
        """The command lines shown, in order (for tests and the runbook)."""

    def show_planned(self, commands: Iterable[str]) -> None:
        self.clear()
        self._planned = True
        self.count = 0
        self.shown = []
        self.border_title = "Equivalent commands (planned)"
        for c in commands:
            self._write(f"$ {c}", scroll_end=False)
        self.scroll_home(animate=False)

    def _write(self, line: str, *, scroll_end: bool | None = None) -> None:
        self.shown.append(line)
        self.write(Text(line), scroll_end=scroll_end)

    def add_commands(self, commands: Iterable[Command]) -> None:
        lines = []
        for c in commands:
            self.count += 1
            lines.append(f"$ {c.shell}" + (f"   # {c.note}" if c.note else ""))
        if not lines:
            return
        if self._planned:
            self.clear()
            self.shown = []
            self._planned = False
            self.border_title = "Equivalent commands (run)"
        for line in lines:
            self._write(line)
