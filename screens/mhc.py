"""MachineHealthChecks: pause them all before the update (recording exactly which ones this tool paused), and
resume exactly those afterwards, with the summary of the whole update."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine.context import Context
from engine.events import Level
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen

NEEDS = ("mhc", "prepare_pause", "pause", "prepare_resume", "resume", "status", "record_skip")


class MhcPauseScreen(StepScreen):
    STEP = "mhc-pause"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Pause MHCs"),
        Binding("k", "skip_pause", "Skip (risky)", show=False),
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
        mhc = engine_module(*NEEDS)
        if mhc is None:
            self.query_one("#mhcs", Static).update(escape(unavailable_text(*NEEDS)))
            return
        if self.run.running or not self.wizard.live:
            return
        self.start("Reading the MachineHealthChecks", mhc.status, self._show_status)

    def _show_status(self, statuses: list[Any]) -> None:
        if not statuses:
            self.query_one("#mhcs", Static).update(
                "No MachineHealthCheck in openshift-machine-api (none at all on a cluster without the Machine API)."
            )
            return
        lines = []
        for s in statuses:
            lines.append(f"{s.name}: {s.who}")
        self.query_one("#mhcs", Static).update(escape("\n".join(lines[:6])))

    def primary_hint(self) -> str:
        return "press r to preview pausing every MachineHealthCheck"

    def action_primary(self) -> None:
        mhc = engine_module(*NEEDS)
        if mhc is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        self.prepare_then_apply(
            "pause the MachineHealthChecks",
            mhc.prepare_pause,
            lambda plan: list(plan.changes),
            mhc.pause,
            self._done,
            confirm_title="Pause these MachineHealthChecks for the update?",
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
            f"Paused now: {len(paused)}; held paused by ocp-airgap: {', '.join(held) or 'none'}."
        )
        self.wizard.mark_step(self.STEP, "succeeded", f"paused {len(paused)} MachineHealthCheck(s)")
        self.load_status()
        self.refresh_state()

    def action_skip_pause(self) -> None:
        mhc = engine_module(*NEEDS)
        if mhc is None or not self.check_not_running():
            return
        from tui.widgets.modals import ConfirmModal

        def answered(yes: bool | None) -> None:
            if not yes:
                return

            def skip(ctx: Context) -> None:
                mhc.record_skip(ctx, "chosen in the wizard")

            def done(_: None) -> None:
                self.wizard.mark_step(self.STEP, "skipped", "update without pausing MachineHealthChecks")
                self.refresh_state()

            self.start("Recording the decision not to pause", skip, done)

        self.app.push_screen(
            ConfirmModal(
                "Update without pausing the MachineHealthChecks?",
                "The documented procedure pauses every MHC: while nodes reboot an MHC may judge them unhealthy "
                "and replace their machines. Skipping is recorded in the journal as your decision.",
                "Skip the pause?",
            ),
            answered,
        )


class MhcResumeScreen(StepScreen):
    STEP = "mhc-resume"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Resume MHCs"),
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
            lines.append("No journal: nothing was recorded on a cluster from this host.")
        else:
            mhc = engine_module("mhc", "paused_by_tool")
            held = mhc.paused_by_tool(journal) if mhc else []
            lines.append("Paused by ocp-airgap: " + (", ".join(r.rsplit("/", 1)[-1] for r in held) or "none"))
            lines.append(f"Changes recorded: {len(journal.changes())}")
            lines.extend(self._later_lines(journal))
        lines.append("w writes runbook.sh and change-record.md next to the plan.")
        self.query_one("#summary", Static).update(escape("\n".join(lines)))

    def _later_lines(self, journal: Any) -> list[str]:
        """What remains after this update: budgets to restore, further updates on a multi-hop path."""
        lines: list[str] = []
        fixes = engine_module("fixes", "relaxed_pdbs")
        relaxed = fixes.relaxed_pdbs(journal) if fixes else {}
        if relaxed:
            names = ", ".join(r.rsplit("/", 1)[-1] for r in sorted(relaxed))
            lines.append(f"Relaxed by ocp-airgap: {names}; afterwards: ocp-airgap fix restore --plan P")
        target = journal.decision("release", "target") or {}
        path = [str(v) for v in target.get("path") or []]
        version = str(target.get("version") or self.wizard.plan.release.version)
        if version in path and path[-1] != version:
            rest = path[path.index(version) + 1 :]
            lines.append(
                f"This update goes to {version}; {path[-1]} needs {len(rest)} more: "
                + " -> ".join(rest)
                + "."
            )
            lines.append(f"For the next one, run the steps again from Release with the target {path[-1]}.")
        return lines

    def primary_hint(self) -> str:
        return "press r to resume the MachineHealthChecks this tool paused"

    def action_primary(self) -> None:
        mhc = engine_module(*NEEDS)
        if mhc is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        self.prepare_then_apply(
            "resume the MachineHealthChecks",
            mhc.prepare_resume,
            lambda plan: list(plan.changes),
            mhc.resume,
            self._done,
            confirm_title="Resume the MachineHealthChecks this tool paused?",
        )

    def _done(self, result: dict[str, Any]) -> None:
        resumed = result.get("resumed", [])
        self.run.add_line(f"Resumed: {', '.join(resumed) or 'none'}.", Level.INFO)
        for res, why in (result.get("left_alone") or {}).items():
            self.run.add_line(f"Left alone: {res} ({why}).")
        self.wizard.mark_step(self.STEP, "succeeded", f"resumed {len(resumed)} MachineHealthCheck(s)")
        self.show_summary()
        self.refresh_state()
        self.set_next("all done: press w for the runbook and change record, ctrl+q to quit")

    def update_next(self) -> None:
        if self.wizard.step_states().get(self.STEP) == "done":
            self.set_next("all done: press w for the runbook and change record, ctrl+q to quit")
        else:
            super().update_next()
