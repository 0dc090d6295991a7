"""Small version helpers shared by the initial state and the simulated operators."""

from __future__ import annotations

import hashlib
import re

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


def parse(version: str) -> tuple[int, int, int] | None:
    m = _SEMVER.match(version or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def minor_of(version: str) -> tuple[int, int] | None:
    p = parse(version)
    return None if p is None else (p[0], p[1])


def kube_version(ocp_version: str) -> str:
    """The Kubernetes version an OpenShift release ships (4.16 -> 1.29, 4.17 -> 1.30), with an OpenShift-like
    ``+<commit>`` suffix derived from the release version."""
    p = parse(ocp_version) or (4, 16, 0)
    kube_minor = p[1] + 13 if p[0] == 4 else 29
    patch = p[2] // 2 + 1
    suffix = hashlib.sha1(ocp_version.encode()).hexdigest()[:7]
    return f"v1.{kube_minor}.{patch}+{suffix}"


def rhcos_version(ocp_version: str) -> str:
    p = parse(ocp_version) or (4, 16, 0)
    return f"4{p[1]}.94.2024{(p[2] % 12) + 1:02d}01-0"
