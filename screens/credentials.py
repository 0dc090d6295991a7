"""Credentials & trust: merge the mirror registry's credentials into the auth file (0600), keep the password in
the system keyring, and make the cluster trust the mirror registry's CA."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import login
from engine.context import Context
from engine.workflow import CONNECTED, role_of
from screens.base import StepScreen
from tui.i18n import _


class CredentialsScreen(StepScreen):
    STEP = "credentials"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Merge"),
    ]

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield self.field(_("Pull secret"), "pull-secret", "")
        yield self.field(_("Mirror user"), "username", plan.mirror.username)
        yield self.field(_("Password"), "password", "", password=True)
        yield self.field(_("Auth file"), "auth-file", plan.auth_file)
        yield self.field(_("Mirror CA"), "ca-file", plan.mirror.ca_file)
        yield Static(
            _(
                "Empty pull secret = read the cluster's (on the connected side: give the file); empty "
                "password = the keyring's (or the plan's password file)."
            ),
            classes="notice",
            id="notice",
        )

    def primary_hint(self) -> str:
        return _("check the fields (Tab), then press r to preview the merged auth file")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        plan = self.wizard.plan
        value = event.value.strip()
        if event.input.id == "username":
            plan.mirror.username = value
        elif event.input.id == "auth-file":
            plan.auth_file = value
        elif event.input.id == "ca-file":
            plan.mirror.ca_file = value

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def action_primary(self) -> None:
        if not self.check_not_running() or self.check_blocked():
            return
        source = self.query_one("#pull-secret", Input).value.strip()
        typed = self.query_one("#password", Input).value
        self.wizard.save_plan()
        self.prepare_then_apply(
            _("merge the mirror credentials and trust its CA"),
            lambda ctx: self._prepare(ctx, source, typed),
            lambda prep: prep.changes(),
            self._apply,
            self._done,
            confirm_title=_("Write the auth file and make the cluster trust the mirror CA?"),
        )

    # ----- worker side ----------------------------------------------------------------------------------
    @staticmethod
    def _prepare(ctx: Context, source: str, typed: str) -> login.PreparedCredentials:
        plan = ctx.plan
        request = login.CredentialsRequest(
            pull_secret_file=source,
            from_cluster=not source,
            password=typed,
            remember=bool(typed),
            # the connected side has no cluster to change
            trust_ca=bool(plan.mirror.ca_file) and role_of(plan) != CONNECTED,
            missing_fix=_(
                "Type it in the Password field; it is kept in the system keyring, never in the plan."
            ),
        )
        return login.prepare(ctx, request)

    @staticmethod
    def _apply(ctx: Context, prep: login.PreparedCredentials) -> str:
        outcome = login.apply(ctx, prep)
        if not ctx.plan.auth_file:
            ctx.plan.auth_file = str(outcome.auth_file)
        return outcome.summary()

    def _done(self, summary: str) -> None:
        self.wizard.save_plan()
        self.query_one("#auth-file", Input).value = self.wizard.plan.auth_file
        self.wizard.mark_step(self.STEP, "succeeded", summary)
        self.run.add_line(_("Done: {summary}.").format(summary=summary))
        self.refresh_state()
