"""Release selection: the path from the cluster's version to the target in the channel's update graph (with the
risks of conditional edges), the target's digest and facts; stored in the plan once chosen."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import release
from engine.context import Context
from engine.plan import is_semver
from engine.workflow import CONNECTED, role_of
from screens.base import PlanValidator, StepScreen
from tui.i18n import N_, _
from tui.widgets.modals import ConfirmModal


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
    ReleaseScreen #field-error.-empty { display: none; }
    """

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield self.field(
            _("Target"),
            "version",
            plan.release.target or plan.release.version,
            PlanValidator(is_semver, N_("expected a version such as 4.17.3")),
        )
        if role_of(plan) == CONNECTED:  # no cluster here: its version comes from the admin
            yield self.field(
                _("Current"),
                "current",
                "",
                PlanValidator(is_semver, N_("expected the cluster's version, e.g. 4.16.18")),
                placeholder=_("the cluster's version (oc get clusterversion)"),
            )
        yield self.field(
            _("Channel"),
            "channel",
            plan.release.channel,
            PlanValidator(_channel_ok, N_("expected e.g. stable-4.17")),
        )
        yield self.field(_("Graph file"), "graph-file", "", placeholder=_("(empty: fetch the graph)"))
        yield Static("", classes="field-error -empty", id="field-error")
        yield Static("", id="path")

    def on_mount(self) -> None:
        super().on_mount()
        plan = self.wizard.plan
        if plan.release.digest:
            self.query_one("#path", Static).update(
                escape(
                    _("In the plan: {version} at {digest}").format(
                        version=plan.release.version, digest=plan.release.digest
                    )
                )
            )

    def primary_hint(self) -> str:
        return _("check target and channel, then press r to find the update path and the digest")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            # the error names the value as typed, and the field keeps showing it
            error.update(
                escape(
                    f"{event.value}: " + "; ".join(event.validation_result.failure_descriptions)
                    if event.value.strip()
                    else "; ".join(event.validation_result.failure_descriptions)
                )
            )
            error.remove_class("-empty")
            return
        error.update("")
        error.add_class("-empty")
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
        if not self.check_not_running() or self.check_blocked():
            return
        graph_file = self.query_one("#graph-file", Input).value.strip()
        path = self.wizard.plan.resolve_path(graph_file) if graph_file else ""

        current = ""
        if role_of(self.wizard.plan) == CONNECTED:
            current = self.query_one("#current", Input).value.strip()
            if not is_semver(current):
                self.notify(
                    _("This is the connected side: type the cluster's current version (Current)."),
                    severity="error",
                )
                return

        def select(ctx: Context) -> release.ReleaseSelection:
            return release.select_release(ctx, graph_file=path, current=current)

        self.start(_("Finding the update path and the release digest"), select, self._selected)

    def _selected(self, selection: release.ReleaseSelection) -> None:
        choice = selection.choice
        chosen = choice.chosen
        lines = [
            _("Cluster: {version} in {channel}").format(version=selection.current, channel=selection.channel)
        ]
        if chosen is not None:
            lines += [_("Path: {hop}").format(hop=h.describe()) for h in chosen.hops][:3]
        if selection.facts is not None:
            lines.append(_("Digest: {digest}").format(digest=selection.facts.digest))
        self.query_one("#path", Static).update(escape("\n".join(lines)))
        risks = chosen.risks if chosen is not None else []
        multi = chosen is not None and len(chosen.hops) > 1

        def store() -> None:
            def work(ctx: Context) -> Path:
                # as 'ocp-airgap release --write-plan': the whole path (release.path) when it takes more than
                # one update, so one mirroring run and one media trip carry every release of it
                return release.store_in_plan(ctx, selection)

            self.start(_("Storing the target in the plan"), work, self._stored)

        # the whole path is shown and the admin is asked before the plan changes
        path_text = " -> ".join(chosen.versions) if chosen is not None else selection.target
        text = _("Path: {hop}").format(hop=path_text)
        if multi:
            text += "\n" + _(
                "The plan stores the whole path: one mirroring run carries every release of it, and the Update "
                "step updates hop by hop."
            )
        if risks:
            text += "\n\nKnown risks:\n\n" + "\n\n".join(r.describe() for r in risks)
        self.wizard.accepted_risks = False

        def answered(yes: bool | None) -> None:
            if yes:
                self.wizard.accepted_risks = bool(risks)
                store()
            else:
                self.run.add_line(
                    _("Nothing stored: the plan is unchanged. Choose another target if needed.")
                )
                self.sync()

        title = _("This update path has known risks") if risks else _("Store this update path in the plan?")
        question = _("Accept these risks and use this path?") if risks else _("Store it?")
        self.app.push_screen(
            ConfirmModal(title, text, question, yes_label=_("accept") if risks else _("store")), answered
        )

    def _stored(self, path: Path) -> None:
        plan = self.wizard.plan
        target = plan.release.target or plan.release.version
        self.query_one("#version", Input).value = target
        self.wizard.mark_step(self.STEP, "succeeded", f"target {target} at {plan.release.digest}")
        hop = "" if target == plan.release.version else f"; this pass: {plan.release.version}"
        self.run.add_line(f"The plan now targets {target}{hop} ({plan.release.digest}).")
        shown = f"In the plan: {target}{hop} at {plan.release.digest}"
        if len(plan.path_versions) > 1:
            shown += "\n" + _("Update path: {path} (hop by hop)").format(path=" -> ".join(plan.path_versions))
        self.query_one("#path", Static).update(escape(shown))
        self.refresh_state()
