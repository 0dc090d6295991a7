"""Repository mirroring config: the ImageDigestMirrorSet (ImageContentSourcePolicy before 4.13) that makes the
cluster pull the release by digest from the mirror, diffed against what the cluster has, applied after
confirmation, then the MachineConfigPools followed while they roll it out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine import mirrorconfig
from engine.context import Context
from screens.base import StepScreen
from tui.i18n import _


class MirrorConfigScreen(StepScreen):
    STEP = "mirror-config"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Preview & apply"),
        Binding("g", "scope", "Scope"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scope = "repository"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="scope")
        yield Static("", id="kind")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_scope()

    def show_scope(self) -> None:
        text = {
            "repository": _("per repository (only the release repositories)"),
            "registry": _("whole registry (wider scope: fewer node restarts when repositories change)"),
        }[self.scope]
        self.query_one("#scope", Static).update(
            _("Scope: {scope}  (g changes)").format(scope=f"[b]{escape(text)}[/b]")
        )

    def action_scope(self) -> None:
        self.scope = "registry" if self.scope == "repository" else "repository"
        self.show_scope()

    def primary_hint(self) -> str:
        return _("press r to compare the mirror set with the cluster's and preview it")

    def action_primary(self) -> None:
        mc = mirrorconfig
        if not self.check_not_running() or self.check_blocked():
            return
        scope = self.scope

        def prepare(ctx: Context) -> mirrorconfig.MirrorConfigPlan:
            plan = mc.prepare(ctx, scope=scope)
            # the engine already logged why this kind (plan.why): only its notes are new here
            for note in plan.notes:
                ctx.emit.info(note)
            return plan

        def apply(ctx: Context, plan: mirrorconfig.MirrorConfigPlan) -> dict[str, Any]:
            data = mc.apply(ctx, plan)
            if data.get("applied", True) and data.get("pools"):
                data["rollout"] = mc.watch_rollout(
                    ctx, data["pools"], interval=self.wizard.watch_interval, settle=self.wizard.rollout_settle
                )
            return data

        self.prepare_then_apply(
            _("the repository mirroring config"),
            prepare,
            lambda plan: list(plan.changes),
            apply,
            self._done,
            confirm_title=_("Apply this mirror set to the cluster?"),
        )

    def _done(self, data: dict[str, Any]) -> None:
        kind = str(data.get("kind") or "ImageDigestMirrorSet")
        name = data.get("name", "")
        # the kind actually applied (IDMS from 4.13, ICSP before), with the command that shows it
        self.query_one("#kind", Static).update(
            escape(
                _("{kind} {name}: in place; see it with: oc get {resource} {name} -o yaml").format(
                    kind=kind, name=name, resource=kind.lower()
                )
            )
        )
        self.wizard.mark_step(self.STEP, "succeeded", f"{kind} {name} in place")
        self.refresh_state()
