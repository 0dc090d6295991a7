"""Fixtures for the mirroring tests.

The session ``sandbox`` lab plays the upstream side (its registry is quay.io, its web server the signature
store). Every test that writes gets its own *empty* mirror registry: a real ``docker-registry`` with TLS from a
CA made here and an htpasswd login, stopped (by PID) at teardown. ``skopeo`` is the reference peer that checks
what ended up in a registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.context import Context
from engine.events import Emitter, Recorder
from engine.plan import Plan
from engine.redact import register_secret
from sandbox.certs import CertPair, cert_dir_for, make_ca, make_server_cert
from sandbox.registry import RegistryProcess, make_htpasswd, pid_alive

MIRROR_USER = "mirror-writer"


@dataclass
class TargetRegistry:
    proc: RegistryProcess
    ca_file: Path
    cert_dir: Path
    user: str
    password: str

    @property
    def host(self) -> str:
        return self.proc.host

    def repositories(self) -> list[str]:
        """Repositories present in the storage folder (read from disk: nothing to do with our client)."""
        root = self.proc.data_dir / "docker" / "registry" / "v2" / "repositories"
        if not root.is_dir():
            return []
        return sorted(str(p.parent.relative_to(root)) for p in root.rglob("_manifests"))

    def blob_data(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return (
            self.proc.data_dir
            / "docker"
            / "registry"
            / "v2"
            / "blobs"
            / "sha256"
            / hexpart[:2]
            / hexpart
            / "data"
        )


@dataclass
class Pki:
    ca: CertPair
    server: CertPair
    no_san: CertPair
    expired: CertPair
    other_ca: CertPair


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("mirror-pki")
    ca = make_ca(d, "mirror-test-ca")
    return Pki(
        ca=ca,
        server=make_server_cert(ca, d, "server"),
        no_san=make_server_cert(ca, d, "server-no-san", san=False),
        expired=make_server_cert(ca, d, "server-expired", expired=True),
        other_ca=make_ca(d, "unrelated-ca"),
    )


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the tool's state (journals, caches, output files) inside the test's folder."""
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def registry_factory(tmp_path: Path, pki: Pki) -> Iterator[Callable[..., TargetRegistry]]:
    """``make(cert="server"|"no_san"|"expired") -> TargetRegistry``: an empty TLS + htpasswd registry."""
    made: list[RegistryProcess] = []

    def make(cert: str = "server", name: str = "") -> TargetRegistry:
        root = tmp_path / (name or f"registry{len(made)}")
        password = secrets.token_urlsafe(16)
        register_secret(password)
        ht = make_htpasswd(root / "htpasswd", {MIRROR_USER: password})
        pair: CertPair = getattr(pki, cert)
        proc = RegistryProcess(root, tls=(pair.cert, pair.key), htpasswd=ht)
        made.append(proc)
        proc.start()
        cert_dir = cert_dir_for(pki.ca.cert, root / "certs.d")
        return TargetRegistry(proc, pki.ca.cert, cert_dir, MIRROR_USER, password)

    yield make
    for proc in made:
        pid = proc.pid
        proc.stop()
        assert pid is None or not pid_alive(pid), f"registry pid {pid} still running"


def auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def write_auth(path: Path, sandbox: Any, extra: dict[str, dict[str, str]]) -> Path:
    """The sandbox's pull secret (upstream login) merged with ``extra`` entries, mode 0600."""
    doc = json.loads(Path(sandbox.auth_file).read_text())
    doc["auths"].update(extra)
    path.write_text(json.dumps(doc, indent=2))
    path.chmod(0o600)
    return path


@pytest.fixture
def make_plan(tmp_path: Path, sandbox: Any) -> Callable[..., Plan]:
    """``make(target, **fields) -> Plan`` for mirroring the lab's target release into ``target``, saved to a file."""
    counter = [0]

    def make(target: TargetRegistry | None = None, *, password: str | None = None, **fields: Any) -> Plan:
        counter[0] += 1
        plan = Plan.load(sandbox.plan)
        plan.mirror.username = ""
        plan.mirror.password_file = ""
        extra: dict[str, dict[str, str]] = {}
        if target is not None:
            plan.mirror.registry = target.host
            plan.mirror.ca_file = str(target.ca_file)
            extra[target.host] = auth_entry(
                target.user, password if password is not None else target.password
            )
        plan.auth_file = str(write_auth(tmp_path / f"auth{counter[0]}.json", sandbox, extra))
        for dotted, value in fields.items():
            section, _, name = dotted.partition("__")
            setattr(getattr(plan, section), name, value)
        plan.save(tmp_path / f"plan{counter[0]}.yaml")
        return plan

    return make


def context(plan: Plan) -> tuple[Context, Recorder]:
    rec = Recorder()
    return Context(plan, Emitter("mirror", rec)), rec


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=check, timeout=120)


def skopeo_raw(target: TargetRegistry, authfile: str, ref: str) -> bytes:
    """``skopeo inspect --raw`` of ``docker://<target>/<ref>`` (the manifest bytes as stored)."""
    res = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--authfile",
            authfile,
            "--cert-dir",
            str(target.cert_dir),
            f"docker://{target.host}/{ref}",
        ],
        capture_output=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
