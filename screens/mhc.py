"""MachineHealthChecks: pause them all before the update (recording exactly which ones this tool paused), and
resume exactly those afterwards, with the summary of the whole update."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine import fixes, mhc
from engine.context import Context
from engine.events import Level, StepResult
from engine.journal import Journal
from screens.base import StepScreen
from tui.i18n import _
from tui.widgets.modals import ConfirmModal


class MhcPauseScreen(StepScreen):
    STEP = "mhc-pause"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Pause MHCs"),
        Binding("k", "skip_pause", "Skip (risky)"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="mhcs")

    def on_mount(self) -> None:
        super().on_mount()
        self.load_status()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.load_status()

    def load_status(self) -> None:
        if self.run.running or not self.wizard.live:
            return
        self.start_read(_("Reading the MachineHealthChecks"), mhc.status, self._show_status)

    def _show_status(self, statuses: list[mhc.MhcStatus]) -> None:
        if not statuses:
            self.query_one("#mhcs", Static).update(_("No MachineHealthCheck in openshift-machine-api."))
            return
        lines = []
        for s in statuses:
            lines.append(f"{s.name}: {s.who}")
        self.query_one("#mhcs", Static).update(escape("\n".join(lines[:6])))

    def primary_hint(self) -> str:
        return _("press r to preview pausing every MachineHealthCheck (k skips the pause: risky)")

    def action_primary(self) -> None:
        if not self.check_not_running("primary") or self.check_blocked():
            return
        self.prepare_then_apply(
            _("pause the MachineHealthChecks"),
            mhc.prepare_pause,
            lambda plan: list(plan.changes),
            mhc.pause,
            self._done,
            confirm_title=_("Pause these MachineHealthChecks for the update?"),
        )

    def _done(self, result: dict[str, Any]) -> None:
        if result.get("not_applicable"):
            # no Machine API on this cluster: nothing to pause (journaled as skipped by the engine)
            self.run.add_line(f"MachineHealthChecks: {result['not_applicable']}.")
            self.wizard.mark_step(self.STEP, "skipped", str(result["not_applicable"]))
            self.refresh_state()
            return
        paused = result.get("paused", [])
        held = result.get("held", [])
        self.run.add_line(
            _("Paused now: {n}; held paused by ocp-airgap: {names}.").format(
                n=len(paused), names=", ".join(held) or _("none")
            )
        )
        self.wizard.mark_step(self.STEP, "succeeded", f"paused {len(paused)} MachineHealthCheck(s)")
        self.load_status()
        self.refresh_state()

    def action_skip_pause(self) -> None:
        if not self.check_not_running("skip_pause"):
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return

            def skip(ctx: Context) -> None:
                mhc.record_skip(ctx, "chosen in the wizard")

            def done(_: None) -> None:
                self.wizard.mark_step(self.STEP, "skipped", "update without pausing MachineHealthChecks")
                self.refresh_state()

            self.start(_("Recording the decision not to pause"), skip, done)

        self.app.push_screen(
            ConfirmModal(
                _("Update without pausing the MachineHealthChecks?"),
                _(
                    "The documented procedure pauses every MHC: while nodes reboot an MHC may judge them "
                    "unhealthy and replace their machines. Skipping is recorded in the journal as your decision."
                ),
                _("Skip the pause?"),
                yes_label=_("skip the pause"),
            ),
            answered,
        )


class MhcResumeScreen(StepScreen):
    STEP = "mhc-resume"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Resume MHCs"),
        Binding("b", "restore_budgets", "Restore budgets"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="summary")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_summary()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_summary()

    def show_summary(self) -> None:
        journal = self.wizard.journal
        lines = []
        if journal is None:
            lines.append(_("No journal: nothing was recorded on a cluster from this host."))
        else:
            held = mhc.paused_by_tool(journal)
            lines.append(
                _("Paused by ocp-airgap: {names}").format(
                    names=", ".join(r.rsplit("/", 1)[-1] for r in held) or _("none")
                )
            )
            lines.append(_("Changes recorded: {n}").format(n=len(journal.changes())))
            lines.extend(self._later_lines(journal))
        lines.append(_("w writes runbook.sh and change-record.md next to the plan."))
        self.query_one("#summary", Static).update(escape("\n".join(lines)))

    def _later_lines(self, journal: Journal) -> list[str]:
        """What remains after this update: budgets to restore, further updates on a multi-hop path."""
        lines: list[str] = []
        relaxed = fixes.relaxed_pdbs(journal)
        if relaxed:
            names = ", ".join(r.rsplit("/", 1)[-1] for r in sorted(relaxed))
            lines.append(
                _("Relaxed by ocp-airgap: {names}; b restores them after the update").format(names=names)
            )
        target = journal.decision("release", "target") or {}
        path = [str(v) for v in target.get("path") or []]
        version = str(target.get("version") or self.wizard.plan.release.version)
        if version in path and path[-1] != version:
            rest = path[path.index(version) + 1 :]
            lines.append(
                _("This update goes to {version}; {final} needs {n} more: {path}.").format(
                    version=version, final=path[-1], n=len(rest), path=" -> ".join(rest)
                )
            )
            lines.append(
                _("For the next one, run the steps again from Release with the target {final}.").format(
                    final=path[-1]
                )
            )
        return lines

    def primary_hint(self) -> str:
        return _("press r to resume the MachineHealthChecks this tool paused")

    def action_restore_budgets(self) -> None:
        """Put back the PodDisruptionBudgets a preflight fix relaxed (shown first, applied on y)."""
        if not self.check_not_running("restore_budgets"):
            return
        journal = self.wizard.journal
        if journal is None or not fixes.relaxed_pdbs(journal):
            self.notify(_("No budget was relaxed by ocp-airgap: nothing to restore."))
            return

        def apply(ctx: Context, plan: fixes.RestorePlan) -> StepResult:
            return fixes.restore_fixes(ctx, plan)

        def done(_result: StepResult) -> None:
            self.run.add_line(_("Budgets restored."))
            self.show_summary()
            self.refresh_state()

        self.prepare_then_apply(
            _("restore the relaxed PodDisruptionBudgets"),
            fixes.prepare_restore,
            lambda plan: list(plan.changes),
            apply,
            done,
            confirm_title=_("Put back the budgets ocp-airgap relaxed?"),
            apply_when_unchanged=True,
        )

    def action_primary(self) -> None:
        if not self.check_not_running("primary") or self.check_blocked():
            return
        self.prepare_then_apply(
            _("resume the MachineHealthChecks"),
            mhc.prepare_resume,
            lambda plan: list(plan.changes),
            mhc.resume,
            self._done,
            confirm_title=_("Resume the MachineHealthChecks this tool paused?"),
        )

    def _done(self, result: dict[str, Any]) -> None:
        resumed = result.get("resumed", [])
        self.run.add_line(_("Resumed: {names}.").format(names=", ".join(resumed) or _("none")), Level.INFO)
        # the MHCs left alone (paused by an administrator) are already in the log, from the engine
        self.wizard.mark_step(self.STEP, "succeeded", f"resumed {len(resumed)} MachineHealthCheck(s)")
        self.show_summary()
        self.refresh_state()
        self.update_next()

    def update_next(self) -> None:
        if self.run.running:
            super().update_next()
        elif self.wizard.step_states().get(self.STEP) == "done":
            journal = self.wizard.journal
            if journal is not None and fixes.relaxed_pdbs(journal):
                self.set_next(
                    _("all done: b restores the relaxed budgets; w writes the runbook; ctrl+q quits")
                )
            else:
                self.set_next(_("all done: press w for the runbook and change record, ctrl+q to quit"))
        else:
            super().update_next()
