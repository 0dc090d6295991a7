"""Repository mirroring config: the ImageDigestMirrorSet (ImageContentSourcePolicy before 4.13) that makes the
cluster pull the release by digest from the mirror, diffed against what the cluster has, applied after
confirmation, then the MachineConfigPools followed while they roll it out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine.context import Context
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen

NEEDS = ("mirrorconfig", "prepare", "apply", "watch_rollout")


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
        if engine_module(*NEEDS) is None:
            self.query_one("#kind", Static).update(escape(unavailable_text(*NEEDS)))

    def show_scope(self) -> None:
        text = {
            "repository": "per repository (only the release repositories)",
            "registry": "whole registry (wider scope: fewer node restarts when repositories change)",
        }[self.scope]
        self.query_one("#scope", Static).update(f"Scope: [b]{escape(text)}[/b]  (g changes)")

    def action_scope(self) -> None:
        self.scope = "registry" if self.scope == "repository" else "repository"
        self.show_scope()

    def primary_hint(self) -> str:
        return "press r to compare the mirror set with the cluster's and preview it"

    def action_primary(self) -> None:
        mc = engine_module(*NEEDS)
        if mc is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        scope = self.scope
        holder: dict[str, Any] = {}

        def prepare(ctx: Context) -> Any:
            plan = mc.prepare(ctx, scope=scope)
            ctx.emit.info(plan.why)
            for note in plan.notes:
                ctx.emit.info(note)
            return plan

        def apply(ctx: Context, plan: Any) -> Any:
            holder["kind"] = plan.kind.kind
            data = mc.apply(ctx, plan)
            if data.get("applied", True) and data.get("pools"):
                data["rollout"] = mc.watch_rollout(
                    ctx, data["pools"], interval=self.wizard.watch_interval, settle=self.wizard.rollout_settle
                )
            return data

        self.prepare_then_apply(
            "the repository mirroring config",
            prepare,
            lambda plan: list(plan.changes),
            apply,
            self._done,
            confirm_title="Apply this mirror set to the cluster?",
        )

    def _done(self, data: dict[str, Any]) -> None:
        kind = data.get("kind", "mirror set")
        name = data.get("name", "")
        self.query_one("#kind", Static).update(escape(f"{kind} {name}: in place"))
        self.wizard.mark_step(self.STEP, "succeeded", f"{kind} {name} in place")
        self.refresh_state()
