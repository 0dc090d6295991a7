"""The Credentials step as one use case for the wizard and ``ocp-airgap credentials merge``: read the base pull
secret (a file, or the cluster's global pull secret), find the mirror password (given, the system keyring, the
plan's password file, or asked), and prepare every change — the auth file, optionally the cluster's global pull
secret, optionally the cluster's trust of the mirror CA — so it can be shown whole before anything is written.
:func:`apply` then writes them in that order, and keeps a given password in the keyring when asked to.

Documented procedure: add the mirror registry's login to the pull secret (``oc extract secret/pull-secret -n
openshift-config --confirm --to=.``, edit, save as a new file), and add the mirror CA to the trusted CAs (a
ConfigMap in ``openshift-config`` named by ``image.config.openshift.io/cluster`` ``spec.additionalTrustedCA``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine import credentials, pullsecret, trust
from engine.changes import Change
from engine.context import Context
from engine.errors import CredentialsError, InputError, KeyringUnavailable
from engine.redact import register_credentials

Ask = Callable[[str], str]


@dataclass
class CredentialsRequest:
    """What to merge and where; empty fields take the plan's values."""

    pull_secret_file: str = ""
    """Read the base pull secret from this file (relative to the plan's folder)."""
    from_cluster: bool = False
    """Else read the cluster's global pull secret (without either, the auth file starts from what it holds)."""
    auth_file: str = ""
    registry: str = ""
    username: str = ""
    namespace: str = ""
    """Key the login as ``host:port/NAMESPACE/`` instead of the registry host."""
    email: str = ""
    password: str = ""
    """The password when given (typed in the wizard, read from standard input); else the keyring, then the plan's
    password file, then ``ask``."""
    remember: bool = False
    """Keep the given password in the system keyring once the auth file is written."""
    update_cluster: bool = False
    """Also add the login to the cluster's global pull secret (the previous value is kept for restore)."""
    trust_ca: bool = False
    """Also make the cluster trust the plan's mirror CA (``mirror.ca_file``)."""
    during_update: bool = False
    """Change the cluster even while an update or a pool rollout runs (the admin's journaled override)."""
    missing_fix: str = ""
    """The fix to name when no password is found and there is no one to ask (the wizard names its field)."""


@dataclass
class PreparedCredentials:
    registry: str
    username: str
    key: str
    update: pullsecret.AuthFileUpdate
    password: str = field(repr=False)
    remember: bool = False
    cluster_update: pullsecret.ClusterPullSecretUpdate | None = None
    trust_steps: list[trust.ClusterTrustStep] = field(default_factory=list)
    started_empty: bool = False
    """Neither a pull secret nor an existing auth file: the auth file will hold only the mirror login."""

    def changes(self) -> list[Change]:
        out = [self.update.change]
        if self.cluster_update is not None:
            out.append(self.cluster_update.change)
        out.extend(s.change for s in self.trust_steps)
        return out


@dataclass
class CredentialsOutcome:
    auth_file: Path
    previous: Path | None
    registries: list[str]
    cluster_backup: Path | None = None

    def summary(self) -> str:
        return f"auth file {self.auth_file} holds {len(self.registries)} registries"


def _password(ctx: Context, req: CredentialsRequest, username: str, ask: Ask | None) -> str:
    if req.password:
        register_credentials(username, req.password)
        return req.password
    try:
        return credentials.mirror_password(ctx, ask, username=username)
    except CredentialsError as exc:
        if ask is not None or not req.missing_fix or ctx.plan.mirror.password_file:
            raise  # (a password file that cannot be used has its own fix)
        if isinstance(exc, KeyringUnavailable):
            ctx.emit.warning(exc.message)
        raise CredentialsError(
            f"no password for {username} on {ctx.plan.mirror.registry}", fix=req.missing_fix
        ) from exc


def prepare(ctx: Context, req: CredentialsRequest, ask: Ask | None = None) -> PreparedCredentials:
    """Read what is needed and describe every change; nothing is written."""
    plan, emit = ctx.plan, ctx.emit
    registry = req.registry or plan.mirror.registry
    username = req.username or plan.mirror.username
    if not registry or not username:
        raise InputError(
            "the mirror registry and user are not known",
            fix="Set mirror.registry and mirror.username in the plan.",
        )
    if req.trust_ca and not plan.mirror.ca_file:
        raise InputError(
            "the mirror CA to trust is not known", fix="Set mirror.ca_file in the plan (PEM or DER)."
        )
    base = None
    if req.pull_secret_file:
        base = pullsecret.load_file(plan.resolve_path(req.pull_secret_file))
        emit.info(f"Read the pull secret from {req.pull_secret_file}.")
    elif req.from_cluster:
        emit.command(["oc", "extract", "secret/pull-secret", "-n", "openshift-config", "--confirm", "--to=."])
        base = pullsecret.load_from_cluster(ctx)
        emit.info("Read the cluster's global pull secret.")
    password = _password(ctx, req, username, ask)
    key = pullsecret.registry_key(registry, req.namespace)
    update = pullsecret.prepare_merge(
        pullsecret.auth_file_path(plan, req.auth_file), base, key, username, password, email=req.email
    )
    prepared = PreparedCredentials(
        registry, username, key, update, password, remember=req.remember and bool(req.password)
    )
    if base is None and update.before is None:
        prepared.started_empty = True
        emit.warning(
            "Starting from an empty auth file: it holds only the mirror login. To mirror from quay.io, start "
            "from your pull secret (a file, or the cluster's)."
        )
    if req.update_cluster:
        prepared.cluster_update = pullsecret.prepare_cluster_update(
            ctx, key, username, password, email=req.email, during_update=req.during_update
        )
    if req.trust_ca:
        ca = trust.load_ca(plan.resolve_path(plan.mirror.ca_file))
        prepared.trust_steps = list(trust.plan_cluster_trust(ctx, registry, ca))
    return prepared


def apply(ctx: Context, prep: PreparedCredentials) -> CredentialsOutcome:
    """Write the prepared changes: the auth file (0600, atomically, the previous one kept), then the cluster's
    pull secret and trust; a given password goes to the keyring last (a keyring that fails only warns)."""
    previous = pullsecret.write_auth_file(ctx, prep.update)
    outcome = CredentialsOutcome(prep.update.path, previous, list(prep.update.after.registries))
    if prep.cluster_update is not None:
        outcome.cluster_backup = pullsecret.apply_cluster_update(ctx, prep.cluster_update)
    if prep.trust_steps:
        trust.apply_cluster_trust(ctx, prep.trust_steps)
    if prep.remember:
        try:
            credentials.store_password(prep.registry, prep.username, prep.password, ctx.emit)
        except KeyringUnavailable as exc:
            ctx.emit.warning(f"{exc.message} {exc.fix}")
    return outcome


__all__ = ["CredentialsOutcome", "CredentialsRequest", "PreparedCredentials", "apply", "prepare"]
