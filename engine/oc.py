"""The ``oc`` client: find it, read its version, run it with live output, and render equivalent commands.

Every engine action emits the ``oc`` command that does the same by hand (``Emitter.command``); the helpers
here build those argv lists so the rendering is consistent everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import AirgapError, ToolMissing
from engine.events import Emitter, Level
from engine.proc import ProcResult, run_streaming


@dataclass(frozen=True)
class OcVersion:
    client: str
    """e.g. '4.17.3' (release client version), or a git version such as 'v4.2.0-alpha.0-1234-gabc' for dev builds."""

    @property
    def major_minor(self) -> tuple[int, int] | None:
        m = re.match(r"v?(\d+)\.(\d+)", self.client)
        return (int(m.group(1)), int(m.group(2))) if m else None

    @property
    def semver(self) -> tuple[int, int, int] | None:
        m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", self.client)
        return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def find_oc(path: str = "") -> str:
    """The oc binary: the plan's ``oc_path``, else ``$OC``, else ``oc`` on $PATH."""
    candidate = path or os.environ.get("OC", "")
    if candidate:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        raise ToolMissing(
            f"oc was not found at {candidate}", fix="Correct oc_path in the plan, or unset $OC."
        )
    found = shutil.which("oc")
    if not found:
        raise ToolMissing(
            "oc (the OpenShift CLI) is not on PATH",
            fix="Download the oc of the target release from the OpenShift mirror and put it on PATH "
            "(ocp-airgap does every step itself; oc is needed only for the oc backends and to follow along by hand).",
        )
    return found


def oc_version(oc: str) -> OcVersion:
    """``oc version --client -o json`` → releaseClientVersion (or clientVersion.gitVersion)."""
    res = run_streaming([oc, "version", "--client", "-o", "json"], timeout=30)
    if not res.ok:
        raise AirgapError(f"'{oc} version' failed: {res.tail()}", fix="Check that oc runs on this host.")
    try:
        doc = json.loads("\n".join(res.stdout))
    except json.JSONDecodeError:
        raise AirgapError(f"'{oc} version' printed something unexpected: {res.tail()}") from None
    version = doc.get("releaseClientVersion") or doc.get("clientVersion", {}).get("gitVersion", "")
    return OcVersion(client=str(version))


def run_oc(
    oc: str,
    args: Sequence[str],
    emit: Emitter,
    *,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
    kubeconfig: str = "",
) -> ProcResult:
    """Run ``oc <args>``, showing the command and streaming its output as log lines."""
    argv = [oc, *args]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    emit.command(["oc", *args])

    def on_line(stream: str, line: str) -> None:
        emit.log(line, Level.WARNING if stream == "stderr" and "error" in line.lower() else Level.INFO)

    return run_streaming(argv, on_line=on_line, cancel=cancel, env=env)
