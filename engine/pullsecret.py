"""Pull secrets and registry auth files (docs/steps/credentials.md).

What this module does:

- **Load** a pull secret from a file or from the cluster (``secret/pull-secret`` in ``openshift-config``, key
  ``.dockerconfigjson``, base64 in the Secret's ``data``).
- **Validate** it: invalid JSON names the line and column (the example in the documentation is itself
  malformed), a missing ``auths`` object, an ``auth`` that is not base64 or has no ``user:password`` colon,
  a registry key that is not ``host[:port]`` or ``host[:port]/namespace/``. Every problem is named with its
  position in the file and never with the credential itself.
- **Merge** the mirror registry's credentials (``base64(user:password)``) under the key the docs use, show a
  redacted diff (a :class:`~engine.changes.Change`), and **write** the auth file atomically with mode 0600,
  keeping the previous one beside it (``<name>.bak``).
- Optionally **update the cluster's global pull secret** with the mirror credentials: preview, confirm, apply;
  the previous value is saved in a 0600 backup file under the cluster's state folder and the journal records
  that file's path (never the content), so :func:`restore_cluster_pull_secret` can put it back.

Auth file locations, as the docs list them: ``$REGISTRY_AUTH_FILE`` when set, else
``$XDG_RUNTIME_DIR/containers/auth.json`` (podman/skopeo/oc-mirror), else ``~/.docker/config.json``; the plan's
``auth_file`` (``LOCAL_SECRET_JSON``) or a path the user chooses wins over all of them.

The merged file can *write* to the mirror: it must never be used as the cluster's install pull secret
(:data:`INSTALL_WARNING`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.changes import Change
from engine.cluster import SECRET
from engine.context import Context
from engine.errors import Conflict, CredentialsError, InputError, NotFound
from engine.fsutil import atomic_write_bytes, atomic_write_text
from engine.plan import Plan, is_host_port
from engine.redact import register_credentials, register_secret
from engine.workflow import ctx_journal, journal_outcome

STEP = "credentials"
PULL_SECRET_NAMESPACE = "openshift-config"
PULL_SECRET_NAME = "pull-secret"
DOCKERCONFIGJSON = ".dockerconfigjson"
CLUSTER_RESOURCE = f"secret/{PULL_SECRET_NAMESPACE}/{PULL_SECRET_NAME}"

INSTALL_WARNING = (
    "This file holds credentials that can write to the mirror registry: never use it as the cluster's "
    "pull secret at install time, or every machine of the cluster gets write access to the mirror."
)
"""docs/steps/credentials.md."""

_KEY_RE = re.compile(r"^(?:https?://)?([^/\s]+)(/[^\s]*)?$")


# ----- the document -------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing wrong with a pull secret, with its position in the text when known."""

    message: str
    fix: str
    line: int | None = None
    column: int | None = None

    def as_error(self, source: str) -> InputError:
        return InputError(
            self.message,
            fix=self.fix,
            path=source or None,
            line=self.line,
            column=self.column,
            title="Invalid pull secret",
        )


@dataclass
class PullSecret:
    """A parsed auth file / ``.dockerconfigjson``: ``{"auths": {"<registry>": {"auth": "<b64>", ...}}}``.

    Other top-level members (``credHelpers``, ``credsStore``...) are kept as they are."""

    doc: dict[str, Any] = field(default_factory=lambda: {"auths": {}})
    source: str = ""

    @property
    def auths(self) -> dict[str, Any]:
        auths = self.doc.setdefault("auths", {})
        assert isinstance(auths, dict)
        return auths

    @property
    def registries(self) -> list[str]:
        return list(self.auths)

    def credentials(self, key: str) -> tuple[str, str] | None:
        """(user, password) stored for exactly ``key``, or None."""
        entry = self.auths.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
            return None
        user, password = decode_auth(entry["auth"])
        return user, password

    def with_credentials(self, key: str, username: str, password: str, email: str = "") -> PullSecret:
        """A copy with ``key`` set to these credentials (other members of an existing entry are kept)."""
        check_registry_key(key)
        if not username or ":" in username:
            raise CredentialsError(
                "the registry user name is empty or contains ':'",
                fix="Give the mirror registry user name without ':' (the auth string is 'user:password').",
            )
        if not password:
            raise CredentialsError("the registry password is empty", fix="Give the mirror registry password.")
        register_credentials(username, password)
        doc = copy.deepcopy(self.doc)
        auths = doc.setdefault("auths", {})
        entry = dict(auths.get(key) or {}) if isinstance(auths.get(key), dict) else {}
        entry["auth"] = encode_auth(username, password)
        if email:
            entry["email"] = email
        auths[key] = entry
        return PullSecret(doc, self.source)

    def to_json(self) -> str:
        """Pretty-printed, as ``jq .`` writes it (docs/steps/credentials.md)."""
        return json.dumps(self.doc, indent=2) + "\n"

    def summary(self) -> list[str]:
        """Registry keys and user names (no password), for journal records and messages."""
        out = []
        for key, entry in self.auths.items():
            user = ""
            if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
                try:
                    user = decode_auth(entry["auth"])[0]
                except CredentialsError:
                    user = "?"
            out.append(f"{key} ({user})" if user else key)
        return out


