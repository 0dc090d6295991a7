"""The lab's small web server: release signature store + update graph (``python -m sandbox.httpd --config F``).

Paths, as on the real public services:

* ``GET /pub/openshift-v4/signatures/openshift/release/sha256=<hex>/signature-<N>`` — a signature blob from the
  store folder, 404 when it does not exist (the CVO and ``oc`` stop searching at the first 404);
* ``GET /api/upgrades_info/v1/graph?channel=<c>&arch=<a>`` — Cincinnati graph JSON; without ``channel``:
  400 ``{"kind":"missing_params","value":"mandatory client parameters missing: channel"}``; an unknown
  channel or architecture gives an empty graph, like api.openshift.com.

Config (JSON): ``listen_host``, ``port`` (0 = any), ``port_file``, ``log_file``, ``sigstore_dir``,
``graph_file`` (``{"channels": {name: graph}, "arch": "amd64"}``), optional ``tls`` {cert, key}.
Also holds the helpers the other lab servers share (:class:`LabHTTPServer`, :func:`serve`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.fsutil import atomic_write_text

SIGSTORE_PREFIX = "/pub/openshift-v4/signatures/openshift/release"
GRAPH_PATH = "/api/upgrades_info/v1/graph"
_SIG_PATH = re.compile(r"^/(sha256)=([0-9a-f]{64})/signature-([1-9][0-9]?)$")
_JSON_TYPES = ("application/json", "application/vnd.redhat.cincinnati.v1+json")


class LabHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer on loopback with optional TLS and a log file."""

    daemon_threads = True
    block_on_close = False
    _log_lock = threading.Lock()
    log_file: Path | None = None

    @classmethod
    def from_config(cls, cfg: dict[str, Any], handler: type[BaseHTTPRequestHandler]) -> Any:
        host = cfg.get("listen_host", "127.0.0.1")
        if ":" in host:
            cls.address_family = socket.AF_INET6
        server = cls((host, int(cfg.get("port", 0))), handler)
        tls = cfg.get("tls")
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls["cert"], tls["key"])
            server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.log_file = Path(cfg["log_file"]) if cfg.get("log_file") else None
        return server

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def log(self, message: str) -> None:
        if self.log_file is None:
            return
        line = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + message + "\n"
        with self._log_lock, contextlib.suppress(OSError), open(self.log_file, "a") as f:
            f.write(line)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        self.log(f"error serving {client_address}: {exc!r}")


def serve(server: LabHTTPServer, cfg: dict[str, Any]) -> int:
    """Write the port file (after the socket listens), serve until SIGTERM/SIGINT, exit promptly."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if cfg.get("port_file"):
        atomic_write_text(Path(cfg["port_file"]), f"{server.port}\n", mode=0o644)
    server.log(f"listening on {server.server_address[0]!s}:{server.port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
        server.log("stopped")
    return 0


PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """A lab server started as ``python -m <module> --config <file>`` that writes its port to a port file."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(timeout)

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} pid {self.pid} port {self.port}>"


def start_server(
    name: str,
    module: str,
    config: dict[str, Any],
    config_path: Path,
    *,
    timeout: float = 15.0,
    probe_path: str = "/",
) -> ServerProcess:
    """Write ``config`` to ``config_path``, start ``python -m module --config config_path`` in its own session,
    wait for ``config["port_file"]`` and for an HTTP answer on that port; raise SandboxError with the log tail."""
    from sandbox.registry import SandboxError, log_tail, wait_http

    port_file = Path(config["port_file"])
    log_path = Path(config.get("log_file") or config_path.with_suffix(".log"))
    with contextlib.suppress(FileNotFoundError):
        port_file.unlink()
    atomic_write_text(config_path, json.dumps(config, indent=2), mode=0o600)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=config_path.parent,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    port = 0
    while True:
        with contextlib.suppress(OSError, ValueError):
            port = int(port_file.read_text().strip())
        if port:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    ok = bool(port) and wait_http(
        "127.0.0.1",
        port,
        tls=bool(config.get("tls")),
        deadline=deadline,
        alive=lambda: proc.poll() is None,
        path=probe_path,
    )
    if not ok:
        code = proc.poll()
        server = ServerProcess(name, proc, port, log_path)
        server.stop()
        why = f"exited with status {code}" if code is not None else f"was not ready within {timeout:.0f} s"
        raise SandboxError(
            f"the {name} server ({module}) {why}. Log ({log_path}):\n{log_tail(log_path)}",
            fix="Read the log lines above for the cause.",
        )
    return ServerProcess(name, proc, port, log_path)


class LabHandler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.server.log(f"{self.address_string()} {format % args}")

    def _send(self, code: int, body: bytes, content_type: str, *, head: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, code: int, obj: Any, *, head: bool = False) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", head=head)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        url = urlsplit(self.path)
        if url.path.startswith(SIGSTORE_PREFIX + "/"):
            self._signature(url.path[len(SIGSTORE_PREFIX) :], head)
        elif url.path.rstrip("/") == GRAPH_PATH:
            self._graph(parse_qs(url.query), head)
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8", head=head)

    def _signature(self, rest: str, head: bool) -> None:
        m = _SIG_PATH.match(rest)
        if not m:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", head=head)
            return
        p = self.server.sigstore_dir / f"{m.group(1)}={m.group(2)}" / f"signature-{m.group(3)}"
        try:
            data = p.read_bytes()
        except OSError:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", head=head)
            return
        self._send(200, data, "application/octet-stream", head=head)

    def _graph(self, query: dict[str, list[str]], head: bool) -> None:
        accept = self.headers.get("Accept", "")
        if accept and not any(t in accept for t in (*_JSON_TYPES, "*/*", "application/*")):
            self._json(
                406,
                {"kind": "invalid_content_type", "value": f"unsupported content type {accept!r}"},
                head=head,
            )
            return
        channel = (query.get("channel") or [""])[0]
        if not channel:
            self._json(
                400,
                {"kind": "missing_params", "value": "mandatory client parameters missing: channel"},
                head=head,
            )
            return
        arch = (query.get("arch") or [self.server.graph_arch])[0]
        graph = self.server.graphs.get(channel) if arch == self.server.graph_arch else None
        if graph is None:
            graph = {"version": 1, "nodes": [], "edges": [], "conditionalEdges": []}
        self._json(200, graph, head=head)


class SandboxHTTPServer(LabHTTPServer):
    sigstore_dir: Path
    graphs: dict[str, Any]
    graph_arch: str


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sandbox.httpd", description="Signature store + update graph."
    )
    ap.add_argument("--config", required=True, help="JSON config file")
    args = ap.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    server = SandboxHTTPServer.from_config(cfg, LabHandler)
    server.sigstore_dir = Path(cfg["sigstore_dir"])
    graph_doc = json.loads(Path(cfg["graph_file"]).read_text()) if cfg.get("graph_file") else {}
    server.graphs = graph_doc.get("channels", {})
    server.graph_arch = graph_doc.get("arch", "amd64")
    return serve(server, cfg)


if __name__ == "__main__":
    sys.exit(main())
