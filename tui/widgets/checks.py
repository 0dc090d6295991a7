"""Preflight results: one row per check, the selected row's detail (what was seen, why it matters, the fix) in a
pane below that never hides the list; the selected row is kept in view when the results are refreshed."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from engine.events import CheckResult, CheckStatus
from tui.i18n import _

MARK = {CheckStatus.PASS: "PASS", CheckStatus.WARN: "WARN", CheckStatus.FAIL: "FAIL"}
COLOR = {CheckStatus.PASS: "green", CheckStatus.WARN: "yellow", CheckStatus.FAIL: "red"}


class CheckGrid(DataTable[str | Text]):
    """The table of checks; whenever its size changes (the detail pane below grew or shrank, the terminal was
    resized) the selection is put back in the middle of the visible rows."""

    def on_resize(self) -> None:
        parent = self.parent
        if isinstance(parent, CheckTable):
            parent.centre_selection()


class CheckTable(Vertical):
    DEFAULT_CSS = """
    CheckTable { height: 1fr; min-height: 9; }
    CheckTable DataTable { height: 1fr; min-height: 5; scrollbar-size-horizontal: 0; }
    CheckTable #check-detail-box { height: auto; min-height: 3; max-height: 6; color: $text-muted; }
    CheckTable #check-detail { height: auto; }
    """

    def __init__(
        self, *, id: str | None = None, fixable: Callable[[CheckResult], bool] | None = None
    ) -> None:
        super().__init__(id=id)
        self._checks: list[CheckResult] = []
        self._auto_row = 0
        """The row this widget selected itself; a cursor elsewhere was put there by the user."""
        self.fixable = fixable or (lambda c: False)
        """Whether ocp-airgap offers a fix for a check (the detail pane then names the key)."""

    def compose(self) -> ComposeResult:
        table = CheckGrid(cursor_type="row", zebra_stripes=False)
        table.add_column("", key="mark", width=4)
        table.add_column(_("check"), key="check")
        table.add_column(_("detail"), key="detail")
        yield table
        with VerticalScroll(id="check-detail-box"):
            yield Static("", id="check-detail")

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one(DataTable)

    @property
    def checks(self) -> list[CheckResult]:
        return list(self._checks)

    def selected(self) -> CheckResult | None:
        """The check of the highlighted row."""
        row = self.table.cursor_row
        return self._checks[row] if self._checks and 0 <= row < len(self._checks) else None

    def show(self, checks: list[CheckResult]) -> None:
        if checks == self._checks:
            return
        previous = self.selected()
        self._checks = list(checks)
        table = self.table
        cursor = table.cursor_row
        table.clear()
        for c in checks:
            table.add_row(Text(MARK[c.status], style=COLOR[c.status]), c.name, c.detail)
        if checks:
            names = [c.name for c in checks]
            chosen = previous is not None and cursor != self._auto_row and previous.name in names
            # the user's choice is kept; else the first problem is selected as soon as it is listed, so the
            # table, the detail pane and the next action agree at every moment while the checks arrive
            self.select(
                names.index(previous.name) if chosen and previous is not None else self.first_problem()
            )
        self._detail(table.cursor_row)

    def select(self, row: int) -> None:
        """Highlight ``row`` and keep it in view (also once the table has its final size)."""
        table = self.table
        self._auto_row = row
        table.move_cursor(row=row, scroll=False)
        self.centre_selection()
        self.call_after_refresh(self.centre_selection)

    def centre_selection(self) -> None:
        """Scroll so the selected row is in the middle of the visible rows (clamped): the same picture whatever
        the table was showing before, so a refresh or a resize never leaves the selection out of view."""
        self._centre(attempts=20)

    def _centre(self, attempts: int) -> None:
        table = self.table
        if not self._checks:
            return
        if table.virtual_size.height < len(self._checks) + table.header_height and attempts > 0:
            # the table measures its new rows when it is next idle (DataTable._on_idle); scrolling before that
            # is clamped to the old height and can leave the selection out of view: try again shortly
            self.set_timer(0.05, lambda: self._centre(attempts - 1))
            return
        visible = max(1, table.size.height - table.header_height)
        top = max(0, min(table.cursor_row - (visible - 1) // 2, len(self._checks) - visible))
        table.scroll_to(y=top, animate=False, immediate=True)

    def first_problem(self) -> int:
        """The row of the first failure, else of the first warning, else the first row."""
        for status in (CheckStatus.FAIL, CheckStatus.WARN):
            for i, c in enumerate(self._checks):
                if c.status is status:
                    return i
        return 0

    def counts(self) -> dict[CheckStatus, int]:
        out = {s: 0 for s in CheckStatus}
        for c in self._checks:
            out[c.status] += 1
        return out

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def detail_text(self) -> str:
        """What the detail pane shows for the selected check (plain text)."""
        c = self.selected()
        if c is None:
            return ""
        # what was seen, then what to do, then why: the actionable lines come first on a small terminal
        parts = [f"{MARK[c.status]} {c.name}: {c.detail}"]
        if c.fix and c.status is not CheckStatus.PASS:
            parts.append(_("fix: {text}").format(text=c.fix))
        if c.status is not CheckStatus.PASS and self.fixable(c):
            parts.append(_("x: ocp-airgap makes this fix for you (shown first)"))
        if c.why:
            parts.append(_("why: {text}").format(text=c.why))
        return "\n".join(parts)

    def _detail(self, row: int) -> None:
        self.query_one("#check-detail", Static).update(escape(self.detail_text()))
        self.query_one("#check-detail-box", VerticalScroll).scroll_home(animate=False)
        # the detail pane's height follows its text, and the table's with it: keep the selection in view
        self.call_after_refresh(self.centre_selection)
