"""The equivalent oc commands: what the step will run (from the plan) and then what the engine ran. Long commands
fold at the pane's width, so each can be read whole and copied by hand; the pane keeps the start of the newest
command in view and scrolls (focus it with Tab, then arrows) for the earlier ones."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.events import Command
from tui.i18n import _

MAX_SHOWN = 200
"""Most command widgets kept in the pane (``shown`` keeps every line)."""


class CommandPane(VerticalScroll):
    DEFAULT_CSS = """
    CommandPane {
        height: auto;
        min-height: 3;
        max-height: 6;
        border: round $secondary 50%;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    CommandPane:focus { border: round $secondary; }
    CommandPane > Static { width: 1fr; height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)
        self.border_title = _("Equivalent commands (planned)")
        self.count = 0
        """How many engine Command events were shown."""
        self._planned = True
        self.shown: list[str] = []
        """The command lines shown, in order (for tests and the runbook)."""

    def _clear(self) -> None:
        self.shown = []
        self.remove_children()

    def show_planned(self, commands: Iterable[str]) -> None:
        self._clear()
        self._planned = True
        self.count = 0
        self.border_title = _("Equivalent commands (planned)")
        lines = [f"$ {c}" for c in commands]
        self._add(lines)
        self.scroll_home(animate=False)

    def _add(self, lines: list[str]) -> None:
        if not lines:
            return
        self.shown.extend(lines)
        widgets = [Static(Text(line, overflow="fold"), classes="command") for line in lines]
        self.mount_all(widgets)
        excess = len(self.children) - MAX_SHOWN
        if excess > 0:
            self.remove_children(list(self.children)[:excess])

    def add_commands(self, commands: Iterable[Command]) -> None:
        lines = []
        for c in commands:
            self.count += 1
            lines.append(f"$ {c.shell}" + (f"   # {c.note}" if c.note else ""))
        if not lines:
            return
        if self._planned:
            self._clear()
            self._planned = False
            self.border_title = _("Equivalent commands (run)")
        self._add(lines)
        if not self.has_focus:
            self.call_after_refresh(self._show_newest)

    def _show_newest(self) -> None:
        """Scroll so the newest command is in view from its first line."""
        if self.children:
            self.scroll_to_widget(self.children[-1], animate=False, top=True, immediate=True)
