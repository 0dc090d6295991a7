"""``ocp-airgap demo [--speed S] [--keep] [--dir D]``: bring the sandbox lab up in a temporary folder, open the
wizard on its plan, and tear the lab down when the wizard exits (also on a crash, Ctrl+C or SIGTERM).

The demo's journal lives inside the lab's folder, so it never mixes with the journals of real clusters.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from cli.commands._common import handle_errors, positive_float
from engine.errors import EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="walk the whole flow in the wizard on the built-in sandbox lab",
        description=__doc__,
    )
    p.add_argument(
        "--speed",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="simulated cluster seconds per real second (default 60: the update takes about a minute)",
    )
    p.add_argument("--keep", action="store_true", help="leave the lab running after the wizard exits")
    p.add_argument("--dir", metavar="D", help="folder for the lab (default: a new temporary folder)")
    p.add_argument(
        "--ascii",
        action="store_true",
        default=argparse.SUPPRESS,
        help="plain ASCII drawing and no colour, for serial consoles",
    )
    p.set_defaults(func=handle_errors(_demo))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _demo(args: argparse.Namespace) -> int:
    from sandbox import lab

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ocp-airgap-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    started = False
    try:
        sys.stdout.write(
            f"Starting the sandbox lab in {directory} (registries, releases, simulated cluster)...\n"
        )
        sys.stdout.flush()
        info = lab.up(directory, speed=args.speed, progress=lambda msg: print(f"  {msg}", flush=True))
        started = True
        os.environ.setdefault("OCP_AIRGAP_STATE_DIR", str(directory / "state"))
        from tui.app import run_app

        code = run_app(plan_path=info.plan, ascii_only=bool(getattr(args, "ascii", False)))
    finally:
        if started and args.keep:
            sys.stdout.write(
                f"The lab is still running in {directory}; stop it with 'ocp-airgap sandbox down --dir {directory}'.\n"
            )
        else:
            lab.down(directory)
            if started:
                sys.stdout.write("Sandbox lab stopped.\n")
        signal.signal(signal.SIGTERM, previous)
    return code if code is not None else EXIT_OK
