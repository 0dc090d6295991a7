"""Small helpers every layer needs, written once: release version parsing, digest patterns, byte and duration
formatting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

DIGEST_PATTERN = r"sha256:[0-9a-f]{64}"
DIGEST = re.compile(rf"^{DIGEST_PATTERN}$")
"""A sha256 content digest as OCI registries and OpenShift write it (``sha256:<64 lowercase hex>``)."""
BY_DIGEST = re.compile(rf"^\S+@{DIGEST_PATTERN}$")
"""A pull spec that names its image by digest (``host/repo@sha256:…``)."""

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_MINOR = re.compile(r"^v?(\d+)\.(\d+)")
_LEADING = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def is_digest(value: str) -> bool:
    return bool(DIGEST.match(value or ""))


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key for release versions (a pre-release sorts before its release; unparsable sorts first)."""
    m = _VERSION.match(version or "")
    if not m:
        return (-1, -1, -1, 0, version)
    pre = m.group(4) or ""
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre)


def is_version(version: str) -> bool:
    return bool(_VERSION.match(version or ""))


def minor_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version like ``4.16.18`` (or ``4.16``, ``v4.16``); None when it is not one."""
    m = _MINOR.match(version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) from the leading part of a version (missing patch → 0); () when not a version."""
    m = _LEADING.match(version or "")
    return tuple(int(x) for x in m.groups(default="0")) if m else ()


def format_bytes(n: float) -> str:
    """Binary units, one decimal (``1.5 GiB``), whole bytes below 1 KiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_duration(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``."""
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def plain_http_warning(url: str, what: str) -> str:
    """The warning for an outside endpoint reached over plain ``http://`` (empty when it is not)."""
    if not url.lower().startswith("http://"):
        return ""
    return (
        f"{what} {url} is plain http://: what it answers can be read and changed on the way (use https:// "
        "unless this is a trusted local copy)"
    )


def same_host_redirects(what: str) -> Callable[[Any], None]:
    """An httpx response hook: a redirect to another host is not followed silently. It raises an error naming
    both hosts (the fix: set the endpoint to the new location if it is trusted)."""
    from urllib.parse import urlsplit

    from engine.errors import AirgapError

    def hook(response: Any) -> None:
        location = response.headers.get("location") if response.is_redirect else None
        if not location:
            return
        here = urlsplit(str(response.request.url))
        there = urlsplit(str(response.request.url.join(location)))
        if (here.hostname, here.port) != (there.hostname, there.port):
            raise AirgapError(
                f"{what} at {here.scheme}://{here.netloc} redirected to another host, "
                f"{there.scheme}://{there.netloc}: not followed",
                fix=f"If that host is the one to trust, set the endpoint to it in the plan; otherwise check {what} "
                "URL and the network path (a proxy or captive portal may be answering).",
                title="Redirect to another host",
            )

    return hook


def why_not_a_file(path: Any) -> str:
    """Why ``path`` cannot be read as a file, in plain words: 'is a folder, not a file' or 'does not exist'."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        return "is a folder, not a file"
    if p.exists():
        return "is not a regular file"
    return "does not exist"


def why_not_a_folder(path: Any) -> str:
    """Why ``path`` cannot be used as a folder: 'is a file, not a folder' or 'does not exist'."""
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        return "is a file, not a folder"
    return "does not exist"
