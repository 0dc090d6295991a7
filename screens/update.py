"""Update & monitor: start the update by digest from the mirror (previewed and confirmed, never forced), then
follow it live: progress, operators, pools, nodes. Started again while an update runs, it reattaches."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine import upgrade
from engine.changes import Change, render_changes
from engine.context import Context
from engine.upgrade_path import choose_mode, chosen_mode, crosses_intermediate_minor
from engine.workflow import path_run
from screens.base import StepScreen
from screens.steps import update_path_cmds
from tui.i18n import _
from tui.widgets.modals import ConfirmModal


def snapshot_lines(snap: upgrade.Snapshot) -> list[str]:
    """A few lines about a watch snapshot: version, progress, operators, pools."""
    lines = []
    pct = snap.progress.percent
    head = snap.history_head
    state = _("complete") if snap.complete else (f"{pct} %" if pct is not None else _("in progress"))
    lines.append(
        _("Update to {version}: {state}").format(version=snap.target_version or snap.target, state=state)
    )
    if snap.operators:
        lines.append(
            _("Operators at target: {n} of {total}").format(
                n=snap.operators_at_target, total=len(snap.operators)
            )
        )
    pools = ", ".join(f"{n} {p['updated']}/{p['machines']}" for n, p in sorted(snap.pools.items()))
    if pools:
        lines.append(_("Pools updated: {pools}").format(pools=pools))
    if head:
        lines.append(
            _("History: {state} {version}").format(
                state=head.get("state", ""), version=head.get("version", "")
            )
        )
    return lines


def FOLLOWING() -> str:  # noqa: N802 - a message, looked up in the current language when used
    return _("Following the update")


class UpdateScreen(StepScreen):
    STEP = "upgrade"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Start update"),
        Binding("f", "follow", "Follow"),
        Binding("p", "mode", "Control plane only"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cpo = False
        """The mode chosen in this session when there is no journal to keep it."""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="target")
        yield Static("", id="mode")
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
        if len(plan.path_versions) > 1:
            text = _("Update path: {path} (hop by hop)").format(path=" -> ".join(plan.path_versions))
        elif plan.release.digest and plan.mirror.registry:
            text = (
                _("Target: {version}").format(version=plan.release.version) + f"\n  {plan.mirror_pullspec()}"
            )
        else:
            text = _("Target: not chosen yet (Release step)")
        self.query_one("#target", Static).update(escape(text))
        self.show_mode()

    # ----- the control-plane-only mode (EUS to EUS) ------------------------------------------------------
    def mode_offered(self) -> bool:
        """A path through an intermediate minor (e.g. 4.16 -> 4.17 -> 4.18): the worker pools may skip it."""
        return crosses_intermediate_minor(self.wizard.plan.path_versions)

    def control_plane_only(self) -> bool:
        """The mode of the next path run: an open path run keeps its own; else the admin's journaled choice."""
        journal = self.wizard.journal
        if journal is None:
            return self._cpo
        return chosen_mode(journal)

    def show_mode(self) -> None:
        mode = self.query_one("#mode", Static)
        mode.display = self.mode_offered()
        if not mode.display:
            return
        n = len(self.wizard.plan.path_versions)
        if self.control_plane_only():
            text = _(
                "Control plane only (p): ON - worker pools paused for the path: one worker reboot instead of {n}"
            ).format(n=n)
        else:
            text = _(
                "Control plane only (p): off - every pool updates at each hop: {n} worker reboots"
            ).format(n=n)
        mode.update(escape(text))

    def show_planned_commands(self) -> None:
        if not self.mode_offered():
            super().show_planned_commands()
            return
        if self.command_pane.count == 0:
            self.command_pane.display = True
            self.command_pane.show_planned(update_path_cmds(self.wizard.plan, self.control_plane_only()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mode":
            return self.is_mounted and self.mode_offered()
        return super().check_action(action, parameters)

    def action_mode(self) -> None:
        """p: choose (or leave) the control-plane-only mode; journaled, so a restarted wizard keeps it."""
        if not self.mode_offered() or not self.check_not_running():
            return
        journal = self.wizard.journal
        run = path_run(journal.records, "upgrade") if journal is not None else None
        if run is not None and run["status"] == "running" and run["path"] == self.wizard.plan.path_versions:
            self.notify(
                _("This path run began in control-plane-only mode: it continues in that mode.")
                if run["control_plane_only"]
                else _("This path run began with every pool updating at each hop: it continues that way."),
                severity="warning",
            )
            return
        value = not self.control_plane_only()
        self._cpo = value
        if journal is not None:
            choose_mode(journal, value, operator=self.wizard.operator)
        self.run.add_line(
            _("Control plane only: ON (worker pools paused for the whole path, unpaused at its end).")
            if value
            else _("Control plane only: off (every pool updates at each hop).")
        )
        self.show_mode()
        self.show_planned_commands()
        self.sync()

    def maybe_reattach(self) -> None:
        """An update recorded as running (e.g. before a crash or a dropped SSH session): follow it again."""
        if not self.wizard.live or self.run.running:
            return
        if self.wizard.recorded_status(self.STEP) != "running":
            return
        if self.path_run_open():
            # the path goes on where it stands: the engine records the hops done meanwhile, follows the hop under
            # way, and asks before each change still to make
            self.run.add_line(
                _("An update along the path {path} is in progress: reattaching.").format(
                    path=" -> ".join(self.wizard.plan.path_versions)
                )
            )
            self._run_path(self.wizard.accepted_risks)
            return
        self.run.add_line(_("An update is in progress: reattaching."))
        self.action_follow()

    def path_run_open(self) -> bool:
        """A run along the plan's path was started and has not finished (a crash, a closed terminal)."""
        journal = self.wizard.journal
        if journal is None or len(self.wizard.plan.path_versions) < 2:
            return False
        run = path_run(journal.records, self.STEP)
        return (
            run is not None and run["status"] == "running" and run["path"] == self.wizard.plan.path_versions
        )

    def primary_hint(self) -> str:
        return _("press r to check the prerequisites and preview the update")

    def update_next(self) -> None:
        following = self.run.last_operation == FOLLOWING()
        if self.run.running and following:
            self.set_next(
                _("following the update: quitting (ctrl+q) is safe, the update continues on the cluster")
            )
        elif self.wizard.recorded_status(self.STEP) == "succeeded":
            self.set_next(_("the update is complete: press n to resume the MachineHealthChecks"))
        elif self.run.outcome == "cancelled" and following:
            # the update itself goes on in the cluster: only the following stopped
            self.set_next(_("stopped following; the update goes on in the cluster: f follows it again"))
        else:
            super().update_next()

    def action_primary(self) -> None:
        up = upgrade
        if not self.check_not_running() or self.check_blocked():
            return
        accept = self.wizard.accepted_risks
        if len(self.wizard.plan.path_versions) > 1:
            self._run_path(accept)
            return

        def prepare(ctx: Context) -> upgrade.StartPlan:
            return up.prepare_start(ctx, accept_not_recommended=accept)

        def started(result: dict[str, Any]) -> None:
            if result.get("already"):
                self.run.add_line(_("The cluster is already updating to (or at) this release."))
            self.action_follow()

        self.prepare_then_apply(
            _("start the update"),
            prepare,
            lambda plan: list(plan.changes),
            up.start,
            started,
            confirm_title=_("Start the cluster update?"),
        )

    def _run_path(self, accept: bool) -> None:
        """The whole update path (``ocp-airgap upgrade run-path``): the engine asks for each change from its
        worker thread; the question waits for the answer in the modal."""
        from engine.upgrade_path import run_path

        cpo = self.control_plane_only()

        def ask(ctx: Context) -> Any:
            def confirm(question: str, changes: list[Change]) -> bool:
                answered = threading.Event()
                answer: list[bool] = []

                def show() -> None:
                    def done(yes: bool | None) -> None:
                        answer.append(bool(yes))
                        answered.set()

                    self.app.push_screen(ConfirmModal(question, render_changes(changes), _("Apply?")), done)

                self.app.call_from_thread(show)
                while not answered.wait(0.1):
                    ctx.check_cancel()
                return answer[0]

            return run_path(
                ctx,
                confirm,
                control_plane_only=cpo,
                accept_not_recommended=accept,
                interval=self.wizard.watch_interval,
            )

        def finished(result: Any) -> None:
            self.query_one("#state", Static).update(
                escape(
                    _("Update path {path} complete: the cluster is at {version}").format(
                        path=" -> ".join(result.path), version=result.final
                    )
                )
            )
            self.wizard.mark_step(self.STEP, "succeeded", f"update path to {result.final} completed")
            self.refresh_state()

        self.start(_("Updating along the path"), ask, finished, changes_cluster=True)

    def action_follow(self) -> None:
        if not self.check_not_running():
            return

        def follow(ctx: Context) -> upgrade.Snapshot:
            return upgrade.watch(ctx, interval=self.wizard.watch_interval)

        self.start(FOLLOWING(), follow, self._complete)

    def _complete(self, snap: upgrade.Snapshot) -> None:
        self.query_one("#state", Static).update(escape("\n".join(snapshot_lines(snap))))
        versions = self.wizard.plan.path_versions
        if len(versions) > 1 and snap.target_version in versions[:-1]:
            # one hop of the path is done, not the update: the MachineHealthChecks stay paused
            rest = versions[versions.index(snap.target_version) + 1 :]
            self.run.add_line(
                _(
                    "The update to {version} is complete; the path goes on to {rest}: press r to continue it."
                ).format(version=snap.target_version, rest=" -> ".join(rest))
            )
            self.refresh_state()
            return
        self.wizard.mark_step(self.STEP, "succeeded", f"update to {snap.target_version} completed")
        self.refresh_state()
