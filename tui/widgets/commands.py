"""The equivalent oc commands: what the step will run (from the plan) and then what the engine ran."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log

from engine.events import Command


class CommandPane(Log):
    DEFAULT_CSS = """
    CommandPane {
        height: 4;
        border: round $secondary 50%;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    CommandPane:focus { border: round $secondary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=500, auto_scroll=True, id=id)
        self.border_title = "Equivalent commands"
        self.count = 0
        """How many engine Command events were shown."""
        self._planned = True

    def show_planned(self, commands: Iterable[str]) -> None:
        self.clear()
        self._planned = True
        self.count = 0
        self.border_title = "Equivalent commands (planned)"
        self.write_lines(f"$ {c}" for c in commands)

    def add_commands(self, commands: Iterable[Command]) -> None:
        lines = []
        for c in commands:
            self.count += 1
            lines.append(f"$ {c.shell}" + (f"   # {c.note}" if c.note else ""))
        if not lines:
            return
        if self._planned:
            self.clear()
            self._planned = False
            self.border_title = "Equivalent commands (run)"
        self.write_lines(lines)