def encode_auth(username: str, password: str) -> str:
    """``echo -n 'user:password' | base64 -w0``."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def decode_auth(auth: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(auth, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError(
            "an 'auth' value is not base64", fix="Re-create it with: echo -n 'user:password' | base64 -w0"
        ) from None
    text = raw.decode("utf-8", "replace")
    user, sep, password = text.partition(":")
    if not sep:
        raise CredentialsError(
            "an 'auth' value does not decode to 'user:password'",
            fix="Re-create it with: echo -n 'user:password' | base64 -w0",
        )
    register_secret(password)
    register_secret(auth)
    return user, password


def check_registry_key(key: str) -> None:
    """``host``, ``host:port`` or ``host[:port]/namespace/...`` (docs §B step 5)."""
    m = _KEY_RE.match(key)
    if not m or not is_host_port(m.group(1)):
        raise CredentialsError(
            f"{key!r} is not a registry key",
            fix="Use the mirror registry as host or host:port (e.g. registry.example.com:8443), "
            "optionally followed by /namespace/.",
        )


def registry_key(registry: str, namespace: str = "") -> str:
    """The ``auths`` key for the mirror: ``host:port`` or ``host:port/namespace/``."""
    if not namespace:
        return registry
    return f"{registry}/{namespace.strip('/')}/"


# ----- parsing and validation ---------------------------------------------------------------------------


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _locate(text: str, *keys: str) -> tuple[int | None, int | None]:
    """Position of the last of ``keys`` found in sequence as JSON member names (``"key":``)."""
    pos = 0
    found = -1
    for key in keys:
        m = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, pos)
        if not m:
            break
        found = m.start()
        pos = m.end()
    if found < 0:
        return None, None
    return _position(text, found)


_JSON_HINTS = {
    "Expecting ':' delimiter": "a ':' is missing between a registry name and its value",
    "Extra data": "the document ends here but more text follows: a '}' too many closes 'auths' (or the "
    "whole document) early",
    "Expecting ',' delimiter": "a ',' is missing between two members, or a '}' is missing",
    "Expecting property name enclosed in double quotes": "a member name must be in double quotes; "
    "a trailing ',' before '}' is not allowed in JSON",
    "Expecting value": "a value is missing or the text is not JSON",
}


_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{6,}")


def _mask_tokens(text: str) -> str:
    """Hide anything that may be (part of) a credential in a snippet quoted in an error message."""

    def mask(m: re.Match[str]) -> str:
        tok = m.group(0)
        plain = tok.islower() and tok.isalpha() or tok.isupper() and tok.isalpha()
        return tok if plain else "…"

    return _TOKEN.sub(mask, text)


def _json_problem(text: str, exc: json.JSONDecodeError) -> Problem:
    hint = _JSON_HINTS.get(exc.msg, "")
    lines = text.splitlines()
    line_text = lines[exc.lineno - 1] if exc.lineno - 1 < len(lines) else ""
    start = max(0, exc.colno - 1 - 20)
    near = _mask_tokens(line_text[start : exc.colno - 1 + 20])
    message = f"not valid JSON: {exc.msg}"
    if hint:
        message += f" ({hint})"
    if near.strip():
        message += f"; near: {near.strip()}"
    return Problem(
        message,
        fix="Correct the JSON at that position (check it with 'jq . FILE'), or extract the pull secret again "
        "with: oc extract secret/pull-secret -n openshift-config --confirm --to=.",
        line=exc.lineno,
        column=exc.colno,
    )


def _json_problems(text: str, exc: json.JSONDecodeError) -> list[Problem]:
    prompt = re.match(r"^(\s*)\$ ", text)
    if not prompt or exc.pos > prompt.end():
        return [_json_problem(text, exc)]
    # Copied with the documentation's shell prompt: say so, and look for the next problem after it.
    line, column = _position(text, prompt.end() - 2)
    problems = [
        Problem(
            "the text starts with '$ ', the shell prompt of the documentation's example",
            fix="Remove the leading '$ ': the file must start with '{'.",
            line=line,
            column=column,
        )
    ]
    cleaned = text[: prompt.end() - 2] + "  " + text[prompt.end() :]
    return problems + check(cleaned)[1]


def parse(text: str, source: str = "") -> PullSecret:
    """Parse and validate; raise :class:`InputError` (with line and column) for the first problem."""
    secret, problems = check(text, source)
    if problems:
        raise problems[0].as_error(source)
    assert secret is not None
    return secret


def check(text: str, source: str = "") -> tuple[PullSecret | None, list[Problem]]:
    """Parse and validate; return the pull secret (None if not JSON) and every problem found."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, _json_problems(text, exc)
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        return None, [
            Problem(
                "the document is not a JSON object",
                fix='It must look like {"auths": {...}}.',
                line=1,
                column=1,
            )
        ]
    auths = doc.get("auths")
    if auths is None:
        problems.append(
            Problem(
                "no 'auths' member: this is not a pull secret / auth file",
                fix='The file must look like {"auths": {"<registry>": {"auth": "<base64 of user:password>"}}}.',
                line=1,
                column=1,
            )
        )
        return PullSecret(doc, source), problems
    if not isinstance(auths, dict):
        line, col = _locate(text, "auths")
        problems.append(
            Problem(
                "'auths' is not an object",
                fix='"auths" must map registry names to {"auth": ...}.',
                line=line,
                column=col,
            )
        )
        return PullSecret(doc, source), problems
    for key, entry in auths.items():
        line, col = _locate(text, "auths", key)
        m = _KEY_RE.match(key)
        if not m or not is_host_port(m.group(1)):
            problems.append(
                Problem(
                    f"{key!r} is not a registry name",
                    fix="Use host, host:port or host:port/namespace/ as the key.",
                    line=line,
                    column=col,
                )
            )
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    f"the entry for {key!r} is not an object",
                    fix='Use {"auth": "<credentials>"}.',
                    line=line,
                    column=col,
                )
            )
            continue
        auth = entry.get("auth")
        if auth is None:
            if not entry.get("identitytoken"):
                problems.append(
                    Problem(
                        f"the entry for {key!r} has no 'auth'",
                        fix="Add \"auth\": the output of: echo -n 'user:password' | base64 -w0",
                        line=line,
                        column=col,
                    )
                )
            continue
        aline, acol = _locate(text, "auths", key, "auth")
        if not isinstance(auth, str):
            problems.append(
                Problem(
                    f"the 'auth' of {key!r} is not a string",
                    fix="Quote the base64 text.",
                    line=aline,
                    column=acol,
                )
            )
            continue
        try:
            raw = base64.b64decode(auth, validate=True)
        except (binascii.Error, ValueError):
            problems.append(
                Problem(
                    f"the 'auth' of {key!r} is not valid base64",
                    fix="Re-create it with: echo -n 'user:password' | base64 -w0 (no line breaks, '=' padding kept).",
                    line=aline,
                    column=acol,
                )
            )
            continue
        register_secret(auth)
        decoded = raw.decode("utf-8", "replace")
        if ":" not in decoded:
            problems.append(
                Problem(
                    f"the 'auth' of {key!r} does not decode to 'user:password' (no ':' in it)",
                    fix="Re-create it with: echo -n 'user:password' | base64 -w0 — the colon between user and "
                    "password is required.",
                    line=aline,
                    column=acol,
                )
            )
            continue
        register_secret(decoded.partition(":")[2])
    return PullSecret(doc, source), problems


