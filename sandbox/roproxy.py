"""A read-only front for a docker-registry: ``python -m sandbox.roproxy --config proxy.json``.

docker-registry's htpasswd auth has no per-user rights, so a "read-only account" is simulated with this proxy:
it forwards GET and HEAD (with the client's credentials) to the real registry and answers every write
(POST, PUT, PATCH, DELETE) the way a registry denies a push to an account without write access::

    403 {"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}

A write without valid credentials still gets the registry's own 401 (the proxy asks the registry first),
so wrong password → 401 and read-only account → 403, like quay.io and most enterprise registries.

Config (JSON): ``listen_host``, ``port`` (0 = any), ``port_file``, ``tls`` {cert, key}, ``upstream``
(``https://127.0.0.1:PORT``), ``upstream_ca`` (PEM file), ``log_file``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sandbox.httpd import LabHTTPServer, ServerProcess, serve, start_server

DENIED = json.dumps(
    {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}
).encode()
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
_CHUNK = 1 << 20


class ProxyHandler(BaseHTTPRequestHandler):
    server: ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.server.log(f"{self.address_string()} {format % args}")

    # ----- helpers ---------------------------------------------------------------------------------------
    def _upstream(self) -> http.client.HTTPConnection:
        u = urlsplit(self.server.upstream)
        host, port = u.hostname or "127.0.0.1", u.port
        if u.scheme == "https":
            return http.client.HTTPSConnection(host, port, context=self.server.upstream_ctx, timeout=60)
        return http.client.HTTPConnection(host, port, timeout=60)

    def _forward_headers(self) -> list[tuple[str, str]]:
        # keep repeated headers (Go clients send one Accept line per media type)
        out = [
            (k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
        ]
        out.append(("Host", urlsplit(self.server.upstream).netloc))
        return out

    def _drain_body(self) -> None:
        """Read and drop a request body so the client sees our answer instead of a reset connection."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    got = self.rfile.read(min(remaining, _CHUNK))
                    if not got:
                        return
                    remaining -= len(got)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            got = self.rfile.read(min(length, _CHUNK))
            if not got:
                return
            length -= len(got)

    def _relay(self, method: str, path: str, *, body: bool) -> None:
        conn = self._upstream()
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in self._forward_headers():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            self.log_request(resp.status)
            self.send_response_only(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() in _HOP_BY_HOP or k.lower() == "content-length":
                    continue
                self.send_header(k, v)
            chunked = False
            if length is not None:
                self.send_header("Content-Length", length)
            elif body and method != "HEAD":
                chunked = True
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if method == "HEAD" or not body:
                return
            while True:
                data = resp.read(_CHUNK)
                if not data:
                    break
                if chunked:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    self.wfile.write(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException) as exc:
            self.server.log(f"upstream error: {exc}")
            self.close_connection = True
            try:
                self.send_error(502, "registry behind the read-only proxy is unreachable")
            except OSError:
                pass
        finally:
            conn.close()

    # ----- verbs -----------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._relay("GET", self.path, body=True)

    def do_HEAD(self) -> None:
        self._relay("HEAD", self.path, body=False)

    def _deny(self) -> None:
        self._drain_body()
        # ask the registry whether these credentials are valid at all: bad ones keep their 401
        conn = self._upstream()
        try:
            headers = {"Host": urlsplit(self.server.upstream).netloc}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            conn.request("GET", "/v2/", headers=headers)
            check = conn.getresponse()
            check.read()
            status, challenge = check.status, check.getheader("WWW-Authenticate")
        except (OSError, http.client.HTTPException):
            status, challenge = 200, None
        finally:
            conn.close()
        if status == 401:
            body = json.dumps(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
            ).encode()
            self.send_response(401)
            if challenge:
                self.send_header("WWW-Authenticate", challenge)
        else:
            body = DENIED
            self.send_response(403)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_PATCH = do_DELETE = _deny


class ProxyServer(LabHTTPServer):
    upstream: str
    upstream_ctx: ssl.SSLContext


def start_roproxy(
    directory: str | Path,
    *,
    upstream: str,
    upstream_ca: str | Path | None,
    tls: tuple[str | Path, str | Path] | None,
    port: int = 0,
    timeout: float = 15.0,
) -> ServerProcess:
    """Start a read-only proxy in front of ``upstream`` (e.g. ``https://127.0.0.1:5000``); files go in ``directory``."""
    d = Path(directory).absolute()
    d.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "listen_host": "127.0.0.1",
        "port": port,
        "port_file": str(d / "port"),
        "log_file": str(d / "roproxy.log"),
        "upstream": upstream,
        "upstream_ca": str(Path(upstream_ca).absolute()) if upstream_ca else "",
    }
    if tls:
        cfg["tls"] = {"cert": str(Path(tls[0]).absolute()), "key": str(Path(tls[1]).absolute())}
    return start_server(
        "read-only registry proxy",
        "sandbox.roproxy",
        cfg,
        d / "config.json",
        timeout=timeout,
        probe_path="/v2/",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.roproxy", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="JSON config file")
    args = ap.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    ctx = ssl.create_default_context(cafile=cfg.get("upstream_ca") or None)
    server = ProxyServer.from_config(cfg, ProxyHandler)
    server.upstream = cfg["upstream"].rstrip("/")
    server.upstream_ctx = ctx
    return serve(server, cfg)


if __name__ == "__main__":
    sys.exit(main())
