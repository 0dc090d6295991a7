"""Real ``docker-registry`` (CNCF distribution 2.8) processes for the lab and the tests.

A :class:`RegistryProcess` owns a folder (config, storage, log), listens on a fixed loopback port chosen once,
and can be stopped and started again on the same port and storage (the fault-injection tests do that).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import bcrypt

from engine.errors import AirgapError
from engine.fsutil import atomic_write_text

if TYPE_CHECKING:
    from sandbox.tokenserver import TokenAuth


class SandboxError(AirgapError):
    """A lab component could not be started or used; the message says which and why."""

    title = "Sandbox error"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the kernel picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_htpasswd(path: str | Path, users: Mapping[str, str], *, rounds: int = 5) -> Path:
    """Write an htpasswd file with bcrypt hashes (mode 0600). Low cost rounds: it is a test lab."""
    lines = []
    for user, password in users.items():
        if ":" in user or not user:
            raise ValueError(f"invalid htpasswd user name {user!r}")
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()
        lines.append(f"{user}:{hashed}\n")
    p = Path(path)
    atomic_write_text(p, "".join(lines), mode=0o600)
    return p


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def wait_http(
    host: str,
    port: int,
    *,
    tls: bool,
    deadline: float,
    alive: object = None,
    path: str = "/v2/",
) -> bool:
    """Poll until ``GET path`` gets any HTTP answer. ``alive`` is a callable returning False when the server died."""
    ctx: ssl.SSLContext | None = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    while True:
        try:
            with socket.create_connection((host, port), timeout=1) as raw:
                sock: socket.socket = ctx.wrap_socket(raw, server_hostname=host) if ctx else raw
                sock.sendall(request)
                if sock.recv(12).startswith(b"HTTP/1."):
                    return True
        except OSError:
            pass
        if callable(alive) and not alive():
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def registry_binary() -> str:
    found = shutil.which("docker-registry") or shutil.which("registry")
    if not found:
        raise SandboxError(
            "the docker-registry program is not installed",
            fix="Install it: apt-get install -y --no-install-recommends docker-registry skopeo",
        )
    return found


class RegistryProcess:
    """One ``docker-registry serve`` process.

    ``root`` holds ``config.yml``, ``data/`` (storage) and ``registry.log``. ``tls`` is ``(cert, key)`` or None
    for plain HTTP; ``htpasswd`` the path of a bcrypt htpasswd file or None for anonymous access; ``token``
    distribution's bearer-token auth against a token service (:mod:`sandbox.tokenserver`) instead."""

    def __init__(
        self,
        root: str | Path,
        *,
        tls: tuple[str | Path, str | Path] | None = None,
        htpasswd: str | Path | None = None,
        port: int | None = None,
        realm: str = "ocp-airgap-sandbox",
        log_level: str = "warn",
        token: TokenAuth | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.tls = (Path(tls[0]).absolute(), Path(tls[1]).absolute()) if tls else None
        self.htpasswd = Path(htpasswd).absolute() if htpasswd else None
        self.port = port or free_port()
        self.realm = realm
        self.log_level = log_level
        self.token = token
        if token is not None and htpasswd is not None:
            raise SandboxError("a registry takes either htpasswd or token auth, not both")
        self.proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        if self.htpasswd is not None and not self.htpasswd.exists():
            # distribution 2.8 would otherwise invent a user "docker" with a random password
            raise SandboxError(
                f"htpasswd file {self.htpasswd} does not exist",
                fix="Create it first with sandbox.registry.make_htpasswd().",
            )

    # ----- addresses ---------------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return ("https" if self.tls else "http") + f"://{self.host}"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def pid(self) -> int | None:
        return self._pid

    # ----- lifecycle ---------------------------------------------------------------------------------------
    def write_config(self) -> Path:
        cfg = [
            "version: 0.1",
            "log:",
            f"  level: {self.log_level}",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.data_dir}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {self.host}",
            "  secret: ocp-airgap-sandbox-not-a-secret",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
        ]
        if self.tls:
            cfg += ["  tls:", f"    certificate: {self.tls[0]}", f"    key: {self.tls[1]}"]
        if self.htpasswd:
            cfg += ["auth:", "  htpasswd:", f"    realm: {self.realm}", f"    path: {self.htpasswd}"]
        if self.token:
            # distribution registry/auth/token/accesscontroller.go: checkOptions wants these four
            cfg += [
                "auth:",
                "  token:",
                f"    realm: {self.token.realm}",
                f"    service: {self.token.service}",
                f"    issuer: {self.token.issuer}",
                f"    rootcertbundle: {self.token.rootcertbundle}",
            ]
        atomic_write_text(self.config_path, "\n".join(cfg) + "\n", mode=0o644)
        return self.config_path

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 15.0) -> RegistryProcess:
        """Start the registry and return once ``/v2/`` answers; raise SandboxError with the log tail if not."""
        if self.running():
            return self
        self.write_config()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [registry_binary(), "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # survives the terminal that ran "sandbox up"
            )
        self._pid = self.proc.pid
        ok = wait_http(
            "127.0.0.1",
            self.port,
            tls=self.tls is not None,
            deadline=time.monotonic() + timeout,
            alive=self.running,
        )
        if not ok:
            code = self.proc.poll()
            self.stop()
            why = (
                f"exited with status {code}" if code is not None else f"did not answer within {timeout:.0f} s"
            )
            raise SandboxError(
                f"docker-registry on {self.host} {why}. Log ({self.log_path}):\n{log_tail(self.log_path)}",
                fix="Read the log lines above: a port already in use or a certificate/key mismatch are the usual causes.",
            )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout)

    def restart(self, timeout: float = 15.0) -> RegistryProcess:
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> RegistryProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self._pid}" if self.running() else "stopped"
        return f"<RegistryProcess {self.url} {state}>"


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as gone; our own zombie children are reaped)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state = stat.rsplit(b")", 1)[-1].split()[0:1]
    return state != [b"Z"]


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout``, then SIGKILL. Returns True if it is gone afterwards."""
    if not pid_alive(pid):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.01)
    return not pid_alive(pid)
