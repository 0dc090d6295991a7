"""Process entry point: load the config, build the initial cluster, serve HTTPS, run the simulated
controllers, write the port file once listening, stop on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from engine.fsutil import atomic_write_text

from . import initial
from .clock import SimClock
from .config import ConfigError, ServerConfig, load_config
from .controllers import Simulation
from .server import ApiApp, ApiHTTPServer, User, make_ssl_context
from .store import Store


class RunningServer:
    """A started server with its controllers; :meth:`stop` ends everything."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = Store()
        initial.build(self.store, config.cluster)
        tokens = {t: User(u.user, u.groups, u.admin) for t, u in config.tokens.items()}
        absent = (
            frozenset()
            if initial.machine_api_enabled(config.cluster)
            else frozenset({"machine.openshift.io"})
        )
        self.app = ApiApp(self.store, tokens, host=config.listen_host, absent_groups=absent)
        ctx = make_ssl_context(str(config.cert), str(config.key))
        self.httpd = ApiHTTPServer((config.listen_host, config.port), self.app, ctx)
        self.app.port = self.port = self.httpd.server_address[1]
        self.clock = SimClock(config.timing.speed)
        self.simulation = Simulation(self.store, config.cluster, self.clock)
        self.httpd.evict = self.simulation.evict  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="apiserver-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        self.simulation.start()
        atomic_write_text(self.config.port_file, f"{self.port}\n", mode=0o644)

    def stop(self) -> None:
        self.app.stopping.set()
        self.simulation.stop()
        self.store.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)


def _setup_logging(log_file: Path | None) -> None:
    handler: logging.Handler
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("sandbox.apiserver")
    root.setLevel(logging.INFO)
    root.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.apiserver",
        description="Simulated OpenShift API server and Cluster Version Operator.",
    )
    parser.add_argument("--config", required=True, type=Path, help="JSON configuration file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config.log_file)
    log = logging.getLogger("sandbox.apiserver")
    try:
        server = RunningServer(config)
    except OSError as exc:
        print(f"error: cannot start the API server: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    log.info("listening on https://%s:%d (speed %.0fx)", config.listen_host, server.port, config.timing.speed)
    while not done.wait(0.5):
        pass
    log.info("stopping")
    server.stop()
    return 0
