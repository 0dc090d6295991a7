"""A link shaper for the lab: an HTTPS proxy on loopback that makes a registry look far away, slow or unreliable.

``Shaper(upstream=..., tls=..., link=Link(...), faults=Faults(...)).start()`` in a thread (tests, benchmarks), or
``python -m sandbox.shaper --config F`` as a process. Clients talk to the shaper's ``host:port`` as if it were the
registry (it serves the registry's own certificate, so the same CA is trusted); it forwards every request to the
registry over its own TLS connection (one upstream connection per client connection, so keep-alive behaves the
same) and applies, per the configuration:

* **latency**: ``rtt`` seconds per round trip — two round trips before a new connection's first request (TCP and
  TLS 1.3 handshakes) and one before each response (the request travels there, the answer starts back);
* **bandwidth**: ``rate`` bytes/s per direction, shared by every connection (one link, not one per connection),
  as a FIFO: each piece of a body waits until the link has sent what was queued before it;
* **faults**: cut a connection after every ``cut_every`` bytes of responses (``cut_mode`` ``close`` = FIN,
  ``reset`` = RST) or of request bodies (``cut_upload_every``); stall a response after ``stall_after`` bytes for
  ``stall_seconds`` (then close it); answer requests matching a rule with 429/503 and ``Retry-After``; refuse
  request bodies larger than ``max_body`` with 413, as nginx's ``client_max_body_size`` does (nginx reads and
  discards the body — "lingering close" — so the client sees the answer, then closes the connection).

It counts what crosses the link (``stats``: bytes each way, connections, cuts, stalls, answers injected). Bounded:
every wait is capped, and it stops by itself after ``max_seconds`` (default one hour).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sandbox.httpd import LabHTTPServer

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
PIECE = 64 * 1024


class _Cut(Exception):
    """The shaper drops this connection (fault injection)."""


@dataclass
class Rule:
    """Answer ``code`` (with ``Retry-After: retry_after``) instead of forwarding, to the first ``times`` requests
    whose method and path match (``path`` is a regular expression searched in the request path)."""

    code: int = 429
    method: str = ""
    path: str = ""
    retry_after: float = 1.0
    times: int = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.hits >= self.times:
            return False
        if self.method and self.method.upper() != method:
            return False
        return not self.path or re.search(self.path, path) is not None


@dataclass
class Link:
    rtt: float = 0.0
    """Seconds per round trip."""
    rate: float = 0.0
    """Bytes per second each way; 0 = no cap."""


@dataclass
class Faults:
    cut_every: int = 0
    """Cut the connection that carries the byte after every N bytes of responses (0 = never)."""
    cut_upload_every: int = 0
    """The same for request bodies."""
    cut_mode: str = "reset"
    """reset (RST) or close (FIN)."""
    cut_limit: int = 0
    """At most this many cuts in all (0 = no limit)."""
    stall_after: int = 0
    """Once, after this many response bytes: stop sending for ``stall_seconds``, then close (0 = never)."""
    stall_seconds: float = 30.0
    rules: list[Rule] = field(default_factory=list)
    max_body: int = 0
    """Request bodies larger than this get 413 (0 = no limit)."""


@dataclass
class Stats:
    bytes_down: int = 0
    """Response bytes (headers and bodies) sent to clients."""
    bytes_up: int = 0
    """Request bytes (headers and bodies) sent to the registry."""
    connections: int = 0
    requests: int = 0
    cuts: int = 0
    stalls: int = 0
    injected: int = 0
    too_large: int = 0

    @property
    def total(self) -> int:
        return self.bytes_down + self.bytes_up


class _Pipe:
    """One direction of the link: a FIFO with a byte rate."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = threading.Lock()

    def send(self, n: int) -> None:
        if self.rate <= 0 or n <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + n / self.rate
            wait = self._next - now
        if wait > 0:
            time.sleep(min(wait, 60.0))


class ShaperServer(LabHTTPServer):
    shaper: Shaper


