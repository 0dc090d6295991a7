"""Preflight: every documented prerequisite checked against the cluster, the mirror registry and this host,
each with pass/warn/fail, why it matters and the fix. Nothing is changed on the cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.context import Context
from engine.events import CheckStatus
from screens._engine import engine_module, unavailable_text
from screens.base import PlanValidator, StepScreen
from tui.widgets.checks import CheckTable
from tui.widgets.modals import ConfirmModal

NEEDS = ("preflight", "run_preflight")


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


class PreflightScreen(StepScreen):
    STEP = "preflight"
    DEFAULT_CSS = """
    PreflightScreen CommandPane { height: 3; }
    PreflightScreen StepLog { height: 3; min-height: 3; }
    PreflightScreen CheckTable { height: 1fr; min-height: 6; }
    PreflightScreen #counts { height: auto; max-height: 2; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Run checks"),
        Binding("x", "fix", "Fix"),
        Binding("a", "accept", "Accept failures", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield self.field(
            "etcd backup",
            "etcd-backup",
            "",
            PlanValidator(_valid_when, "expected a date and time, e.g. 2025-03-14 08:00 (UTC)"),
            placeholder="when was it taken? e.g. 2025-03-14 08:00",
        )
        yield Static("", classes="field-error", id="field-error")
        yield Static("", id="counts")

    def compose_results(self) -> ComposeResult:
        yield CheckTable(id="checks")

    def on_mount(self) -> None:
        super().on_mount()
        if engine_module(*NEEDS) is None:
            self.query_one("#counts", Static).update(escape(unavailable_text(*NEEDS)))

    @on(Input.Changed, "#etcd-backup")
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
        else:
            error.update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def primary_hint(self) -> str:
        if self.run.check_list():
            return "warnings: read why/fix (arrows); x applies an offered fix; n goes on"
        return "state when the last etcd backup was taken (Tab), then press r to run the checks"

    def update_next(self) -> None:
        counts = self.query_one(CheckTable).counts()
        if (
            not self.run.running
            and counts[CheckStatus.FAIL]
            and self.wizard.recorded_status(self.STEP) != "succeeded"
        ):
            self.set_next("x fixes it for you (or see fix:), then r; a accepts")
        else:
            super().update_next()

    def action_primary(self) -> None:
        pre = engine_module(*NEEDS)
        if pre is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running():
            return
        try:
            stated = parse_when(self.query_one("#etcd-backup", Input).value)
        except ValueError:
            self.notify("The etcd backup time is not a date and time.", severity="error")
            return
        now = self.wizard.clock()

        def work(ctx: Context) -> Any:
            return pre.run_preflight(ctx, pre.PreflightOptions(etcd_backup_at=stated, now=now))

        self.start("Running the preflight checks", work, self._done)

    def _done(self, results: list[Any]) -> None:
        self.sync()
        passed = sum(r.status == CheckStatus.PASS for r in results)
        warned = sum(r.status == CheckStatus.WARN for r in results)
        failed = [r for r in results if r.status == CheckStatus.FAIL]
        self.query_one("#counts", Static).update(
            f"{passed} passed, {warned} warnings, [b]{len(failed)} failed[/b]  (arrows: details below the table)"
        )
        if failed:
            self.wizard.mark_step(
                self.STEP, "failed", f"{len(failed)} failed: " + ", ".join(r.name for r in failed)
            )
        else:
            self.wizard.mark_step(self.STEP, "succeeded", f"{passed} passed, {warned} warnings")
        self.refresh_state()

    def action_fix(self) -> None:
        """Apply the fix ocp-airgap offers for a blocking finding (e.g. relax a PodDisruptionBudget that allows no
        disruption), after showing the change; then run the checks again."""
        fixes = engine_module("fixes", "available_fixes", "apply_fix")
        if fixes is None:
            self.notify(unavailable_text("fixes", "available_fixes", "apply_fix"), severity="error")
            return
        if not self.check_not_running():
            return
        self.start("Looking for fixes", fixes.available_fixes, self._offer_fix)

    def _offer_fix(self, found: list[Any]) -> None:
        if not found:
            self.run.add_line(
                "No fix is needed (or none can be made by ocp-airgap): see fix: under the table."
            )
            self.sync()
            return
        fix = found[0]
        from engine.changes import render_changes

        parts = [f"{fix.why}", f"Seen: {fix.detail}", "", render_changes(fix.changes)]
        if fix.restore_note:
            parts += ["", fix.restore_note]
        if fix.acknowledgement:
            parts += ["", f"By pressing y you state: {fix.acknowledgement}"]
        if len(found) > 1:
            parts += ["", f"{len(found) - 1} more fix(es) after this one: press x again."]
        fixes = engine_module("fixes", "apply_fix")
        assert fixes is not None

        def answered(yes: bool | None) -> None:
            if not yes:
                self.run.add_line("Fix not applied.")
                self.sync()
                return

            def apply(ctx: Context) -> Any:
                return fixes.apply_fix(ctx, fix.id, acknowledge=bool(fix.acknowledgement))

            self.start(f"Applying: {fix.title}", apply, lambda _: self.action_primary(), changes_cluster=True)

        self.app.push_screen(ConfirmModal(fix.title, "\n".join(parts), "Apply this fix?"), answered)

    def action_accept(self) -> None:
        failed = [c for c in self.run.check_list() if c.status == CheckStatus.FAIL]
        if not failed:
            self.notify("No failed check to accept.")
            return
        text = "\n".join(f"- {c.name}: {c.detail}" for c in failed)

        def answered(yes: bool | None) -> None:
            if not yes:
                return

            def record(ctx: Context) -> None:
                from engine.preflight import accept_failures

                accept_failures(ctx, [c.name for c in failed], reason="accepted in the wizard")

            def recorded(_: None) -> None:
                self.wizard.mark_step(
                    self.STEP, "succeeded", f"{len(failed)} failed check(s) accepted by the admin"
                )
                self.refresh_state()

            self.start("Recording the decision", record, recorded)

        self.app.push_screen(
            ConfirmModal(
                "Continue despite failed checks?",
                text
                + "\n\nThe documented procedure expects these to be fixed first. Your decision is recorded "
                "in the journal.",
                "Accept and continue?",
            ),
            answered,
        )
