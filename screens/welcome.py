"""Welcome & plan: which plan, which cluster, where this host sits (connected, disconnected, both), and where
things stand according to the journal (resume after a crash or a dropped SSH session)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.cluster import condition, current_version
from engine.context import Context
from engine.errors import AirgapError
from engine.events import Emitter, Level
from engine.plan import Plan, is_host_port
from screens.base import PlanValidator, StepScreen
from screens.steps import BY_ID, WHERE_MODES
from tui.i18n import N_, _

WHERE_TEXT = {
    "both": N_("internet and mirror (direct)"),
    "connected": N_("connected side (writes media)"),
    "disconnected": N_("disconnected side (reads media)"),
}
WHERE_CYCLE = ("both", "connected", "disconnected")


def is_absolute_path(value: str) -> bool:
    """The documented procedure gives the removable media as an absolute path (REMOVABLE_MEDIA_PATH)."""
    return os.path.isabs(os.path.expanduser(value))


MEDIA_EXPECTED = N_("expected an absolute path, e.g. /mnt/media")


def resume_lines(app_states: dict[str, str], journal_summary: list[str]) -> list[str]:
    done = [_(BY_ID[s].title) for s, st in app_states.items() if st == "done" and s != "welcome"]
    running = [_(BY_ID[s].title) for s, st in app_states.items() if st == "running"]
    failed = [_(BY_ID[s].title) for s, st in app_states.items() if st == "failed"]
    lines = []
    if not done and not running and not failed and not journal_summary:
        return [_("Nothing recorded for this cluster yet: a fresh start.")]
    if done:
        lines.append(_("Done: {steps}.").format(steps=", ".join(done)))
    if running:
        lines.append(_("In progress: {steps}.").format(steps=", ".join(running)))
    if failed:
        lines.append(_("Failed last time: {steps}.").format(steps=", ".join(failed)))
    lines.extend(journal_summary)
    return lines


class WelcomeScreen(StepScreen):
    STEP = "welcome"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Continue"),
        Binding("h", "cycle_where", "Host"),
        Binding("s", "save_plan", "Save plan"),
        Binding("n", "primary", "Next", show=False),
        Binding("escape", "app.go_back", "Back", show=False),
    ]
    DEFAULT_CSS = """
    WelcomeScreen #status { height: auto; max-height: 5; color: $text; }
    WelcomeScreen #where { height: 1; }
    WelcomeScreen #cluster { height: auto; max-height: 2; color: $text-muted; }
    WelcomeScreen #field-error { display: none; }
    WelcomeScreen #field-error.-shown { display: block; }
    """

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield self.field(_("Plan file"), "plan-path", self._plan_path_text())
        yield self.field(_("Kubeconfig"), "kubeconfig", plan.cluster.kubeconfig)
        yield self.field(
            _("Mirror"),
            "registry",
            plan.mirror.registry,
            PlanValidator(is_host_port, N_("expected host or host:port")),
        )
        yield self.field(
            _("Media path"),
            "media-path",
            plan.mirroring.media_path,
            PlanValidator(is_absolute_path, MEDIA_EXPECTED),
            placeholder=_("absolute path, for removable media"),
        )
        yield Static("", id="where")
        yield Static("", id="cluster")
        yield Static("", classes="field-error", id="field-error")
        yield Static("", id="status")

    def _plan_path_text(self) -> str:
        path = self.wizard.plan.source_path
        if not path:
            return ""
        p = Path(path)
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            return str(p)

    def on_mount(self) -> None:
        super().on_mount()
        self.cluster_facts = ""
        self.show_where()
        self.show_status()
        self.read_cluster()

    def read_cluster(self) -> None:
        """Read the cluster's version, channel and update state in a thread (never in snapshots)."""
        if not self.wizard.live or self.wizard.journal is None:
            return
        plan = self.wizard.plan

        def work() -> None:
            ctx = Context(plan, Emitter("welcome"))
            try:
                cv = ctx.cluster.cluster_version()
            except AirgapError as exc:
                self.app.call_from_thread(
                    self.show_cluster_facts, _("not reachable: {why}").format(why=exc.message), []
                )
                return
            spec, status = cv.get("spec") or {}, cv.get("status") or {}
            facts = _("runs {version} (channel {channel})").format(
                version=current_version(cv) or "?", channel=spec.get("channel") or _("none")
            )
            notes = []
            prog = condition(cv, "Progressing") or {}
            if prog.get("status") == "True":
                desired = (status.get("desired") or {}).get("version") or "?"
                notes.append(
                    _("Update to {version} in progress: {message}").format(
                        version=desired, message=prog.get("message", "")
                    )
                )
            self.app.call_from_thread(self.show_cluster_facts, facts, notes)

        self.run_worker(work, thread=True, exclusive=True, group="welcome-cluster", exit_on_error=False)

    def show_cluster_facts(self, facts: str, notes: list[str]) -> None:
        self.cluster_facts = facts
        self.wizard.status_notes = notes
        if self.is_mounted:
            self.show_status()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_status()

    def show_where(self) -> None:
        where = self.wizard.where
        self.query_one("#where", Static).update(
            _("This host: {where}  (h changes)").format(where=f"[b]{escape(_(WHERE_TEXT[where]))}[/b]")
        )

    def show_status(self) -> None:
        plan = self.wizard.plan
        journal = self.wizard.journal
        cluster = journal.cluster if journal is not None else _("(no cluster: kubeconfig not found)")
        target = plan.release.version or _("(not chosen yet)")
        facts = getattr(self, "cluster_facts", "")
        self.query_one("#cluster", Static).update(
            escape(
                _("Cluster: {cluster}{facts}   Target: {target}").format(
                    cluster=cluster, facts=" " + facts if facts else "", target=target
                )
            )
        )
        lines = resume_lines(self.wizard.step_states(), self.wizard.resume_notes())
        self.query_one("#status", Static).update("\n".join(escape(line) for line in lines))
        self.update_next()

    def primary_hint(self) -> str:
        nxt = self.wizard.current_position()
        if not self.wizard.plan.source_path:
            return _("fill in the plan file name, then press s to save it (or r to continue without saving)")
        return _("press r to continue with {step}").format(step=_(BY_ID[nxt].title))

    def update_next(self) -> None:
        self.set_next(self.primary_hint())

    # ----- inputs ---------------------------------------------------------------------------------------
    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
            error.add_class("-shown")
            return
        error.update("")
        error.remove_class("-shown")
        plan = self.wizard.plan
        value = event.value.strip()
        if event.input.id == "kubeconfig":
            plan.cluster.kubeconfig = value
        elif event.input.id == "registry":
            plan.mirror.registry = value
        elif event.input.id == "media-path":
            plan.mirroring.media_path = value

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "plan-path" and event.value.strip():
            self.load_plan(event.value.strip())
        elif event.input.id == "kubeconfig":
            self.wizard.reopen_journal()
            self.show_status()
        self.set_focus(None)

    def load_plan(self, path: str) -> None:
        p = Path(os.path.expanduser(path))
        if not p.exists():
            self.run.add_line(
                _("{path} does not exist yet: press s to save the current choices there.").format(path=path)
            )
            self.sync()
            return
        try:
            plan = Plan.load(p)
        except AirgapError as exc:
            self.wizard.show_error(self.STEP, exc)
            return
        self.wizard.replace_plan(plan)
        self.run.add_line(_("Loaded plan {path}.").format(path=path))
        for inp_id, value in (
            ("kubeconfig", plan.cluster.kubeconfig),
            ("registry", plan.mirror.registry),
            ("media-path", plan.mirroring.media_path),
        ):
            self.query_one(f"#{inp_id}", Input).value = value
        self.show_where()
        self.show_status()
        self.refresh_state()

    # ----- actions --------------------------------------------------------------------------------------
    def action_cycle_where(self) -> None:
        where = WHERE_CYCLE[(WHERE_CYCLE.index(self.wizard.where) + 1) % len(WHERE_CYCLE)]
        self.wizard.plan.mirroring.mode = WHERE_MODES[where]
        self.show_where()
        self.refresh_state()
        self.show_status()

    def action_save_plan(self) -> None:
        path = self.query_one("#plan-path", Input).value.strip()
        if not path:
            self.notify(_("Type a file name for the plan first (e.g. plan.yaml)."), severity="warning")
            return
        plan = self.wizard.plan
        problems = plan.problems()
        if problems:
            dotted, what = problems[0]
            self.wizard.show_error(
                self.STEP,
                AirgapError(
                    f"{dotted}: {what}",
                    fix=_("Correct '{field}' before saving.").format(field=dotted),
                    title=_("Invalid plan"),
                ),
            )
            return
        try:
            plan.save(os.path.expanduser(path))
        except OSError as exc:
            self.notify(_("Cannot write {path}: {why}").format(path=path, why=exc.strerror), severity="error")
            return
        self.run.add_line(_("Saved the plan to {path}.").format(path=path), Level.INFO)
        self.refresh_state()
        self.show_status()

    def action_primary(self) -> None:
        typed = self.query_one("#media-path", Input).value.strip()
        media = typed or self.wizard.plan.mirroring.media_path
        if media and not is_absolute_path(media):
            self.notify(_(MEDIA_EXPECTED), title=_("Media path"), severity="error")
            return
        if self.wizard.plan.source_path:
            self.wizard.save_plan()
        self.wizard.reopen_journal()
        self.wizard.goto(self.wizard.current_position())