class Shaper:
    """The shaper; change ``link`` and ``faults`` at any time (they are read per request and per piece)."""

    def __init__(
        self,
        upstream: str,
        *,
        tls: tuple[str | Path, str | Path],
        upstream_ca: str | Path | None = None,
        link: Link | None = None,
        faults: Faults | None = None,
        max_seconds: float = 3600.0,
        port: int = 0,
        log_file: str | Path | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        u = urlsplit(self.upstream)
        self._up_host, self._up_port = u.hostname or "127.0.0.1", u.port or 443
        self.upstream_ctx = ssl.create_default_context(cafile=str(upstream_ca) if upstream_ca else None)
        self.link = link or Link()
        self.faults = faults or Faults()
        self.stats = Stats()
        self.max_seconds = max_seconds
        self._down = _Pipe(self.link.rate)
        self._up = _Pipe(self.link.rate)
        self._lock = threading.Lock()
        self._stalled = False
        cfg = {
            "listen_host": "127.0.0.1",
            "port": port,
            "tls": {"cert": str(tls[0]), "key": str(tls[1])},
            "log_file": str(log_file) if log_file else "",
        }
        self.server: ShaperServer = ShaperServer.from_config(cfg, _Handler)
        self.server.shaper = self
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # ----- control ---------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_link(self, link: Link) -> None:
        self.link = link
        self._down.rate = link.rate
        self._up.rate = link.rate

    def reset_stats(self) -> Stats:
        with self._lock:
            old, self.stats = self.stats, Stats()
            self._stalled = False
        return old

    def start(self) -> Shaper:
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="shaper", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def __enter__(self) -> Shaper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- used by the handler -----------------------------------------------------------------------------
    def upstream_connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self._up_host, self._up_port, context=self.upstream_ctx, timeout=120
        )

    def count_down(self, n: int) -> tuple[bool, bool]:
        """Account ``n`` response bytes; (cut now, stall now)."""
        f = self.faults
        with self._lock:
            before = self.stats.bytes_down
            self.stats.bytes_down += n
            after = self.stats.bytes_down
            cut = f.cut_every > 0 and before // f.cut_every != after // f.cut_every
            cut = cut and not (f.cut_limit and self.stats.cuts >= f.cut_limit)
            stall = f.stall_after > 0 and not self._stalled and after >= f.stall_after
            if cut:
                self.stats.cuts += 1
            if stall:
                self._stalled = True
                self.stats.stalls += 1
        self._down.send(n)
        return cut, stall

    def count_up(self, n: int) -> bool:
        f = self.faults
        with self._lock:
            before = self.stats.bytes_up
            self.stats.bytes_up += n
            cut = (
                f.cut_upload_every > 0 and before // f.cut_upload_every != (before + n) // f.cut_upload_every
            )
            cut = cut and not (f.cut_limit and self.stats.cuts >= f.cut_limit)
            if cut:
                self.stats.cuts += 1
        self._up.send(n)
        return cut

    def rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.faults.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    self.stats.injected += 1
                    return rule
        return None


def _drop(sock: socket.socket, mode: str) -> None:
    if mode == "reset":
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        sock.shutdown(socket.SHUT_RDWR) if mode != "reset" else None
    except OSError:
        pass
    sock.close()


