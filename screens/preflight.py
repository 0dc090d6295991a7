"""Preflight: every documented prerequisite checked against the cluster, the mirror registry and this host,
each with pass/warn/fail, why it matters and the fix. Nothing is changed on the cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from engine import fixes, preflight
from engine.changes import render_changes
from engine.context import Context
from engine.events import CheckResult, CheckStatus, StepResult
from screens.base import PlanValidator, StepScreen
from tui.i18n import N_, _, ngettext
from tui.widgets.checks import CheckTable
from tui.widgets.modals import ConfirmModal

FIXABLE_CHECKS = frozenset({"PodDisruptionBudgets", "CloudCredential", "MachineConfigPools"})
"""The checks :func:`engine.fixes.available_fixes` can answer (``Fix.check``)."""


def parse_when(value: str) -> datetime | None:
    """'2025-03-14 08:00' / '2025-03-14T08:00:00+00:00' → an aware datetime (UTC when no zone is given)."""
    text = value.strip()
    if not text:
        return None
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _valid_when(value: str) -> bool:
    try:
        parse_when(value)
    except ValueError:
        return False
    return True


def counts_text(passed: int, warned: int, failed: int) -> str:
    return ", ".join(
        [
            ngettext("{n} passed", "{n} passed", passed).format(n=passed),
            ngettext("{n} warning", "{n} warnings", warned).format(n=warned),
            ngettext("{n} failed", "{n} failed", failed).format(n=failed),
        ]
    )


class PreflightScreen(StepScreen):
    STEP = "preflight"
    DEFAULT_CSS = """
    PreflightScreen CommandPane { max-height: 4; }
    PreflightScreen StepLog { height: 3; min-height: 3; }
    PreflightScreen #counts { height: auto; max-height: 2; }
    PreflightScreen #counts.-empty { display: none; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Run checks"),
        Binding("x", "fix", "Fix"),
        Binding("a", "accept", "Accept"),
        Binding("up", "row(-1)", "Previous check", show=False),
        Binding("down", "row(1)", "Next check", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield self.field(
            _("etcd backup"),
            "etcd-backup",
            "",
            PlanValidator(_valid_when, N_("expected a date and time, e.g. 2025-03-14 08:00 (UTC)")),
            placeholder=_("when was it taken? e.g. 2025-03-14 08:00"),
        )
        yield Static("", classes="field-error -empty", id="field-error")
        yield Static("", id="counts", classes="-empty")

    def compose_results(self) -> ComposeResult:
        yield CheckTable(id="checks", fixable=lambda c: c.name in FIXABLE_CHECKS)

    @property
    def check_table(self) -> CheckTable:
        return self.query_one(CheckTable)

    @on(Input.Changed, "#etcd-backup")
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
            error.remove_class("-empty")
        else:
            error.update("")
            error.add_class("-empty")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def action_row(self, delta: int) -> None:
        """Arrows move in the table at once, whatever has the focus (a field keeps its own arrows)."""
        table = self.check_table.table
        if isinstance(self.focused, Input | DataTable) or table.row_count == 0:
            return
        table.focus()
        table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)), scroll=True)

    def primary_hint(self) -> str:
        if self.run.check_list():
            return _("warnings: read why/fix (arrows); x applies an offered fix; n goes on")
        return _("state when the last etcd backup was taken (Tab), then press r to run the checks")

    def update_next(self) -> None:
        counts = self.check_table.counts()
        if (
            not self.run.running
            and counts[CheckStatus.FAIL]
            and self.wizard.recorded_status(self.STEP) != "succeeded"
        ):
            self.set_next(_("x fixes it, r checks again, a accepts the failure"))
        else:
            super().update_next()

    def action_primary(self) -> None:
        if not self.check_not_running():
            return
        try:
            stated = parse_when(self.query_one("#etcd-backup", Input).value)
        except ValueError:
            self.notify(_("The etcd backup time is not a date and time."), severity="error")
            return
        now = self.wizard.clock()

        def work(ctx: Context) -> list[CheckResult]:
            return preflight.run_preflight(ctx, preflight.PreflightOptions(etcd_backup_at=stated, now=now))

        self.start(_("Running the preflight checks"), work, self.show_results)

    def show_results(self, results: list[CheckResult]) -> None:
        """The checks have run: counts, the first failure (else warning) selected with its detail, the table
        focused so arrows move in it at once."""
        self.sync()
        passed = sum(r.status == CheckStatus.PASS for r in results)
        warned = sum(r.status == CheckStatus.WARN for r in results)
        failed = [r for r in results if r.status == CheckStatus.FAIL]
        counts = self.query_one("#counts", Static)
        counts.update(f"[b]{escape(counts_text(passed, warned, len(failed)))}[/b]")
        counts.remove_class("-empty")
        table = self.check_table
        table.select(table.first_problem())
        if not isinstance(self.focused, Input):
            table.table.focus()
        if failed:
            self.wizard.mark_step(
                self.STEP, "failed", f"{len(failed)} failed: " + ", ".join(r.name for r in failed)
            )
        else:
            self.wizard.mark_step(self.STEP, "succeeded", f"{passed} passed, {warned} warnings")
        self.refresh_state()

    def action_fix(self) -> None:
        """Apply the fix ocp-airgap offers for a blocking finding (e.g. relax a PodDisruptionBudget that allows no
        disruption) — the selected check's first — after showing the change; then run the checks again."""
        if not self.check_not_running():
            return
        self.start(_("Looking for fixes"), fixes.available_fixes, self._offer_fix)

    def _offer_fix(self, found: list[fixes.Fix]) -> None:
        if not found:
            self.run.add_line(
                _("No fix is needed (or none can be made by ocp-airgap): see fix: under the table.")
            )
            self.sync()
            return
        selected = self.check_table.selected()
        mine = fixes.fixes_for_check(selected.name, found) if selected is not None else []
        fix = (mine or found)[0]
        parts = [fix.why, _("Seen: {detail}").format(detail=fix.detail), "", render_changes(fix.changes)]
        if fix.restore_note:
            parts += ["", fix.restore_note]
        if len(found) > 1:
            parts += ["", _("{n} more fix(es) after this one: press x again.").format(n=len(found) - 1)]
        question = _("Apply this fix?")
        if fix.acknowledgement:
            # the statement the admin makes stays above the keys, never below the fold
            question = _("By pressing y you state: {statement}").format(statement=fix.acknowledgement)

        def answered(yes: bool | None) -> None:
            if not yes:
                self.run.add_line(_("Fix not applied."))
                self.sync()
                return

            def apply(ctx: Context) -> StepResult:
                return fixes.apply_fix(ctx, fix.id, acknowledge=bool(fix.acknowledgement))

            self.start(
                _("Applying: {title}").format(title=fix.title),
                apply,
                lambda _result: self.action_primary(),
                changes_cluster=True,
            )

        self.app.push_screen(ConfirmModal(fix.title, "\n".join(parts), question), answered)

    def action_accept(self) -> None:
        failed = [c for c in self.run.check_list() if c.status == CheckStatus.FAIL]
        if not failed:
            self.notify(_("No failed check to accept."))
            return
        text = "\n".join(f"- {c.name}: {c.detail}" for c in failed)

        def answered(yes: bool | None) -> None:
            if not yes:
                return

            def record(ctx: Context) -> None:
                from engine.preflight import accept_failures

                accept_failures(ctx, [c.name for c in failed], reason="accepted in the wizard")

            def recorded(_result: None) -> None:
                self.wizard.mark_step(
                    self.STEP, "succeeded", f"{len(failed)} failed check(s) accepted by the admin"
                )
                self.refresh_state()

            self.start(_("Recording the decision"), record, recorded)

        self.app.push_screen(
            ConfirmModal(
                _("Continue despite failed checks?"),
                text
                + "\n\n"
                + _(
                    "The documented procedure expects these to be fixed first. Your decision is recorded "
                    "in the journal."
                ),
                _("Accept and continue?"),
                yes_label=_("accept"),
            ),
            answered,
        )
