"""Registry credentials from an auth file, found and matched the way the containers tools (podman, skopeo,
buildah) and ``oc`` do.

Lookup order (the first that exists wins):

1. the file named in the plan (``auth_file``, the merged pull secret ``LOCAL_SECRET_JSON``);
2. ``$REGISTRY_AUTH_FILE``;
3. ``$XDG_RUNTIME_DIR/containers/auth.json``;
4. ``~/.config/containers/auth.json``;
5. ``~/.docker/config.json``.

An entry under ``auths`` is keyed by ``host[:port]`` or by ``host[:port]/namespace/...``; for a repository the most
specific key that is a prefix of ``host[:port]/repository`` (on path-component boundaries) wins, then the bare
host. Legacy keys with a scheme (``https://host/v1/``) match their host. An entry holds ``auth`` (base64 of
``user:password``) or ``username`` + ``password``, and possibly ``identitytoken`` (an OAuth2 refresh token).

Every secret read here is registered with :mod:`engine.redact` at once, so it can never appear in a log.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.redact import register_credentials, register_secret
from engine.util import why_not_a_file


@dataclass(frozen=True)
class Credentials:
    """A login for one registry (or one registry namespace)."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    key: str = ""
    """The ``auths`` key the login came from, e.g. ``registry.example.com:8443``."""
    source: str = ""
    """The auth file it came from."""

    @property
    def basic(self) -> tuple[str, str] | None:
        if self.username or self.password:
            return (self.username, self.password)
        return None

    def where(self) -> str:
        """'the entry "<key>" of <file>' for error messages."""
        if self.source:
            return f'the entry "{self.key}" of {self.source}'
        return f'the login for "{self.key}"'


def candidate_paths(plan_auth_file: str = "") -> list[Path]:
    """Every place an auth file is looked for, in order (existing or not)."""
    out: list[Path] = []
    if plan_auth_file:
        out.append(Path(os.path.expanduser(plan_auth_file)))
    env = os.environ.get("REGISTRY_AUTH_FILE", "")
    if env:
        out.append(Path(os.path.expanduser(env)))
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime:
        out.append(Path(runtime) / "containers" / "auth.json")
    home = Path(os.path.expanduser("~"))
    out.append(home / ".config" / "containers" / "auth.json")
    out.append(home / ".docker" / "config.json")
    return out


def find_auth_file(plan_auth_file: str = "") -> Path | None:
    """The auth file to use. A file named explicitly (plan or ``$REGISTRY_AUTH_FILE``) must exist."""
    if plan_auth_file:
        p = Path(os.path.expanduser(plan_auth_file))
        if not p.is_file():
            raise InputError(
                f"the auth file {p} named in the plan {why_not_a_file(p)}",
                fix="Correct 'auth_file' in the plan, or create the merged pull secret first (the credentials step).",
            )
        return p
    env = os.environ.get("REGISTRY_AUTH_FILE", "")
    if env:
        p = Path(os.path.expanduser(env))
        if not p.is_file():
            raise InputError(
                f"REGISTRY_AUTH_FILE points to {p}, which {why_not_a_file(p)}",
                fix="Unset REGISTRY_AUTH_FILE or point it at your pull secret.",
            )
        return p
    for p in candidate_paths()[0:]:
        if p.is_file():
            return p
    return None


def normalize_key(key: str) -> str:
    """``https://Registry.Example.com:443/v1/`` → ``registry.example.com:443``; paths keep their case."""
    k = key.strip()
    for scheme in ("https://", "http://"):
        if k.lower().startswith(scheme):
            k = k[len(scheme) :]
            # legacy docker keys: the path is an API version, not a namespace
            host, _, rest = k.partition("/")
            if rest.rstrip("/") in ("v1", "v2", ""):
                k = host
            break
    k = k.rstrip("/")
    host, sep, path = k.partition("/")
    host = host.lower()
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    return host + sep + path


