"""Mirroring: the release image and every component, direct to the mirror registry, onto removable media, or
from the media into the registry. A dry run always comes first and its numbers are shown before the copy."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.context import Context
from engine.errors import AirgapError
from engine.mirror.path import mirror_plan
from engine.mirror.request import MirrorRequest, verify_request
from engine.util import format_bytes, format_duration
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen
from tui.widgets.modals import ConfirmModal

NEEDS = ("mirror", "mirror_release", "verify_mirror")
MODE_TEXT = {
    "direct": "direct: source registry -> mirror registry",
    "to-media": "to media: source registry -> removable media",
    "from-media": "from media: removable media -> mirror registry",
}


def summary_lines(summary: Any) -> list[str]:
    if hasattr(summary, "versions"):  # the whole update path (engine.mirror.path)
        d = summary.to_dict()
        hops = d["hops"]
        size = sum(int(h.get("bytes_needed" if d["dry_run"] else "bytes_copied", 0) or 0) for h in hops)
        lines = [
            f"Path {' -> '.join(d['path'])}: {len(hops)} releases, "
            f"{'at most ' if d['dry_run'] else ''}{format_bytes(size)} {'to copy' if d['dry_run'] else 'copied'}"
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
    lines = [
        f"{'Would copy' if d['dry_run'] else 'Copied'} {d['images_total'] - d['images_skipped']} of "
        f"{d['images_total']} images ({d['images_skipped']} already there)",
        f"Bytes: {format_bytes(d['bytes_copied'] if not d['dry_run'] else d['bytes_needed'])}"
        + (f" in {format_duration(d['seconds'])}" if not d["dry_run"] else ""),
    ]
    if d["verified"] is not None:
        lines.append("Verified by digest: " + ("yes" if d["verified"] else "NO"))
    return lines


class MirrorScreen(StepScreen):
    STEP = "mirror"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Dry run+mirror"),
        Binding("v", "verify", "Verify"),
    ]
    DEFAULT_CSS = """
    MirrorScreen #summary { height: auto; max-height: 3; }
    """

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield Static("", id="mode")
        yield self.field("Media path", "media-path", plan.mirroring.media_path)
        yield Static("", id="summary")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_mode()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_mode()

    def show_mode(self) -> None:
        plan = self.wizard.plan
        self.query_one("#mode", Static).update(
            f"Mode: [b]{escape(MODE_TEXT.get(plan.mirroring.mode, plan.mirroring.mode))}[/b] (set on Welcome)"
        )
        media_field = self.query_one("#media-path").parent
        if media_field is not None:
            media_field.display = plan.mirroring.mode != "direct"
        if engine_module(*NEEDS) is None:
            self.query_one("#summary", Static).update(escape(unavailable_text(*NEEDS)))
        self.show_planned_commands()

    def primary_hint(self) -> str:
        return "press r for a dry run; the copy starts only after you confirm its numbers"

    def update_next(self) -> None:
        if (
            self.wizard.recorded_status(self.STEP) == "succeeded"
            and self.wizard.plan.mirroring.mode == "to-media"
        ):
            self.set_next("media written: carry it to the disconnected host and run the wizard there")
        else:
            super().update_next()

    @on(Input.Changed, "#media-path")
    def _media(self, event: Input.Changed) -> None:
        self.wizard.plan.mirroring.media_path = event.value.strip()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def _request(self, *, dry_run: bool) -> MirrorRequest:
        """The same use case as 'ocp-airgap mirror': mode, media folder and backend from the plan."""
        return MirrorRequest.from_plan(self.wizard.plan, dry_run=dry_run)

    def action_primary(self) -> None:
        mirror = engine_module(*NEEDS)
        if mirror is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        self.wizard.save_plan()
        try:
            dry = self._request(dry_run=True)
        except AirgapError as exc:
            self.notify(f"{exc.message} {exc.fix}", severity="error")
            return

        def dry_run(ctx: Context) -> Any:
            return mirror_plan(ctx, dry)

        self.start("Dry run of the mirroring", dry_run, self._dry_run_done)

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
            self.run.add_line("Everything is already mirrored: verifying.")
            self.start("Mirroring (verify only)", copy, self._done)
            return
        text = "\n".join(
            [
                *lines,
                f"Target: {d.get('target', '')}",
                "",
                "Nothing is deleted; a second run skips what is there.",
            ]
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.start("Mirroring the release", copy, self._done)
            else:
                self.run.add_line("Mirroring not started.")
                self.sync()

        self.app.push_screen(ConfirmModal("Mirror the release?", text, "Start copying?"), answered)

    def _done(self, summary: Any) -> None:
        self.query_one("#summary", Static).update(escape("\n".join(summary_lines(summary))))
        d = summary if isinstance(summary, dict) else summary.to_dict()
        for name, path in (d.get("files") or {}).items():
            self.run.add_line(f"wrote {name}: {path}")
        if d.get("failures"):
            self.wizard.mark_step(self.STEP, "failed", "; ".join(d["failures"])[:200])
        else:
            self.wizard.mark_step(
                self.STEP, "succeeded", f"{d.get('images_total', '')} images in {d.get('target', '')}"
            )
        self.refresh_state()

    def action_verify(self) -> None:
        mirror = engine_module(*NEEDS)
        if mirror is None or not self.check_not_running():
            return
        try:
            request = self._request(dry_run=False)
        except AirgapError as exc:
            self.notify(f"{exc.message} {exc.fix}", severity="error")
            return

        def verify(ctx: Context) -> Any:
            return verify_request(ctx, request)

        def verified(report: Any) -> None:
            problems = list(mirror.iter_problems(report)) if hasattr(mirror, "iter_problems") else []
            if problems:
                for p in problems[:50]:
                    self.run.add_line(p)
                self.notify(f"{len(problems)} problem(s) found; see the log.", severity="error")
            else:
                self.run.add_line("Verified: every manifest and blob is there by digest.")
            self.sync()

        self.start("Verifying the mirror", verify, verified)