def load_file(path: str | os.PathLike[str]) -> PullSecret:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"pull secret file {p} does not exist",
            fix="Download it from OpenShift Cluster Manager or extract it from the cluster: "
            "oc extract secret/pull-secret -n openshift-config --confirm --to=.",
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{p} is not a text file", fix="Give the pull secret JSON file.") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror}", fix="Check the file's permissions.") from None
    return parse(text, str(p))


def load_from_cluster(ctx: Context) -> PullSecret:
    """The cluster's global pull secret (``oc extract secret/pull-secret -n openshift-config``)."""
    ctx.emit.command(
        ["oc", "extract", "secret/pull-secret", "-n", PULL_SECRET_NAMESPACE, "--confirm", "--to=."],
        note="writes .dockerconfigjson",
    )
    secret = ctx.cluster.get(SECRET, PULL_SECRET_NAME, PULL_SECRET_NAMESPACE)
    return _secret_pull_secret(secret)


def _secret_pull_secret(secret: dict[str, Any]) -> PullSecret:
    source = f"secret/{PULL_SECRET_NAME} -n {PULL_SECRET_NAMESPACE}"
    data = (secret.get("data") or {}).get(DOCKERCONFIGJSON)
    if not data:
        raise InputError(
            f"{source} has no {DOCKERCONFIGJSON} key",
            fix="The cluster's global pull secret is damaged; restore it from OpenShift Cluster Manager.",
        )
    register_secret(str(data))
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError(f"{source}: {DOCKERCONFIGJSON} is not base64 text") from None
    return parse(text, source)


