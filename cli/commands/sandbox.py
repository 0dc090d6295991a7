"""``ocp-airgap sandbox up|down|status --dir D``: the local lab (real registries, synthetic releases, signature
store, update graph, simulated OpenShift API) in the background on loopback. See docs/sandbox.md."""

from __future__ import annotations

import argparse
import json
import sys

from cli.commands._common import handle_errors, human, positive_float, positive_int
from engine.errors import EXIT_FAILED, EXIT_NOT_READY, EXIT_OK
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sandbox",
        help=_("start, stop or inspect the local lab (registries, releases, simulated OpenShift)"),
        description=_(__doc__),
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    up = psub.add_parser("up", help=_("start the lab in the background and return when it is ready"))
    up.add_argument(
        "--dir", required=True, metavar="D", help=_("folder for the lab's files (created if missing)")
    )
    up.add_argument(
        "--components",
        type=positive_int,
        default=24,
        metavar="N",
        help=_("component images per release (default 24)"),
    )
    up.add_argument(
        "--size-mb",
        "--size",
        dest="size_mb",
        type=positive_float,
        default=20.0,
        metavar="M",
        help=_("approximate total size of all release images in MB (default 20)"),
    )
    up.add_argument(
        "--speed",
        type=positive_float,
        default=60.0,
        metavar="S",
        help=_(
            "simulated seconds per real second for the cluster (default 60: an update takes about a minute)"
        ),
    )
    up.add_argument(
        "--versions",
        default="",
        metavar="V1,V2,...",
        help=_("releases to build, oldest first = the cluster's version (default 4.16.18,4.16.20,4.17.3)"),
    )
    up.add_argument(
        "--profile",
        default="default",
        metavar="NAME",
        help=_("the shape of cluster the lab plays (see 'ocp-airgap sandbox profiles'; default: default)"),
    )
    up.add_argument(
        "--token-seconds",
        type=int,
        default=60,
        metavar="S",
        help=_("lifetime of the upstream registry's bearer tokens (default 60)"),
    )
    up.add_argument("--no-api", action="store_true", help=_("leave out the simulated OpenShift API"))
    up.add_argument("--json", action="store_true", help=_("print sandbox.json instead of a summary"))
    up.set_defaults(func=handle_errors(_up))

    down = psub.add_parser("down", help=_("stop every process the lab started (safe to run twice)"))
    down.add_argument("--dir", required=True, metavar="D")
    down.add_argument("--json", action="store_true")
    down.set_defaults(func=handle_errors(_down))

    profiles = psub.add_parser(
        "profiles", help=_("list the lab profiles (shapes of cluster the lab can play)")
    )
    profiles.set_defaults(func=handle_errors(_profiles))

    status = psub.add_parser("status", help=_("show which of the lab's processes are running"))
    status.add_argument("--dir", required=True, metavar="D")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=handle_errors(_status))


def _components(value: int) -> int:
    from sandbox.registry import SandboxError

    if not 1 <= value <= 500:
        raise SandboxError(f"--components {value} is out of range", fix="Give a number from 1 to 500.")
    return value


def _up(args: argparse.Namespace) -> int:
    from sandbox.graph import DEFAULT_VERSIONS
    from sandbox.lab import describe, up
    from sandbox.registry import SandboxError

    tr = human(args)
    if args.size_mb <= 0:
        raise SandboxError(
            tr("--size-mb {value} must be positive").format(value=f"{args.size_mb:g}"),
            fix=tr("Give a size in MB, e.g. 20."),
        )
    if args.speed <= 0:
        raise SandboxError(
            tr("--speed {value} must be positive").format(value=f"{args.speed:g}"),
            fix=tr("Give e.g. 60 (or 600 for tests)."),
        )
    versions = [v.strip() for v in args.versions.split(",") if v.strip()] or list(DEFAULT_VERSIONS)

    def progress(message: str) -> None:
        stream = sys.stderr if args.json else sys.stdout
        stream.write(message + "\n")
        stream.flush()

    info = up(
        args.dir,
        components=_components(args.components),
        size_mb=args.size_mb,
        speed=args.speed,
        versions=versions,
        profile=args.profile,
        plan_state_dir="state",
        token_seconds=max(1, args.token_seconds),
        api=not args.no_api,
        progress=progress,
    )
    if args.json:
        from dataclasses import asdict

        sys.stdout.write(json.dumps(asdict(info), indent=2) + "\n")
    else:
        for line in describe(info):
            sys.stdout.write(line + "\n")
        sys.stdout.write(
            f"\nTry:  kubectl --kubeconfig {info.kubeconfig} get clusterversion\n"
            f"      ocp-airgap --plan {info.plan}\n"
            f"Stop: ocp-airgap sandbox down --dir {info.directory}\n"
        )
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    from sandbox.lab import down

    result = down(args.dir)
    if args.json:
        sys.stdout.write(json.dumps({"directory": args.dir, "stopped": result}) + "\n")
    elif not result:
        sys.stdout.write(f"nothing was running in {args.dir}\n")
    else:
        for name, ok in result.items():
            sys.stdout.write(f"{name}: {'stopped' if ok else 'STILL RUNNING'}\n")
    return EXIT_OK if all(result.values()) else EXIT_FAILED


def _status(args: argparse.Namespace) -> int:
    from sandbox.lab import status

    procs = status(args.dir)
    alive = [n for n, s in procs.items() if s["alive"]]
    running = bool(procs) and len(alive) == len(procs)
    if args.json:
        sys.stdout.write(json.dumps({"directory": args.dir, "running": running, "processes": procs}) + "\n")
    elif not procs:
        sys.stdout.write(f"no lab in {args.dir}\n")
    else:
        for name, s in procs.items():
            port = f" port {s['port']}" if s.get("port") else ""
            sys.stdout.write(
                f"{name:<22} pid {s['pid']:<8}{port:<12} {'running' if s['alive'] else 'stopped'}\n"
            )
    return EXIT_OK if running else EXIT_NOT_READY


def _profiles(args: argparse.Namespace) -> int:
    from sandbox.profiles import describe

    for line in describe():
        print(line)
    return EXIT_OK
