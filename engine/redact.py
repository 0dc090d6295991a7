"""The one place that removes credentials from anything that may be shown, logged or journaled.

Two mechanisms work together:

- *Patterns* that look like credentials wherever they appear: ``"auth": "<base64>"`` members of auth files,
  ``password``/``token`` fields, ``Authorization`` headers, ``user:password@`` in URLs, OpenShift ``sha256~``
  tokens, ``--password``/``--creds``/``--token`` command-line values.
- *Known secrets*: values the engine has in hand (a password read from the keyring, a bearer token from the
  kubeconfig) are registered with :func:`register_secret`; every later text has them (and their base64
  forms) replaced, even where no pattern would match.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "<redacted>"

_SECRET_KEYS = frozenset(
    {
        "auth",
        "password",
        "passwd",
        "token",
        "identitytoken",
        "registrytoken",
        "access_token",
        "refresh_token",
        "secret",
        "client-key-data",
        "client_key_data",
        ".dockerconfigjson",
        ".dockercfg",
        "bearer_token",
    }
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JSON / YAML members whose value is a credential: "auth": "...", password: ..., token: ...
    (
        re.compile(
            r"""(?ix)
            (?<!from-file=)  # oc's --from-file=.dockerconfigjson=<path> names a file, not a secret
            (["']?(?:auth|password|passwd|token|identitytoken|registrytoken|access_token|refresh_token|
                     client-key-data|\.dockerconfigjson)["']?\s*[:=]\s*)
            (?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}\]]+)
            """
        ),
        r"\1" + '"' + MASK + '"',
    ),
    # HTTP Authorization headers and bare scheme values
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?:basic|bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"), r"\1 " + MASK),
    # user:password@host in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@"), r"\1\2:" + MASK + "@"),
    # OpenShift OAuth tokens
    (re.compile(r"sha256~[A-Za-z0-9_-]{10,}"), "sha256~" + MASK),
    # command-line credentials: --password X, --password=X, --creds user:pass, --token=X, -p X for login
    (
        re.compile(
            r"(?i)(--(?:password|passwd|token|creds|src-creds|dest-creds|registry-token|auth-basic)[= ])(\S+)"
        ),
        r"\1" + MASK,
    ),
]

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | bytes | None) -> None:
    """Remember a secret value so that it is masked wherever it shows up later.

    The value's base64 encodings are registered too (a password ends up inside ``auth`` strings)."""
    if not value:
        return
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if len(text) < 4:
        # Too short to mask safely without destroying ordinary text; patterns still apply.
        return
    forms = {text, base64.b64encode(text.encode()).decode()}
    with _known_lock:
        _known.update(f for f in forms if f)


def register_credentials(username: str, password: str) -> None:
    """Register a registry login: the password and the ``base64(user:password)`` auth string."""
    register_secret(password)
    pair = f"{username}:{password}"
    register_secret(pair)
    register_secret(base64.b64encode(pair.encode()).decode())


def forget_all_secrets() -> None:
    """For tests."""
    with _known_lock:
        _known.clear()


def redact(text: str) -> str:
    """Return ``text`` with every credential masked."""
    if not text:
        return text
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_obj(obj: Any) -> Any:
    """Deep-copy ``obj`` (dicts, lists, strings) with credential-bearing keys and known secrets masked."""
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str) and key.lower() in _SECRET_KEYS and value not in (None, "", {}):
                out[key] = MASK
            else:
                out[key] = redact_obj(value)
        return out
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, str):
        return redact(obj)
    return obj
