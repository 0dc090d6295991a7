"""Update & monitor: start the update by digest from the mirror (previewed and confirmed, never forced), then
follow it live: progress, operators, pools, nodes. Started again while an update runs, it reattaches."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine.changes import Change, render_changes
from engine.context import Context
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen
from tui.widgets.modals import ConfirmModal

NEEDS = ("upgrade", "prepare_start", "start", "watch")


def snapshot_lines(snap: Any) -> list[str]:
    """A few lines about a watch snapshot: version, progress, operators, pools."""
    lines = []
    pct = snap.progress.percent
    head = snap.history_head
    state = "complete" if snap.complete else (f"{pct} %" if pct is not None else "in progress")
    lines.append(f"Update to {snap.target_version or snap.target}: {state}")
    if snap.operators:
        lines.append(f"Operators at target: {snap.operators_at_target} of {len(snap.operators)}")
    pools = ", ".join(f"{n} {p['updated']}/{p['machines']}" for n, p in sorted(snap.pools.items()))
    if pools:
        lines.append(f"Pools updated: {pools}")
    if head:
        lines.append(f"History: {head.get('state', '')} {head.get('version', '')}")
    return lines


class UpdateScreen(StepScreen):
    STEP = "upgrade"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Start update"),
        Binding("f", "follow", "Follow"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="target")
        yield Static("", id="state")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_target()
        self.maybe_reattach()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_target()
        self.maybe_reattach()

    def show_target(self) -> None:
        plan = self.wizard.plan
        if engine_module(*NEEDS) is None:
            self.query_one("#target", Static).update(escape(unavailable_text(*NEEDS)))
            return
        if len(plan.path_versions) > 1:
            text = f"Update path: {' -> '.join(plan.path_versions)} (hop by hop)"
        elif plan.release.digest and plan.mirror.registry:
            text = f"Target: {plan.release.version}\n  {plan.mirror_pullspec()}"
        else:
            text = "Target: not chosen yet (Release step)"
        self.query_one("#target", Static).update(escape(text))

    def maybe_reattach(self) -> None:
        """An update recorded as running (e.g. before a crash or a dropped SSH session): follow it again."""
        if not self.wizard.live or self.run.running or engine_module(*NEEDS) is None:
            return
        if self.wizard.recorded_status(self.STEP) == "running":
            self.run.add_line("An update is in progress: reattaching.")
            self.action_follow()

    def primary_hint(self) -> str:
        return "press r to check the prerequisites and preview the update"

    def update_next(self) -> None:
        if self.run.running and self.run.operation.startswith("Following"):
            self.set_next("following the update (quitting is safe: the update continues on the cluster)")
        elif self.wizard.recorded_status(self.STEP) == "succeeded":
            self.set_next("the update is complete: press n to resume the MachineHealthChecks")
        else:
            super().update_next()

    def action_primary(self) -> None:
        up = engine_module(*NEEDS)
        if up is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        accept = self.wizard.accepted_risks
        if len(self.wizard.plan.path_versions) > 1:
            self._run_path(accept)
            return

        def prepare(ctx: Context) -> Any:
            return up.prepare_start(ctx, accept_not_recommended=accept)

        def started(result: dict[str, Any]) -> None:
            if result.get("already"):
                self.run.add_line("The cluster is already updating to (or at) this release.")
            self.action_follow()

        self.prepare_then_apply(
            "start the update",
            prepare,
            lambda plan: list(plan.changes),
            up.start,
            started,
            confirm_title="Start the cluster update?",
        )

    def _run_path(self, accept: bool) -> None:
        """The whole update path (``ocp-airgap upgrade run-path``): the engine asks for each change from its
        worker thread; the question waits for the answer in the modal."""
        from engine.upgrade_path import run_path

        def ask(ctx: Context) -> Any:
            def confirm(question: str, changes: list[Change]) -> bool:
                answered = threading.Event()
                answer: list[bool] = []

                def show() -> None:
                    def done(yes: bool | None) -> None:
                        answer.append(bool(yes))
                        answered.set()

                    self.app.push_screen(ConfirmModal(question, render_changes(changes), "Apply?"), done)

                self.app.call_from_thread(show)
                while not answered.wait(0.1):
                    ctx.check_cancel()
                return answer[0]

            return run_path(ctx, confirm, accept_not_recommended=accept, interval=self.wizard.watch_interval)

        def finished(result: Any) -> None:
            self.query_one("#state", Static).update(
                escape(f"Update path {' -> '.join(result.path)} complete: the cluster is at {result.final}")
            )
            self.wizard.mark_step(self.STEP, "succeeded", f"update path to {result.final} completed")
            self.refresh_state()

        self.start("Updating along the path", ask, finished, changes_cluster=True)

    def action_follow(self) -> None:
        up = engine_module(*NEEDS)
        if up is None or not self.check_not_running():
            return

        def follow(ctx: Context) -> Any:
            return up.watch(ctx, interval=self.wizard.watch_interval)

        self.start("Following the update", follow, self._complete)

    def _complete(self, snap: Any) -> None:
        self.query_one("#state", Static).update(escape("\n".join(snapshot_lines(snap))))
        self.wizard.mark_step(self.STEP, "succeeded", f"update to {snap.target_version} completed")
        self.refresh_state()
