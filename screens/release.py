"""Release selection: the path from the cluster's version to the target in the channel's update graph (with the
risks of conditional edges), the target's digest and facts; stored in the plan once chosen."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.context import Context
from engine.plan import is_semver
from engine.workflow import CONNECTED, role_of
from screens._engine import engine_module, unavailable_text
from screens.base import PlanValidator, StepScreen
from tui.widgets.modals import ConfirmModal

NEEDS = ("release", "select_release", "store_in_plan")


def _channel_ok(value: str) -> bool:
    import re

    return bool(re.match(r"^(candidate|fast|stable|eus)-\d+\.\d+$", value))


class ReleaseScreen(StepScreen):
    STEP = "release"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Choose"),
    ]
    DEFAULT_CSS = """
    ReleaseScreen #path { height: auto; max-height: 6; }
    """

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield self.field(
            "Target",
            "version",
            plan.release.target or plan.release.version,
            PlanValidator(is_semver, "expected a version such as 4.17.3"),
        )
        if role_of(plan) == CONNECTED:  # no cluster here: its version comes from the admin
            yield self.field(
                "Current",
                "current",
                "",
                PlanValidator(is_semver, "expected the cluster's version, e.g. 4.16.18"),
                placeholder="the cluster's version (oc get clusterversion)",
            )
        yield self.field(
            "Channel",
            "channel",
            plan.release.channel,
            PlanValidator(_channel_ok, "expected e.g. stable-4.17"),
        )
        yield self.field("Graph file", "graph-file", "", placeholder="(empty: fetch the graph)")
        yield Static("", classes="field-error", id="field-error")
        yield Static("", id="path")

    def on_mount(self) -> None:
        super().on_mount()
        if engine_module(*NEEDS) is None:
            self.query_one("#path", Static).update(escape(unavailable_text(*NEEDS)))
        elif self.wizard.plan.release.digest:
            self.query_one("#path", Static).update(
                escape(
                    f"In the plan: {self.wizard.plan.release.version} at {self.wizard.plan.release.digest}"
                )
            )

    def primary_hint(self) -> str:
        return "check target and channel, then press r to find the update path and the digest"

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
            return
        error.update("")
        plan = self.wizard.plan
        if (
            event.input.id == "version"
            and (plan.release.target or plan.release.version) != event.value.strip()
        ):
            plan.release.target = plan.release.version = event.value.strip()
            plan.release.digest = ""
        elif event.input.id == "channel":
            plan.release.channel = event.value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def action_primary(self) -> None:
        rel = engine_module(*NEEDS)
        if rel is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        graph_file = self.query_one("#graph-file", Input).value.strip()
        path = self.wizard.plan.resolve_path(graph_file) if graph_file else ""

        current = ""
        if role_of(self.wizard.plan) == CONNECTED:
            current = self.query_one("#current", Input).value.strip()
            if not is_semver(current):
                self.notify(
                    "This is the connected side: type the cluster's current version (Current).",
                    severity="error",
                )
                return

        def select(ctx: Context) -> Any:
            return rel.select_release(ctx, graph_file=path, current=current)

        self.start("Finding the update path and the release digest", select, self._selected)

    def _selected(self, selection: Any) -> None:
        choice = selection.choice
        chosen = choice.chosen
        lines = [f"Cluster: {selection.current} in {selection.channel}"]
        if chosen is not None:
            lines += ["Path: " + h.describe() for h in chosen.hops][:3]
        if selection.facts is not None:
            lines.append(f"Digest: {selection.facts.digest}")
        self.query_one("#path", Static).update(escape("\n".join(lines)))
        risks = chosen.risks if chosen is not None else []
        multi = chosen is not None and len(chosen.hops) > 1
        hop = chosen.hops[0].to if multi and chosen is not None else selection.target

        def store() -> None:
            rel = engine_module(*NEEDS)
            assert rel is not None

            def work(ctx: Context) -> Any:
                return rel.store_in_plan(ctx, selection, next_hop=multi)

            self.start("Storing the target in the plan", work, self._stored)

        # the whole path is shown and the admin is asked before the plan changes (a longer path stores the
        # next hop for this pass and keeps the final target)
        path_text = " -> ".join(chosen.versions) if chosen is not None else selection.target
        text = f"Path: {path_text}\nThis pass updates to {hop}; the plan keeps the target {selection.target}."
        if risks:
            text += "\n\nKnown risks:\n\n" + "\n\n".join(r.describe() for r in risks)
        self.wizard.accepted_risks = False

        def answered(yes: bool | None) -> None:
            if yes:
                self.wizard.accepted_risks = bool(risks)
                store()
            else:
                self.run.add_line("Nothing stored: the plan is unchanged. Choose another target if needed.")
                self.sync()

        title = "This update path has known risks" if risks else "Store this update path in the plan?"
        question = "Accept these risks and use this path?" if risks else "Store it?"
        self.app.push_screen(ConfirmModal(title, text, question), answered)

    def _stored(self, path: Any) -> None:
        plan = self.wizard.plan
        target = plan.release.target or plan.release.version
        self.query_one("#version", Input).value = target
        self.wizard.mark_step(self.STEP, "succeeded", f"target {target} at {plan.release.digest}")
        hop = "" if target == plan.release.version else f"; this pass: {plan.release.version}"
        self.run.add_line(f"The plan now targets {target}{hop} ({plan.release.digest}).")
        self.query_one("#path", Static).update(escape(f"In the plan: {target}{hop} at {plan.release.digest}"))
        self.refresh_state()