# ----- where the auth file lives -------------------------------------------------------------------------


def auth_file_candidates() -> list[tuple[Path, str]]:
    """The places the docs and the container tools look for an auth file, in order, with why."""
    out: list[tuple[Path, str]] = []
    env = os.environ.get("REGISTRY_AUTH_FILE", "")
    if env:
        out.append((Path(os.path.expanduser(env)), "$REGISTRY_AUTH_FILE"))
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime:
        out.append((Path(runtime) / "containers" / "auth.json", "$XDG_RUNTIME_DIR/containers/auth.json"))
    out.append((Path(os.path.expanduser("~/.docker/config.json")), "~/.docker/config.json"))
    return out


def auth_file_path(plan: Plan | None = None, chosen: str = "") -> Path:
    """Where to write: the chosen path, else the plan's ``auth_file``, else the first documented location."""
    if chosen:
        return Path(os.path.expanduser(chosen)).absolute()
    if plan is not None and plan.auth_file:
        return Path(plan.resolve_path(plan.auth_file)).absolute()
    return auth_file_candidates()[0][0]


# ----- merging into the auth file ------------------------------------------------------------------------


@dataclass
class AuthFileUpdate:
    path: Path
    before: PullSecret | None
    after: PullSecret
    change: Change


def _jq_command(key: str, username: str, source: str, dest: Path, email: str) -> list[str]:
    entry = '{auth: $auth, email: "' + email + '"}' if email else "{auth: $auth}"
    script = (
        f"jq --arg auth \"$(echo -n {shlex.quote(username + ':')}'<password>' | base64 -w0)\" "
        f"{shlex.quote('.auths[' + json.dumps(key) + '] = ' + entry)} {shlex.quote(source)} > {shlex.quote(str(dest))}"
    )
    return ["sh", "-c", script]


def prepare_merge(
    path: Path,
    base: PullSecret | None,
    registry: str,
    username: str,
    password: str,
    *,
    email: str = "",
) -> AuthFileUpdate:
    """The auth file at ``path`` with the mirror credentials under ``registry`` (``host:port[/ns/]``).

    ``base`` is the pull secret to start from (the upstream one); when None, the file already at ``path`` is
    used (or an empty document). Nothing is written."""
    before: PullSecret | None = None
    if path.exists():
        before = load_file(path)
    start = base if base is not None else (before or PullSecret())
    if base is not None and before is not None:
        # Keep credentials already in the target file that the base does not have.
        merged = copy.deepcopy(before.doc)
        merged.setdefault("auths", {}).update(copy.deepcopy(base.auths))
        for k, v in base.doc.items():
            if k != "auths":
                merged[k] = copy.deepcopy(v)
        start = PullSecret(merged, base.source)
    after = start.with_credentials(registry, username, password, email)
    source = base.source if base is not None and base.source else str(path)
    change = Change(
        title=f"Add the mirror registry {registry} (user {username}) to the auth file {path}",
        resource=str(path),
        before=before.doc if before else None,
        after=after.doc,
        command=_jq_command(registry, username, source, path, email),
    )
    return AuthFileUpdate(path, before, after, change)