class AuthFile:
    """A parsed auth file (``{"auths": {key: entry}}``, docker ``config.json`` or a pull secret)."""

    def __init__(self, entries: Mapping[str, Credentials], path: str = "") -> None:
        self.path = path
        self._entries = dict(entries)

    @classmethod
    def empty(cls) -> AuthFile:
        return cls({}, "")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuthFile:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                f"the auth file {p} does not exist", fix="Check the path of the auth file."
            ) from None
        except IsADirectoryError:
            raise InputError(
                f"the auth file {p} is a folder, not a file", fix="Give the auth file (JSON) itself."
            ) from None
        except UnicodeDecodeError:
            raise InputError(
                f"the auth file {p} is not UTF-8 text", fix="Give a pull secret / auth.json file (JSON text)."
            ) from None
        except OSError as exc:
            raise InputError(
                f"cannot read the auth file {p}: {exc.strerror}", fix="Check the file's permissions."
            ) from None
        return cls.parse(text, str(p))

    @classmethod
    def discover(cls, plan_auth_file: str = "") -> AuthFile:
        """Load the auth file found by :func:`find_auth_file`; an empty one if there is none."""
        p = find_auth_file(plan_auth_file)
        return cls.load(p) if p else cls.empty()

    @classmethod
    def parse(cls, text: str, path: str = "<auth file>") -> AuthFile:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not valid JSON: {exc.msg}",
                path=path,
                line=exc.lineno,
                column=exc.colno,
                fix='Correct the JSON at that position (a pull secret is one JSON object with an "auths" member).',
            ) from None
        if not isinstance(doc, dict):
            raise InputError(
                'expected a JSON object with an "auths" member', path=path, fix="Use a pull secret file."
            )
        auths = doc.get("auths", {})
        if not isinstance(auths, dict):
            raise InputError('"auths" must be a JSON object', path=path, fix="Use a pull secret file.")
        entries: dict[str, Credentials] = {}
        for key, entry in auths.items():
            if not isinstance(entry, dict):
                raise InputError(
                    f'the entry "{key}" under "auths" must be a JSON object',
                    path=path,
                    fix='Each entry looks like {"auth": "<base64 of user:password>"}.',
                )
            creds = _entry_credentials(str(key), entry, path)
            if creds is not None:
                entries[normalize_key(str(key))] = creds
        return cls(entries, path)

    @property
    def keys(self) -> list[str]:
        return sorted(self._entries)

    def lookup(self, host: str, repository: str = "") -> Credentials | None:
        """The login for ``host[:port]`` and ``repository``: the longest matching namespace key, else the host."""
        host = normalize_key(host)
        parts = [p for p in repository.strip("/").split("/") if p] if repository else []
        for n in range(len(parts), -1, -1):
            key = host + ("/" + "/".join(parts[:n]) if n else "")
            found = self._entries.get(key)
            if found is not None:
                return found
        return None

    def with_login(self, key: str, username: str, password: str, source: str = "") -> AuthFile:
        """A copy with a login added for ``key`` (e.g. the mirror registry's password from the keyring)."""
        register_credentials(username, password)
        entries = dict(self._entries)
        k = normalize_key(key)
        entries[k] = Credentials(username=username, password=password, key=k, source=source or "the plan")
        return AuthFile(entries, self.path)

    def to_dict(self) -> dict[str, Any]:
        """The entries as an auth file document (for writing a merged secret); secrets included."""
        out: dict[str, Any] = {}
        for key, c in self._entries.items():
            entry: dict[str, str] = {}
            if c.username or c.password:
                entry["auth"] = base64.b64encode(f"{c.username}:{c.password}".encode()).decode()
            if c.identity_token:
                entry["identitytoken"] = c.identity_token
            out[key] = entry
        return {"auths": out}


def _entry_credentials(key: str, entry: Mapping[str, Any], path: str) -> Credentials | None:
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    token = str(entry.get("identitytoken") or "")
    raw = entry.get("auth")
    if raw:
        try:
            decoded = base64.b64decode(str(raw), validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            register_secret(str(raw))
            raise InputError(
                f'the "auth" value of the entry "{key}" is not base64 of user:password',
                path=path,
                fix="Recreate it: printf '%s' 'user:password' | base64 -w0",
            ) from None
        register_secret(str(raw))
        if ":" not in decoded:
            register_secret(decoded)
            raise InputError(
                f'the "auth" value of the entry "{key}" does not decode to user:password',
                path=path,
                fix="Recreate it: printf '%s' 'user:password' | base64 -w0",
            )
        username, _, password = decoded.partition(":")
    if password:
        register_credentials(username, password)
    if token:
        register_secret(token)
    if not (username or password or token):
        return None
    return Credentials(
        username=username, password=password, identity_token=token, key=normalize_key(key), source=path
    )


__all__ = ["AuthFile", "Credentials", "candidate_paths", "find_auth_file", "normalize_key"]
