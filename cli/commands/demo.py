"""``ocp-airgap demo [--speed S] [--keep] [--dir D]``: bring the sandbox lab up in a temporary folder, open the
wizard on its plan, and tear the lab down when the wizard exits (also on a crash, Ctrl+C, SIGTERM, or a closed
terminal / dropped SSH session: SIGHUP). With ``--keep`` the lab outlives the wizard and the exit says how to
reopen and stop it.

The demo's plan names its state folder inside the lab's folder (``state_dir``), so its journals never mix with
those of real clusters and reopening the plan (``ocp-airgap --plan <lab>/plan.yaml``) finds them again. A second
``demo --dir`` on a folder whose lab is running is refused and leaves that lab alone.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from cli.commands._common import handle_errors, positive_float
from engine.errors import EXIT_OK
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help=_("walk the whole flow in the wizard on the built-in sandbox lab"),
        description=_(__doc__),
    )
    p.add_argument(
        "--speed",
        type=positive_float,
        default=60.0,
        metavar="S",
        help=_("simulated cluster seconds per real second (default 60: the update takes about a minute)"),
    )
    p.add_argument("--keep", action="store_true", help=_("leave the lab running after the wizard exits"))
    p.add_argument("--dir", metavar="D", help=_("folder for the lab (default: a new temporary folder)"))
    p.add_argument(
        "--ascii",
        action="store_true",
        default=argparse.SUPPRESS,
        help=_("plain ASCII drawing and no colour, for serial consoles"),
    )
    p.add_argument(
        "--lang", metavar="L", default=argparse.SUPPRESS, help=_("language of the wizard: en or ja")
    )
    p.set_defaults(func=handle_errors(_demo))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _demo(args: argparse.Namespace) -> int:
    from sandbox import lab

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ocp-airgap-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    started = False
    try:
        sys.stdout.write(
            _("Starting the sandbox lab in {path} (registries, releases, simulated cluster)...").format(
                path=directory
            )
            + "\n"
        )
        sys.stdout.flush()
        info = lab.up(
            directory,
            speed=args.speed,
            plan_state_dir="state",
            progress=lambda msg: print(f"  {msg}", flush=True),
        )
        started = True
        from tui.app import run_app

        code = run_app(
            plan_path=info.plan,
            ascii_only=bool(getattr(args, "ascii", False)),
            lang=getattr(args, "lang", None),
        )
    finally:
        # A hang-up is rarely one signal (the kernel sends SIGHUP again when the terminal's session leader exits),
        # and the wizard's own handler is gone once it has exited (asyncio resets it to the default: die). The
        # teardown is bounded (SIGTERM, wait, SIGKILL), so it runs to its end with both signals ignored.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        # lab.up stops what it started when it fails; a lab that was already running here is not ours to stop
        if started and not args.keep:
            lab.down(directory)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            if started and args.keep:
                sys.stdout.write(
                    _("The lab is still running in {path}.").format(path=directory)
                    + "\n"
                    + _("  reopen the wizard: {command}").format(
                        command=f"ocp-airgap --plan {directory / 'plan.yaml'}"
                    )
                    + "\n"
                    + _("  stop the lab:      {command}").format(
                        command=f"ocp-airgap sandbox down --dir {directory}"
                    )
                    + "\n"
                )
            elif started:
                sys.stdout.write(_("Sandbox lab stopped.") + "\n")
            sys.stdout.flush()
    return code if code is not None else EXIT_OK
