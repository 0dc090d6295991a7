"""The mirror registry password: kept in the system keyring, never in the plan, never in plain text by default.

Where the password comes from, in order (:func:`mirror_password`):

1. the **system keyring** (Secret Service — GNOME Keyring, KWallet — or the macOS/Windows stores), under the
   service ``ocp-airgap:<registry>`` and the mirror user name;
2. the plan's ``mirror.password_file`` — only when the user explicitly chose to keep it in a file; the file
   must be mode 0600 (this tool writes it that way, :func:`write_password_file`);
3. the user, asked each time (a callback the wizard or the CLI provides).

A keyring back end that stores passwords in plain text (``keyrings.alt``'s ``PlaintextKeyring``) is *not* used
unless the user chose it explicitly (``PYTHON_KEYRING_BACKEND`` or the keyring configuration file): otherwise a
password would land in a plain file without anybody having asked for that. When only the ``fail`` back end is
left, :class:`~engine.errors.KeyringUnavailable` says so and what to do.

Every password read or stored is registered with :mod:`engine.redact`, so it is masked in every later text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.core
import keyring.errors

from engine.context import Context
from engine.errors import CredentialsError, InputError, KeyringUnavailable
from engine.events import Emitter
from engine.fsutil import atomic_write_text
from engine.redact import register_credentials, register_secret

SERVICE_PREFIX = "ocp-airgap:"

_NO_STORE = ("keyring.backends.fail.", "keyring.backends.null.")
_PLAINTEXT = ("keyrings.alt.",)

KEYRING_FIX = (
    "Start and unlock a Secret Service (GNOME Keyring or KWallet; on a server: "
    "'dbus-run-session -- sh -c \"echo -n PASS | gnome-keyring-daemon --unlock --components=secrets; ...\"'), "
    "or enter the password each time it is needed, or — only if you accept a plain-text file — set "
    "mirror.password_file in the plan (the file is written with mode 0600)."
)

Ask = Callable[[str], str]
"""Asks the user for a secret; gets the prompt, returns the answer ('' when declined)."""


def service_name(registry: str) -> str:
    return SERVICE_PREFIX + registry


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class KeyringInfo:
    backend: str
    """Fully qualified class of the back end passwords are written to."""
    available: bool
    """A password can be stored and read back."""
    plaintext: bool
    """The back end keeps passwords in a plain file."""
    explicit: bool
    """The user chose the back end (PYTHON_KEYRING_BACKEND or the keyring configuration file)."""

    @property
    def usable(self) -> bool:
        return self.available and (not self.plaintext or self.explicit)

    def describe(self) -> str:
        if not self.available:
            return f"no system keyring is available (only {self.backend})"
        if self.plaintext and not self.explicit:
            return (
                f"the only keyring back end is {self.backend}, which stores passwords in a plain file; "
                "it is not used unless you choose it explicitly"
            )
        kind = "plain-text file, chosen explicitly" if self.plaintext else "system keyring"
        return f"{self.backend} ({kind})"


def _write_backend(kr: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend | None:
    """The back end a ``set_password`` lands in (the chainer writes to its first back end)."""
    backends = getattr(kr, "backends", None)
    if backends is not None and "chainer" in type(kr).__module__:
        return backends[0] if backends else None
    return kr


def keyring_info() -> KeyringInfo:
    kr = keyring.get_keyring()
    target = _write_backend(kr)
    explicit = bool(os.environ.get("PYTHON_KEYRING_BACKEND")) or _configured()
    if target is None:
        return KeyringInfo(_qualname(kr), False, False, explicit)
    name = _qualname(target)
    available = not name.startswith(_NO_STORE)
    return KeyringInfo(name, available, name.startswith(_PLAINTEXT), explicit)


def _configured() -> bool:
    try:
        return keyring.core.load_config() is not None
    except Exception:  # a broken keyringrc is the keyring library's business; it is not a choice we can see
        return False


def _usable() -> keyring.backend.KeyringBackend:
    info = keyring_info()
    if not info.usable:
        raise KeyringUnavailable(info.describe().capitalize() + ".", fix=KEYRING_FIX)
    return keyring.get_keyring()


def store_password(registry: str, username: str, password: str, emit: Emitter | None = None) -> KeyringInfo:
    """Keep the mirror password in the system keyring. Raises KeyringUnavailable if there is none."""
    if not registry or not username:
        raise CredentialsError(
            "the mirror registry and user name are needed to store a password",
            fix="Set mirror.registry and mirror.username in the plan.",
        )
    if not password:
        raise CredentialsError("the password is empty", fix="Give the mirror registry password.")
    register_credentials(username, password)
    kr = _usable()
    try:
        kr.set_password(service_name(registry), username, password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(
            f"the keyring refused to store the password ({type(exc).__name__}: {exc})", fix=KEYRING_FIX
        ) from None
    info = keyring_info()
    if emit is not None:
        emit.command(
            [
                "secret-tool",
                "store",
                "--label",
                f"{service_name(registry)} {username}",
                "service",
                service_name(registry),
                "username",
                username,
            ],
            note="what the keyring stored; secret-tool reads the password from stdin",
        )
        emit.info(f"Stored the password of {username} on {registry} in {info.describe()}.")
        if info.plaintext:
            emit.warning(
                f"{info.backend} keeps the password in a plain file, as you chose in the keyring configuration."
            )
    return info


def lookup_password(registry: str, username: str) -> str | None:
    """The password from the keyring, or None when it has none (or there is no usable keyring)."""
    if not keyring_info().usable:
        return None
    try:
        value = keyring.get_keyring().get_password(service_name(registry), username)
    except keyring.errors.KeyringError:
        return None
    if value:
        register_credentials(username, value)
    return value


def delete_password(registry: str, username: str) -> bool:
    kr = _usable()
    try:
        kr.delete_password(service_name(registry), username)
    except keyring.errors.PasswordDeleteError:
        return False
    return True


def write_password_file(path: str | os.PathLike[str], password: str) -> Path:
    """Only when the user explicitly chooses a plain-text password file: write it atomically with mode 0600."""
    if not password:
        raise CredentialsError("the password is empty", fix="Give the mirror registry password.")
    register_secret(password)
    p = Path(path)
    atomic_write_text(p, password + "\n", mode=0o600)
    return p


def read_password_file(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(
            f"password file {p} does not exist",
            fix="Correct mirror.password_file in the plan, or remove it to use the system keyring.",
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"password file {p} can be read by other users (mode {stat.S_IMODE(st.st_mode):o})",
            fix=f"Restrict it: chmod 600 {p}",
        )
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"password file {p} is not a regular file (a folder?)",
            fix="Give the file that holds the password in mirror.password_file.",
        )
    try:
        value = p.read_text(encoding="utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(
            f"password file {p} is not UTF-8 text", fix="Write the password as one line of text into it."
        ) from None
    except OSError as exc:
        raise CredentialsError(
            f"cannot read password file {p}: {exc.strerror}",
            fix=f"Make it readable by this user only: chmod 600 {p} (and check its owner).",
        ) from None
    if not value:
        raise CredentialsError(f"password file {p} is empty", fix="Write the password into it, or remove it.")
    register_secret(value)
    return value


def mirror_password(ctx: Context, ask: Ask | None = None, *, username: str = "") -> str:
    """The mirror registry password: keyring, then the explicit password file, then asking the user."""
    plan = ctx.plan
    registry = plan.mirror.registry
    user = username or plan.mirror.username
    if not registry or not user:
        raise CredentialsError(
            "the mirror registry or its user name is not set",
            fix="Set mirror.registry and mirror.username in the plan.",
        )
    info = keyring_info()
    if info.usable:
        value = lookup_password(registry, user)
        if value:
            ctx.emit.debug(f"Using the password of {user} on {registry} from {info.backend}.")
            return value
    if plan.mirror.password_file:
        value = read_password_file(plan.resolve_path(plan.mirror.password_file))
        register_credentials(user, value)
        return value
    if ask is not None:
        if not info.usable:
            ctx.emit.warning(f"{info.describe().capitalize()}: the password is asked each time it is needed.")
        value = ask(f"Password of {user} on the mirror registry {registry}: ")
        if value:
            register_credentials(user, value)
            return value
        raise CredentialsError("no password was given", fix="Enter the mirror registry password.")
    if not info.usable:
        raise KeyringUnavailable(info.describe().capitalize() + ".", fix=KEYRING_FIX)
    raise CredentialsError(
        f"the keyring has no password for {user} on {registry}",
        fix=f"Store it once with: ocp-airgap credentials store-password --plan PLAN (service {service_name(registry)}).",
    )


__all__ = [
    "KEYRING_FIX",
    "SERVICE_PREFIX",
    "KeyringInfo",
    "delete_password",
    "keyring_info",
    "lookup_password",
    "mirror_password",
    "read_password_file",
    "service_name",
    "store_password",
    "write_password_file",
]