class _Handler(BaseHTTPRequestHandler):
    server: ShaperServer
    protocol_version = "HTTP/1.1"
    timeout = 300

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.server.log(f"{self.address_string()} {format % args}")

    def setup(self) -> None:
        super().setup()
        sh = self.server.shaper
        with sh._lock:
            sh.stats.connections += 1
        # a new connection: TCP and TLS handshakes, one round trip each
        if sh.link.rtt:
            time.sleep(min(2 * sh.link.rtt, 10.0))
        self._upconn: http.client.HTTPSConnection | None = None

    def finish(self) -> None:
        if self._upconn is not None:
            self._upconn.close()
        try:
            super().finish()
        except OSError:
            pass

    def _cut(self) -> None:
        sh = self.server.shaper
        self.server.log(f"cut {self.command} {self.path}")
        if self._upconn is not None:
            self._upconn.close()
            self._upconn = None
        self.close_connection = True
        _drop(self.connection, sh.faults.cut_mode)
        raise _Cut()

    # ----- request bodies --------------------------------------------------------------------------------
    def _body_pieces(self) -> Any:
        """Yield the request body (decoded from chunked framing if it was chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, PIECE))
                    if not piece:
                        return
                    left -= len(piece)
                    yield piece
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                piece = self.rfile.read(min(left, PIECE))
                if not piece:
                    return
                left -= len(piece)
                yield piece

    def _answer(
        self, code: int, body: dict[str, Any], extra: dict[str, str] | None = None, *, close: bool = False
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    # ----- one request -----------------------------------------------------------------------------------
    def _handle(self) -> None:
        sh = self.server.shaper
        with sh._lock:
            sh.stats.requests += 1
        method = self.command
        rule = sh.rule_for(method, self.path)
        if rule is not None:
            for _ in self._body_pieces():
                pass
            if sh.link.rtt:
                time.sleep(min(sh.link.rtt, 10.0))
            code = rule.code
            self.server.log(f"injected {code} for {method} {self.path}")
            errors = {
                "errors": [
                    {"code": "TOOMANYREQUESTS" if code == 429 else "UNAVAILABLE", "message": "injected"}
                ]
            }
            self._answer(code, errors, {"Retry-After": f"{rule.retry_after:g}"})
            return
        limit = sh.faults.max_body
        length = self.headers.get("Content-Length")
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        if limit and ((length and int(length) > limit) or chunked):
            if not chunked or self._chunked_too_large(limit):
                if not chunked:
                    for _ in self._body_pieces():  # nginx's lingering close: read and drop, then answer
                        pass
                with sh._lock:
                    sh.stats.too_large += 1
                self.server.log(f"413 for {method} {self.path} ({length or 'chunked'} bytes > {limit})")
                html = "<html><head><title>413 Request Entity Too Large</title></head></html>"
                data = html.encode()
                self.send_response(413, "Request Entity Too Large")
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True
                return
            return  # _chunked_too_large forwarded it already
        self._forward(self._body_pieces(), chunked=chunked)

    def _chunked_too_large(self, limit: int) -> bool:
        """Buffer a chunked body up to ``limit``; True (body drained) if it is larger, else forward it."""
        buf: list[bytes] = []
        total = 0
        pieces = self._body_pieces()
        for piece in pieces:
            total += len(piece)
            if total > limit:
                for _ in pieces:
                    pass
                return True
            buf.append(piece)
        self._forward(iter(buf), chunked=True)
        return False

    def _forward(self, body: Any, *, chunked: bool) -> None:
        sh = self.server.shaper
        if self._upconn is None:
            self._upconn = sh.upstream_connection()
        conn = self._upconn
        headers = [
            (k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
        ]
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        # keep the client's Host: the registry builds the absolute URLs it answers with (upload Location) from it,
        # as behind nginx with "proxy_set_header Host $http_host"
        conn.putheader("Host", self.headers.get("Host") or f"{sh._up_host}:{sh._up_port}")
        for k, v in headers:
            conn.putheader(k, v)
        has_body = chunked or int(self.headers.get("Content-Length") or 0) > 0
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        head = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in headers) + 4
        if sh.count_up(head):
            self._cut()
        if has_body:
            for piece in body:
                if sh.count_up(len(piece)):
                    self._cut()
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        if sh.link.rtt:
            time.sleep(min(sh.link.rtt, 10.0))
        self.send_response_only(resp.status, resp.reason)
        out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        length = resp.getheader("Content-Length")
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        re_chunk = not no_body and length is None
        for k, v in out_headers:
            self.send_header(k, v)
        if re_chunk:
            self.send_header("Transfer-Encoding", "chunked")
        if resp.will_close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        cut, stall = sh.count_down(sum(len(k) + len(v) + 4 for k, v in out_headers) + 20)
        if cut:
            self._cut()
        if not no_body:
            while True:
                piece = resp.read(PIECE)
                if not piece:
                    break
                cut, stall = sh.count_down(len(piece))
                if cut:
                    # send part of this piece so the cut lands inside the body
                    self.wfile.write(piece[: len(piece) // 2])
                    self.wfile.flush()
                    self._cut()
                if stall:
                    self.wfile.flush()
                    self.server.log(f"stalled {self.command} {self.path} for {sh.faults.stall_seconds:g} s")
                    time.sleep(min(sh.faults.stall_seconds, 600.0))
                    self._cut()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if re_chunk else piece)
            if re_chunk:
                self.wfile.write(b"0\r\n\r\n")
            resp.close()
        else:
            resp.read()
        self.wfile.flush()
        if resp.will_close:
            conn.close()
            self._upconn = None

    def _dispatch(self) -> None:
        try:
            self._handle()
        except _Cut:
            return
        except (OSError, http.client.HTTPException) as exc:
            self.server.log(f"connection error on {self.command} {self.path}: {exc!r}")
            self.close_connection = True
            if self._upconn is not None:
                self._upconn.close()
                self._upconn = None

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox.shaper --config F``: config keys ``upstream``, ``upstream_ca``, ``tls`` {cert, key},
    ``port``, ``port_file``, ``log_file``, ``stats_file``, ``max_seconds``, ``link`` {rtt, rate}, ``faults``
    (the fields of :class:`Faults`; ``rules`` a list of :class:`Rule` fields)."""
    from engine.fsutil import atomic_write_text

    p = argparse.ArgumentParser(prog="python -m sandbox.shaper")
    p.add_argument("--config", required=True)
    args = p.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    faults = dict(cfg.get("faults", {}))
    faults["rules"] = [Rule(**r) for r in faults.get("rules", [])]
    shaper = Shaper(
        cfg["upstream"],
        tls=(cfg["tls"]["cert"], cfg["tls"]["key"]),
        upstream_ca=cfg.get("upstream_ca"),
        link=Link(**cfg.get("link", {})),
        faults=Faults(**faults),
        max_seconds=float(cfg.get("max_seconds", 3600)),
        port=int(cfg.get("port", 0)),
        log_file=cfg.get("log_file"),
    )
    done = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    shaper.start()
    if cfg.get("port_file"):
        atomic_write_text(Path(cfg["port_file"]), f"{shaper.port}\n", mode=0o644)
    deadline = time.monotonic() + shaper.max_seconds
    stats_file = cfg.get("stats_file")
    while not done.wait(1.0) and time.monotonic() < deadline:
        if stats_file:
            atomic_write_text(Path(stats_file), json.dumps(asdict(shaper.stats)) + "\n", mode=0o644)
    shaper.stop()
    if stats_file:
        atomic_write_text(Path(stats_file), json.dumps(asdict(shaper.stats)) + "\n", mode=0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main())
