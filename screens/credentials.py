"""Credentials & trust: merge the mirror registry's credentials into the auth file (0600), keep the password in
the system keyring, and make the cluster trust the mirror registry's CA."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.changes import Change
from engine.context import Context
from engine.errors import CredentialsError, KeyringUnavailable
from engine.workflow import CONNECTED, role_of
from screens._engine import engine_module, unavailable_text
from screens.base import StepScreen

NEEDS = ("pullsecret", "prepare_merge", "write_auth_file", "load_file", "load_from_cluster")


@dataclass
class PreparedCredentials:
    update: Any
    trust_steps: list[Any] = field(default_factory=list)
    password: str = ""
    remember: bool = True

    def changes(self) -> list[Change]:
        return [self.update.change, *(s.change for s in self.trust_steps)]


class CredentialsScreen(StepScreen):
    STEP = "credentials"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Merge"),
    ]

    def compose_body(self) -> ComposeResult:
        plan = self.wizard.plan
        yield self.field("Pull secret", "pull-secret", "")
        yield self.field("Mirror user", "username", plan.mirror.username)
        yield self.field("Password", "password", "", password=True)
        yield self.field("Auth file", "auth-file", plan.auth_file)
        yield self.field("Mirror CA", "ca-file", plan.mirror.ca_file)
        yield Static("", classes="notice", id="notice")

    def on_mount(self) -> None:
        super().on_mount()
        notice = self.query_one("#notice", Static)
        if engine_module(*NEEDS) is None:
            notice.update(escape(unavailable_text(*NEEDS)))
        else:
            notice.update(
                "Empty pull secret = read the cluster's (on the connected side: give the file); empty "
                "password = the keyring's (or the plan's password file)."
            )

    def primary_hint(self) -> str:
        return "check the fields (Tab), then press r to preview the merged auth file"

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
        ps = engine_module(*NEEDS)
        if ps is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        source = self.query_one("#pull-secret", Input).value.strip()
        typed = self.query_one("#password", Input).value
        self.wizard.save_plan()
        self.prepare_then_apply(
            "merge the mirror credentials and trust its CA",
            lambda ctx: self._prepare(ctx, source, typed),
            lambda prep: prep.changes(),
            self._apply,
            self._done,
            confirm_title="Write the auth file and make the cluster trust the mirror CA?",
        )

    # ----- worker side ----------------------------------------------------------------------------------
    @staticmethod
    def _prepare(ctx: Context, source: str, typed: str) -> PreparedCredentials:
        from engine import credentials, pullsecret

        plan = ctx.plan
        plan.require("mirror.registry", "mirror.username")
        if source:
            base = pullsecret.load_file(plan.resolve_path(source))
            ctx.emit.info(f"Read the pull secret from {source}.")
        else:
            ctx.emit.command(
                ["oc", "extract", "secret/pull-secret", "-n", "openshift-config", "--confirm", "--to=."]
            )
            base = pullsecret.load_from_cluster(ctx)
            ctx.emit.info("Read the cluster's global pull secret.")
        password = typed
        remember = bool(typed)
        if not password:
            try:
                password = credentials.lookup_password(plan.mirror.registry, plan.mirror.username) or ""
            except KeyringUnavailable as exc:
                ctx.emit.warning(exc.message)
            if password:
                ctx.emit.info("Using the mirror password from the system keyring.")
        if not password and plan.mirror.password_file:
            password = Path(plan.resolve_path(plan.mirror.password_file)).read_text(encoding="utf-8").strip()
            ctx.emit.info("Using the mirror password from the plan's password file.")
        if not password:
            raise CredentialsError(
                f"no password for {plan.mirror.username} on {plan.mirror.registry}",
                fix="Type it in the Password field; it is kept in the system keyring, never in the plan.",
            )
        from engine.redact import register_credentials

        register_credentials(plan.mirror.username, password)
        update = pullsecret.prepare_merge(
            pullsecret.auth_file_path(plan), base, plan.mirror.registry, plan.mirror.username, password
        )
        prepared = PreparedCredentials(update, password=password, remember=remember)
        if plan.mirror.ca_file and role_of(plan) != CONNECTED:  # the connected side has no cluster to change
            trust = engine_module("trust", "load_ca", "plan_cluster_trust", "apply_cluster_trust")
            if trust is None:
                ctx.emit.warning(unavailable_text("trust", "plan_cluster_trust"))
            else:
                ca = trust.load_ca(plan.resolve_path(plan.mirror.ca_file))
                prepared.trust_steps = list(trust.plan_cluster_trust(ctx, plan.mirror.registry, ca))
        return prepared

    @staticmethod
    def _apply(ctx: Context, prep: PreparedCredentials) -> str:
        from engine import credentials, pullsecret

        plan = ctx.plan
        pullsecret.write_auth_file(ctx, prep.update)
        if prep.trust_steps:
            from engine import trust

            trust.apply_cluster_trust(ctx, prep.trust_steps)
        if prep.remember:
            try:
                credentials.store_password(
                    plan.mirror.registry, plan.mirror.username, prep.password, ctx.emit
                )
            except KeyringUnavailable as exc:
                ctx.emit.warning(f"{exc.message} {exc.fix}")
        if not plan.auth_file:
            plan.auth_file = str(prep.update.path)
        return f"auth file {prep.update.path} holds {len(prep.update.after.auths)} registries"

    def _done(self, summary: str) -> None:
        self.wizard.save_plan()
        self.query_one("#auth-file", Input).value = self.wizard.plan.auth_file
        self.wizard.mark_step(self.STEP, "succeeded", summary)
        self.run.add_line(f"Done: {summary}.")
        self.refresh_state()
