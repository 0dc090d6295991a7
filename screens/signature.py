"""Signature: fetch (or read from the media) the release image signature, verify it here against the keys the
cluster trusts, preview the ConfigMap, apply it, and confirm the CVO can see it. Beside it, the release's Sigstore
signature in the mirror (``sha256-<hex>.sig``) is verified against the key of the cluster's ClusterImagePolicy:
both results, with the key each was checked against, are shown as checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import signatures, sigstore
from engine.context import Context
from screens.base import StepScreen
from tui.i18n import _


def signature_facts(prepared: signatures.PreparedSignature) -> list[str]:
    """What a person checks in a signature ConfigMap, decoded: the release it signs, who signed it, when; the
    base64 blob itself is one key away in the confirmation."""
    lines = [
        _("ConfigMap {name} in openshift-config-managed").format(name=prepared.name),
        _("Release digest: {digest}").format(digest=prepared.digest),
        _("Source: {source}").format(source=prepared.source),
    ]
    for v in prepared.verified:
        when = (
            datetime.fromtimestamp(v.timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
            if v.timestamp is not None
            else "?"
        )
        lines += [
            _("Signature {n}: verified with {keyring}").format(n=v.index, keyring=v.keyring),
            "  " + _("signed by: {who}").format(who=", ".join(v.signer_user_ids) or v.signer_fingerprint),
            "  " + _("key: {key}").format(key=v.signer_fingerprint.upper()),
            "  " + _("image: {reference}").format(reference=v.docker_reference),
            "  " + _("signed at: {when}").format(when=when),
        ]
    return lines


class SignatureScreen(StepScreen):
    STEP = "signature"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Verify & apply"),
    ]

    def compose_body(self) -> ComposeResult:
        yield self.field(_("Media file"), "sig-file", "")
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
        digest = plan.release.digest or _("(not known yet: choose the release first)")
        self.query_one("#digest", Static).update(escape(_("Release digest: {digest}").format(digest=digest)))
        notice = self.query_one("#notice", Static)
        if plan.mirroring.mode == "from-media":
            text = _(
                "Empty media file = the signature file the connected side wrote onto the media "
                "(<media>/mirror/config/signature-sha256-*.json), found by digest."
            )
        else:
            text = _("Empty media file = fetch from the plan's signature store.")
        text += "\n" + _(
            "Also checked: the Sigstore signature (sha256-….sig) in the mirror, against the key of the "
            "cluster's ClusterImagePolicy (needed from 4.21)."
        )
        notice.update(escape(text))

    def primary_hint(self) -> str:
        return _("press r to fetch, verify and preview the signature ConfigMap")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def action_primary(self) -> None:
        if not self.check_not_running() or self.check_blocked():
            return
        file = self.query_one("#sig-file", Input).value.strip()
        path = self.wizard.plan.resolve_path(file) if file else ""

        def prepare(ctx: Context) -> signatures.PreparedSignature:
            prepared = signatures.prepare(ctx, file=path)
            if ctx.plan.mirror.registry:
                sigstore.check_release_in_mirror(ctx, prepared.digest)
            return prepared

        self.prepare_then_apply(
            _("verify and apply the release signature"),
            prepare,
            lambda prepared: list(prepared.changes),
            signatures.apply,
            self._done,
            confirm_title=_("Apply the release signature ConfigMap?"),
            preview=lambda prepared: "\n".join(signature_facts(prepared)),
        )

    def _done(self, result: dict[str, Any]) -> None:
        self.wizard.mark_step(self.STEP, "succeeded", f"signature ConfigMap {result.get('configmap', '')}")
        self.refresh_state()
