"""Small helpers every layer needs, written once: release version parsing, digest patterns, byte and duration
formatting."""

from __future__ import annotations

import re

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
