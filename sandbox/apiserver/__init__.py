"""Simulated OpenShift API server and Cluster Version Operator for the sandbox lab.

Run it as ``python -m sandbox.apiserver --config D/api/config.json``; the JSON contract is described in
:mod:`sandbox.apiserver.config` and ``docs/sandbox-api.md``. The server writes its port to ``port_file`` once
it listens and exits promptly on SIGTERM/SIGINT."""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from .main import main as _main

    return _main(argv)
