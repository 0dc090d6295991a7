"""Preflight results: one row per check; the highlighted row's 'why' and 'fix' are shown below the table."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from engine.events import CheckResult, CheckStatus

MARK = {CheckStatus.PASS: "PASS", CheckStatus.WARN: "WARN", CheckStatus.FAIL: "FAIL"}
COLOR = {CheckStatus.PASS: "green", CheckStatus.WARN: "yellow", CheckStatus.FAIL: "red"}


class CheckTable(Vertical):
    DEFAULT_CSS = """
    CheckTable { height: 1fr; min-height: 5; }
    CheckTable DataTable { height: 1fr; min-height: 3; }
    CheckTable #check-detail { height: auto; max-height: 4; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._checks: list[CheckResult] = []

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(cursor_type="row", zebra_stripes=False)
        table.add_columns("", "check", "detail")
        yield table
        yield Static("", id="check-detail")

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one(DataTable)

    def show(self, checks: list[CheckResult]) -> None:
        if checks == self._checks:
            return
        self._checks = list(checks)
        table = self.table
        row = table.cursor_row
        table.clear()
        for c in checks:
            table.add_row(Text(MARK[c.status], style=COLOR[c.status]), c.name, c.detail)
        if checks:
            table.move_cursor(row=min(row, len(checks) - 1))
        self._detail(table.cursor_row)

    def counts(self) -> dict[CheckStatus, int]:
        out = {s: 0 for s in CheckStatus}
        for c in self._checks:
            out[c.status] += 1
        return out

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        detail = self.query_one("#check-detail", Static)
        if not self._checks or not 0 <= row < len(self._checks):
            detail.update("")
            return
        c = self._checks[row]
        parts = []
        if c.why:
            parts.append(f"why: {escape(c.why)}")
        if c.fix and c.status is not CheckStatus.PASS:
            parts.append(f"fix: {escape(c.fix)}")
        detail.update("\n".join(parts))
