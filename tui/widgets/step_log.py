"""The live log pane: lines arrive in batches from the step's model, history is bounded."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from textual.widgets import Log

from engine.events import Level
from tui.i18n import _
from tui.widgets.model import MAX_LOG_LINES, LogEntry

PREFIX = {Level.DEBUG: "  ", Level.INFO: "", Level.WARNING: "warning: ", Level.ERROR: "error: "}


def wrap_lines(lines: Iterable[str], width: int) -> list[str]:
    """Fold lines longer than ``width`` (continuations indented), so nothing is cut off at 80 columns."""
    out: list[str] = []
    for line in lines:
        if width < 20 or len(line) <= width:
            out.append(line)
            continue
        out.extend(
            textwrap.wrap(
                line, width, subsequent_indent="    ", break_long_words=True, break_on_hyphens=False
            )
            or [""]
        )
    return out


class StepLog(Log):
    DEFAULT_CSS = """
    StepLog {
        height: 1fr;
        min-height: 3;
        border: round $primary 50%;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
    }
    StepLog:focus { border: round $primary; }
    """

    def __init__(self, *, max_lines: int = MAX_LOG_LINES, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, id=id)
        self.border_title = _("Log")
        self.last_n = 0
        """Running number of the last line shown."""

    def add_entries(self, entries: Iterable[LogEntry]) -> int:
        lines: list[str] = []
        for e in entries:
            if e.level is Level.DEBUG:
                self.last_n = e.n
                continue
            lines.append(PREFIX.get(e.level, "") + e.text)
            self.last_n = e.n
        if lines:
            follow = not self.has_focus or self.is_vertical_scroll_end
            # lines are not folded here: on a small terminal the pane may be one line high, and the start of a
            # line says more than its end; the full log (l) folds them
            self.write_lines(lines, scroll_end=False)
            if follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        return len(lines)

    def on_resize(self) -> None:
        if not self.has_focus:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def reset(self) -> None:
        self.clear()
        self.last_n = 0
