"""Shared fixtures: the sandbox lab.

* ``sandbox`` (session): one running lab for the whole test session (per xdist worker), brought up in a temporary
  folder with an accelerated clock and brought down at the end. Tests that change the simulated cluster in
  ways others would notice should use their own lab instead.
* ``sandbox_factory`` (function): ``make(**kw) -> SandboxInfo`` brings up a private lab (same keyword arguments as
  :func:`sandbox.lab.up`); every lab made is brought down after the test and its processes checked gone.

The clock speed for tests is ``OCP_AIRGAP_TEST_SPEED`` (default 600 simulated seconds per real second).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The tests read English output unless they ask for another language (--lang, or LANG in a child's environment):
# the caller's locale (e.g. ja_JP.UTF-8) must not change what the commands they start print.
for _var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_var, None)
os.environ["LANG"] = "C.UTF-8"

TEST_SPEED = float(os.environ.get("OCP_AIRGAP_TEST_SPEED", "600"))
_MISSING = [tool for tool in ("docker-registry", "skopeo") if shutil.which(tool) is None]


def _require_tools() -> None:
    if _MISSING and os.environ.get("CI"):
        pytest.fail(f"CI must have {', '.join(_MISSING)}: scripts/bootstrap.sh installs them")
    if _MISSING:
        pytest.skip(f"the sandbox lab needs {', '.join(_MISSING)} (apt-get install docker-registry skopeo)")


def _bring_down(directory: Path) -> None:
    from sandbox.lab import down, status

    down(directory)
    left = {name: s["pid"] for name, s in status(directory).items() if s["alive"]}
    assert not left, f"lab processes still running after down(): {left}"


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's own journals, auth files or containers config."""
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running lab shared by the session: a :class:`sandbox.lab.SandboxInfo`."""
    _require_tools()
    from sandbox.lab import up

    directory = tmp_path_factory.mktemp("sandbox")
    try:
        info = up(directory, speed=TEST_SPEED)
    except BaseException:
        _bring_down(directory)
        raise
    try:
        yield info
    finally:
        _bring_down(directory)


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make(**kw)`` brings up a private lab in tmp_path (keyword arguments of sandbox.lab.up)."""
    _require_tools()
    from sandbox.lab import up

    made: list[Path] = []

    def make(**kw: Any) -> Any:
        directory = tmp_path / f"lab{len(made)}"
        made.append(directory)
        kw.setdefault("speed", TEST_SPEED)
        return up(directory, **kw)

    try:
        yield make
    finally:
        for directory in made:
            _bring_down(directory)