def write_auth_file(ctx: Context, update: AuthFileUpdate) -> Path | None:
    """Write the merged auth file atomically (0600), keeping the previous one as ``<name>.bak``; journal it."""
    ctx.emit.command(update.change.command, note=f"then: chmod 600 {update.path}")
    backup = atomic_write_text(update.path, update.after.to_json(), mode=0o600, keep_previous=True)
    ctx.emit.info(
        f"Wrote {update.path} (mode 0600) with {len(update.after.auths)} registries"
        + (f"; the previous file is kept as {backup}" if backup else "")
    )
    ctx.emit.warning(INSTALL_WARNING)
    _journal_change(
        ctx,
        update.change.action,
        f"file:{update.path}",
        before=update.before.summary() if update.before else None,
        after=update.after.summary(),
        command=" ".join(update.change.command),
        backup=str(backup) if backup else "",
    )
    journal_outcome(
        ctx_journal(ctx),
        STEP,
        "succeeded",
        f"auth file {update.path} holds {len(update.after.auths)} registries",
        auth_file=str(update.path),
    )
    return backup


def _journal_change(ctx: Context, action: str, resource: str, **data: Any) -> None:
    """Record in the cluster's journal; on a host with no kubeconfig (connected side) say it is not recorded."""
    try:
        journal = ctx.journal
    except InputError as exc:
        ctx.emit.debug(f"not recorded in a cluster journal ({exc.message})")
        return
    journal.change(STEP, action, resource, **data)


# ----- the cluster's global pull secret ------------------------------------------------------------------


@dataclass
class ClusterPullSecretUpdate:
    secret: dict[str, Any]
    before: PullSecret
    after: PullSecret
    change: Change


def prepare_cluster_update(
    ctx: Context, registry: str, username: str, password: str, *, email: str = ""
) -> ClusterPullSecretUpdate:
    """The global pull secret with the mirror credentials added; nothing is changed yet."""
    secret = ctx.cluster.get(SECRET, PULL_SECRET_NAME, PULL_SECRET_NAMESPACE)
    before = _secret_pull_secret(secret)
    after = before.with_credentials(registry, username, password, email)
    change = Change(
        title=f"Add the mirror registry {registry} (user {username}) to the cluster's global pull secret",
        resource=CLUSTER_RESOURCE,
        before=before.doc,
        after=after.doc,
        command=[
            "oc",
            "set",
            "data",
            "secret/pull-secret",
            "-n",
            PULL_SECRET_NAMESPACE,
            "--from-file=.dockerconfigjson=<merged pull secret file>",
        ],
    )
    return ClusterPullSecretUpdate(secret, before, after, change)


def backup_dir(ctx: Context) -> Path:
    return ctx.journal.path.parent / "backups"


