"""The step list on the left of every screen: each step with its state (done / current / running / failed /
blocked / skipped / to do / not on this host)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.markup import escape
from textual.widgets import Static

from screens.steps import STEPS
from tui.i18n import _

MARKS_UNICODE = {
    "done": "✔",
    "running": "⟳",
    "failed": "✖",
    "blocked": "⊘",
    "skipped": "↷",
    "todo": "·",
    "unavailable": "?",
    "n/a": " ",
}
MARKS_ASCII = {
    "done": "+",
    "running": "~",
    "failed": "!",
    "blocked": "#",
    "skipped": "-",
    "todo": ".",
    "unavailable": "?",
    "n/a": " ",
}
STYLES = {
    "done": "$success",
    "running": "$warning",
    "failed": "$error",
    "blocked": "$text-muted",
    "skipped": "$text-muted",
    "todo": "",
    "unavailable": "$text-disabled",
    "n/a": "$text-disabled",
}


class StepList(Static):
    """Renders ``states`` (step id → state) with ``current`` highlighted."""

    DEFAULT_CSS = """
    StepList {
        width: 22;
        height: 100%;
        padding: 0 1 0 0;
        border-right: vkey $primary 40%;
    }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self._states: dict[str, str] = {}
        self._current = ""

    def show(self, states: dict[str, str], current: str) -> None:
        self._states = dict(states)
        self._current = current
        self.update(self._markup())

    def _markup(self) -> str:
        marks = MARKS_ASCII if self.ascii_only else MARKS_UNICODE
        lines = []
        for step in STEPS:
            state = self._states.get(step.id, "todo")
            mark = marks.get(state, "?")
            title = _(step.title)
            text = f"{mark} {escape(title)}"
            if step.id == self._current:
                pointer = ">" if self.ascii_only else "▶"
                pad = " " * max(0, 17 - cell_len(title))  # cells, not characters: titles may be double-width
                text = f"[reverse]{pointer} {escape(title)}{pad}[/reverse]"
            elif STYLES.get(state):
                text = f"[{STYLES[state]}]{text}[/]"
            lines.append(text)
        words = [_("done"), _("run"), _("fail"), _("blocked"), _("skip"), _("n/a")]
        symbols = ("+", "~", "!", "#", "-", "?") if self.ascii_only else ("✔", "⟳", "✖", "⊘", "↷", "?")
        legend = " ".join(f"{sym}{word}" for sym, word in zip(symbols, words, strict=True))
        lines.append("")
        lines.append(f"[$text-muted]{legend}[/]")
        return "\n".join(lines)

    @property
    def states(self) -> dict[str, str]:
        return dict(self._states)
