"""Signature: fetch (or read from the media) the release image signature, verify it here against the keys the
cluster trusts, preview the ConfigMap, apply it, and confirm the CVO can see it. Beside it, the release's Sigstore
signature in the mirror (``sha256-<hex>.sig``) is verified against the key of the cluster's ClusterImagePolicy:
both results, with the key each was checked against, are shown as checks."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.context import Context
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen

NEEDS = ("signatures", "prepare", "apply")


class SignatureScreen(StepScreen):
    STEP = "signature"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Verify & apply"),
    ]

    def compose_body(self) -> ComposeResult:
        yield self.field("Media file", "sig-file", "")
        yield Static("", id="digest")
        yield Static("", classes="notice", id="notice")

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_body()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresh_body()

    def refresh_body(self) -> None:
        plan = self.wizard.plan
        digest = plan.release.digest or "(not known yet: choose the release first)"
        self.query_one("#digest", Static).update(f"Release digest: {escape(digest)}")
        notice = self.query_one("#notice", Static)
        if engine_module(*NEEDS) is None:
            notice.update(escape(unavailable_text(*NEEDS)))
            return
        if plan.mirroring.mode == "from-media":
            text = (
                "Empty media file = the signature file the connected side wrote onto the media "
                "(<media>/mirror/config/signature-sha256-*.json), found by digest."
            )
        else:
            text = "Empty media file = fetch from the plan's signature store."
        if engine_module("sigstore", "check_release_in_mirror") is not None:
            text += (
                "\nAlso checked: the Sigstore signature (sha256-….sig) in the mirror, against the key of the "
                "cluster's ClusterImagePolicy (needed from 4.21)."
            )
        notice.update(text)

    def primary_hint(self) -> str:
        return "press r to fetch, verify and preview the signature ConfigMap"

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def action_primary(self) -> None:
        sig = engine_module(*NEEDS)
        if sig is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        file = self.query_one("#sig-file", Input).value.strip()
        path = self.wizard.plan.resolve_path(file) if file else ""

        def prepare(ctx: Context) -> Any:
            prepared = sig.prepare(ctx, file=path)
            sigstore = engine_module("sigstore", "check_release_in_mirror")
            if sigstore is not None and ctx.plan.mirror.registry:
                sigstore.check_release_in_mirror(ctx, prepared.digest)
            return prepared

        self.prepare_then_apply(
            "verify and apply the release signature",
            prepare,
            lambda prepared: list(prepared.changes),
            sig.apply,
            self._done,
            confirm_title="Apply the release signature ConfigMap?",
        )

    def _done(self, result: dict[str, Any]) -> None:
        self.wizard.mark_step(self.STEP, "succeeded", f"signature ConfigMap {result.get('configmap', '')}")
        self.refresh_state()
