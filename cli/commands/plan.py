"""``ocp-airgap plan new|check|show``: create, validate and print plan files."""

from __future__ import annotations

import argparse
import os
import sys

from cli.commands._common import handle_errors, human
from engine.errors import EXIT_OK, InputError
from engine.plan import ARCHITECTURES, MIRROR_MODES, Plan
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help=_("create, check or show a plan file"), description=_(__doc__))
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    new = psub.add_parser("new", help=_("write a new plan file with the given choices"))
    new.add_argument("path", help=_("where to write the plan (YAML)"))
    new.add_argument(
        "--kubeconfig",
        default="",
        help=_("kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)"),
    )
    new.add_argument("--context", default="")
    new.add_argument("--registry", default="", help=_("mirror registry host[:port] (LOCAL_REGISTRY)"))
    new.add_argument(
        "--repository", default="ocp4/openshift4", help=_("repository on the mirror (LOCAL_REPOSITORY)")
    )
    new.add_argument("--version", dest="release_version", default="", help=_("target release, e.g. 4.17.3"))
    new.add_argument("--architecture", default="x86_64", choices=ARCHITECTURES)
    new.add_argument("--mode", default="direct", choices=MIRROR_MODES)
    new.add_argument("--media-path", default="")
    new.add_argument("--auth-file", default="")
    new.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    new.set_defaults(func=handle_errors(_new))

    check = psub.add_parser(
        "check", help=_("validate a plan file (exit 2 with file:line:column on an error)")
    )
    check.add_argument("path")
    check.set_defaults(func=handle_errors(_check))

    show = psub.add_parser("show", help=_("print a plan with every default filled in"))
    show.add_argument("path")
    show.set_defaults(func=handle_errors(_show))


def _new(args: argparse.Namespace) -> int:
    if os.path.exists(args.path) and not args.force:
        tr = human(args)
        raise InputError(
            tr("{path} exists already").format(path=args.path),
            fix=tr("Choose another path or add --force to overwrite it."),
        )
    plan = Plan()
    plan.cluster.kubeconfig = args.kubeconfig
    plan.cluster.context = args.context
    plan.mirror.registry = args.registry
    plan.mirror.repository = args.repository
    plan.release.version = args.release_version
    plan.release.architecture = args.architecture
    plan.mirroring.mode = args.mode
    plan.mirroring.media_path = args.media_path
    plan.auth_file = args.auth_file
    problems = plan.problems()
    if problems:
        field, what = problems[0]
        raise InputError(f"{field}: {what}", fix=human(args)("Correct the option and run again."))
    plan.save(args.path)
    sys.stdout.write(_("wrote {path}").format(path=args.path) + "\n")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    Plan.load(args.path)
    sys.stdout.write(_("{path}: valid").format(path=args.path) + "\n")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    sys.stdout.write(Plan.load(args.path).to_yaml())
    return EXIT_OK