def apply_cluster_update(ctx: Context, update: ClusterPullSecretUpdate) -> Path:
    """Save the previous value (0600 file under the state folder), then write the new one; journal both.

    Returns the backup file's path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = backup_dir(ctx) / f"pull-secret-{stamp}.json"
    atomic_write_text(backup, update.before.to_json(), mode=0o600)
    os.chmod(backup.parent, 0o700)
    ctx.emit.command(update.change.command)
    _replace_pull_secret(ctx, update.secret, update.after)
    ctx.journal.change(
        STEP,
        "update",
        CLUSTER_RESOURCE,
        before=update.before.summary(),
        after=update.after.summary(),
        command=" ".join(update.change.command),
        backup=str(backup),
    )
    ctx.emit.info(
        f"Updated the global pull secret; the previous value is saved in {backup} (mode 0600). "
        "The nodes receive the new pull secret through the MachineConfigPools."
    )
    return backup


def _replace_pull_secret(ctx: Context, secret: dict[str, Any], value: PullSecret) -> dict[str, Any]:
    """Replace the Secret's .dockerconfigjson with optimistic concurrency; on a 409 re-read and re-apply once."""
    encoded = base64.b64encode(json.dumps(value.doc, separators=(",", ":")).encode()).decode()
    register_secret(encoded)
    for attempt in range(3):
        body = copy.deepcopy(secret)
        body.setdefault("data", {})[DOCKERCONFIGJSON] = encoded
        try:
            return ctx.cluster.replace(SECRET, body, PULL_SECRET_NAMESPACE)
        except Conflict:
            if attempt == 2:
                raise
            ctx.emit.info("The pull secret changed meanwhile; reading it again.")
            secret = ctx.cluster.get(SECRET, PULL_SECRET_NAME, PULL_SECRET_NAMESPACE)
            current = _secret_pull_secret(secret)
            # keep what somebody else added, put ours on top
            merged = copy.deepcopy(current.doc)
            merged.setdefault("auths", {}).update(copy.deepcopy(value.auths))
            value = PullSecret(merged, value.source)
            encoded = base64.b64encode(json.dumps(value.doc, separators=(",", ":")).encode()).decode()
            register_secret(encoded)
    raise AssertionError("unreachable")


def restore_cluster_pull_secret(ctx: Context, *, apply: bool = True) -> Change:
    """Put back the global pull secret saved by the last :func:`apply_cluster_update` (from the journal)."""
    record = None
    for r in reversed(ctx.journal.changes(STEP)):
        if r.data.get("resource") == CLUSTER_RESOURCE and r.data.get("backup"):
            record = r
            break
    if record is None:
        raise NotFound(
            "the journal has no earlier global pull secret saved by this tool",
            fix="Nothing to restore: this tool did not change the cluster's pull secret.",
        )
    backup = Path(str(record.data["backup"]))
    previous = load_file(backup)
    secret = ctx.cluster.get(SECRET, PULL_SECRET_NAME, PULL_SECRET_NAMESPACE)
    current = _secret_pull_secret(secret)
    change = Change(
        title="Restore the cluster's global pull secret saved before this tool changed it",
        resource=CLUSTER_RESOURCE,
        before=current.doc,
        after=previous.doc,
        command=[
            "oc",
            "set",
            "data",
            "secret/pull-secret",
            "-n",
            PULL_SECRET_NAMESPACE,
            f"--from-file=.dockerconfigjson={backup}",
        ],
    )
    if apply:
        ctx.emit.command(change.command)
        _replace_pull_secret_exact(ctx, secret, previous)
        ctx.journal.change(
            STEP,
            "restore",
            CLUSTER_RESOURCE,
            before=current.summary(),
            after=previous.summary(),
            command=" ".join(change.command),
            restored_from=str(backup),
        )
    return change


def _replace_pull_secret_exact(ctx: Context, secret: dict[str, Any], value: PullSecret) -> None:
    encoded = base64.b64encode(json.dumps(value.doc, separators=(",", ":")).encode()).decode()
    register_secret(encoded)
    body = copy.deepcopy(secret)
    body.setdefault("data", {})[DOCKERCONFIGJSON] = encoded
    ctx.cluster.replace(SECRET, body, PULL_SECRET_NAMESPACE)


def write_pull_secret_file(path: Path, secret: PullSecret) -> None:
    """Write a pull secret file (0600, atomic) — e.g. what ``oc extract`` would have written."""
    atomic_write_bytes(path, secret.to_json().encode(), mode=0o600)


__all__ = [
    "INSTALL_WARNING",
    "AuthFileUpdate",
    "ClusterPullSecretUpdate",
    "Problem",
    "PullSecret",
    "apply_cluster_update",
    "auth_file_candidates",
    "auth_file_path",
    "check",
    "check_registry_key",
    "decode_auth",
    "encode_auth",
    "load_file",
    "load_from_cluster",
    "parse",
    "prepare_cluster_update",
    "prepare_merge",
    "registry_key",
    "restore_cluster_pull_secret",
    "write_auth_file",
    "write_pull_secret_file",
]
