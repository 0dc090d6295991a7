"""Mirroring: the release image and every component, direct to the mirror registry, onto removable media, or
from the media into the registry. A dry run always comes first and its numbers are shown before the copy."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import mirror
from engine.context import Context
from engine.errors import AirgapError
from engine.mirror.path import mirror_plan
from engine.mirror.request import MirrorRequest, verify_request
from engine.util import format_bytes, format_duration
from screens.base import PlanValidator, StepScreen
from screens.welcome import MEDIA_EXPECTED, is_absolute_path
from tui.i18n import N_, _
from tui.widgets.modals import ConfirmModal

MODE_TEXT = {
    "direct": N_("direct: source registry -> mirror registry"),
    "to-media": N_("to media: source registry -> removable media"),
    "from-media": N_("from media: removable media -> mirror registry"),
}


def summary_lines(summary: Any) -> list[str]:
    if hasattr(summary, "versions"):  # the whole update path (engine.mirror.path)
        d = summary.to_dict()
        hops = d["hops"]
        total = sum(int(h.get("bytes_needed" if d["dry_run"] else "bytes_copied", 0) or 0) for h in hops)
        lines = [
            f"Path {' -> '.join(d['path'])}: {len(hops)} releases, "
            f"{'at most ' if d['dry_run'] else ''}{format_bytes(total)} {'to copy' if d['dry_run'] else 'copied'}"
        ]
        if not d["dry_run"] and d["stored_bytes"]:
            lines.append(
                f"Together {format_bytes(d['stored_bytes'])} (one by one {format_bytes(d['separate_bytes'])}; "
                f"saved {format_bytes(d['saved_bytes'])})"
            )
        return lines
    if isinstance(summary, dict):  # the oc / oc-mirror backends: what they report
        return [f"{k}: {v}" for k, v in summary.items() if isinstance(v, str | int | float) and v != ""][:6]
    d = summary.to_dict()
    copy = d["images_total"] - d["images_skipped"]
    head = (
        _("Would copy {n} of {total} images ({skipped} already there)")
        if d["dry_run"]
        else _("Copied {n} of {total} images ({skipped} already there)")
    )
    size = format_bytes(d["bytes_copied"] if not d["dry_run"] else d["bytes_needed"])
    lines = [
        head.format(n=copy, total=d["images_total"], skipped=d["images_skipped"]),
        _("Bytes: {size}").format(size=size)
        if d["dry_run"]
        else _("Bytes: {size} in {time}").format(size=size, time=format_duration(d["seconds"])),
    ]
    if d["verified"] is not None:
        lines.append(_("Verified by digest: yes") if d["verified"] else _("Verified by digest: NO"))
    return lines


class MirrorScreen(StepScreen):
    STEP = "mirror"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Dry run+mirror"),
        Binding("v", "verify", "Verify"),
    ]
    DEFAULT_CSS = """
    MirrorScreen #summary { height: auto; max-height: 3; }
    MirrorScreen #field-error.-empty { display: none; }
    """

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield Static("", id="mode")
        yield self.field(
            _("Media path"),
            "media-path",
            plan.mirroring.media_path,
            PlanValidator(is_absolute_path, MEDIA_EXPECTED),
            placeholder=_("absolute path, e.g. /mnt/media"),
        )
        yield Static("", classes="field-error -empty", id="field-error")
        yield Static("", id="summary")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_mode()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_mode()

    def show_mode(self) -> None:
        plan = self.wizard.plan
        mode = escape(
            _(MODE_TEXT[plan.mirroring.mode]) if plan.mirroring.mode in MODE_TEXT else plan.mirroring.mode
        )
        self.query_one("#mode", Static).update(
            _("Mode: {mode} (set on Welcome)").format(mode=f"[b]{mode}[/b]")
        )
        media_field = self.query_one("#media-path").parent
        if media_field is not None:
            media_field.display = plan.mirroring.mode != "direct"
        self.show_planned_commands()

    def primary_hint(self) -> str:
        return _("press r for a dry run; the copy starts only after you confirm its numbers")

    def update_next(self) -> None:
        if (
            self.wizard.recorded_status(self.STEP) == "succeeded"
            and self.wizard.plan.mirroring.mode == "to-media"
        ):
            self.set_next(_("media written: carry it to the disconnected host and run the wizard there"))
        else:
            super().update_next()

    @on(Input.Changed, "#media-path")
    def _media(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape(f"{event.value}: " + "; ".join(event.validation_result.failure_descriptions)))
            error.remove_class("-empty")
            return
        error.update("")
        error.add_class("-empty")
        self.wizard.plan.mirroring.media_path = event.value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def _request(self, *, dry_run: bool) -> MirrorRequest:
        """The same use case as 'ocp-airgap mirror': mode, media folder and backend from the plan."""
        return MirrorRequest.from_plan(self.wizard.plan, dry_run=dry_run)

    def action_primary(self) -> None:
        if not self.check_not_running() or self.check_blocked():
            return
        plan = self.wizard.plan
        if plan.mirroring.mode != "direct" and not is_absolute_path(plan.mirroring.media_path):
            self.notify(_(MEDIA_EXPECTED), title=_("Media path"), severity="error")
            return
        self.wizard.save_plan()
        try:
            dry = self._request(dry_run=True)
        except AirgapError as exc:
            self.notify(f"{exc.message} {exc.fix}", severity="error")
            return

        def dry_run(ctx: Context) -> Any:
            return mirror_plan(ctx, dry)

        self.start(_("Dry run of the mirroring"), dry_run, self._dry_run_done)

    def _dry_run_done(self, summary: Any) -> None:
        lines = summary_lines(summary)
        self.query_one("#summary", Static).update(escape("\n".join(lines)))
        d = summary if isinstance(summary, dict) else summary.to_dict()
        hops = d.get("hops") or [d]
        to_copy = sum(h.get("images_total", 1) - h.get("images_skipped", 0) for h in hops)
        request = self._request(dry_run=False)

        def copy(ctx: Context) -> Any:
            return mirror_plan(ctx, request)

        if to_copy == 0:
            self.run.add_line(_("Everything is already mirrored: verifying."))
            self.start(_("Mirroring (verify only)"), copy, self._done)
            return
        text = "\n".join(
            [
                *lines,
                _("Target: {target}").format(target=d.get("target", "")),
                "",
                _("Nothing is deleted; a second run skips what is there."),
            ]
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.start(_("Mirroring the release"), copy, self._done)
            else:
                self.run.add_line(_("Mirroring not started."))
                self.sync()

        self.app.push_screen(
            ConfirmModal(_("Mirror the release?"), text, _("Start copying?"), yes_label=_("copy")), answered
        )

    def _done(self, summary: Any) -> None:
        self.query_one("#summary", Static).update(escape("\n".join(summary_lines(summary))))
        d = summary if isinstance(summary, dict) else summary.to_dict()
        for name, path in (d.get("files") or {}).items():
            self.run.add_line(_("wrote {name}: {path}").format(name=name, path=path))
        if d.get("failures"):
            self.wizard.mark_step(self.STEP, "failed", "; ".join(d["failures"])[:200])
        else:
            self.wizard.mark_step(
                self.STEP, "succeeded", f"{d.get('images_total', '')} images in {d.get('target', '')}"
            )
        self.refresh_state()

    def action_verify(self) -> None:
        if not self.check_not_running():
            return
        try:
            request = self._request(dry_run=False)
        except AirgapError as exc:
            self.notify(f"{exc.message} {exc.fix}", severity="error")
            return

        def verify(ctx: Context) -> mirror.VerifyReport:
            report: mirror.VerifyReport = verify_request(ctx, request)
            return report

        def verified(report: mirror.VerifyReport) -> None:
            problems = list(mirror.iter_problems(report))
            if problems:
                for p in problems[:50]:
                    self.run.add_line(p)
                self.notify(_("{n} problem(s) found; see the log.").format(n=len(problems)), severity="error")
            else:
                self.run.add_line(_("Verified: every manifest and blob is there by digest."))
            self.sync()

        self.start(_("Verifying the mirror"), verify, verified)
