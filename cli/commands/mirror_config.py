"""``ocp-airgap mirror-config show|apply --plan P``: the cluster's repository mirroring (ImageDigestMirrorSet from
OpenShift 4.13, ImageContentSourcePolicy before), generated from the plan and diffed against the cluster.

- ``show``: the kind chosen and why, the object, and what differs from the cluster (nothing changes).
- ``apply``: show, confirm, create or update it, then follow the MachineConfigPools rolling it out.
``--scope registry`` adds registry-wide entries (fewer future rollouts for content mirrored with its paths kept).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import yaml

from cli.commands._common import (
    add_change_args,
    add_output_args,
    add_plan_arg,
    confirm,
    emitter,
    handle_errors,
    human,
    load_plan,
    positive_float,
)
from engine.errors import EXIT_OK
from engine.events import StepStatus
from tui.i18n import N_, _

if TYPE_CHECKING:
    from engine.context import Context
    from engine.mirrorconfig import MirrorConfigPlan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror-config",
        help=_("ImageDigestMirrorSet / ImageContentSourcePolicy for the mirror"),
        description=_(__doc__),
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    show = psub.add_parser("show", help=_("show the mirror set and its difference with the cluster"))
    apply = psub.add_parser("apply", help=_("apply the mirror set and follow the pools rolling it out"))
    for a in (show, apply):
        add_plan_arg(a)
        a.add_argument("--scope", choices=("repository", "registry"), default="repository")
        a.add_argument(
            "--name", default="ocp-airgap-release", help=_("object name (default ocp-airgap-release)")
        )
        add_output_args(a)
    add_change_args(apply)
    apply.add_argument(
        "--accept-node-changes-during-update",
        dest="during_update",
        action="store_true",
        help=_(
            "apply even while an update or a pool rollout is in progress (a new rollout on top of it; journaled)"
        ),
    )
    apply.add_argument("--no-watch", action="store_true", help=_("do not follow the MachineConfigPools"))
    apply.add_argument(
        "--settle",
        type=positive_float,
        default=60.0,
        help=_("seconds to wait for a rollout to start (default 60)"),
    )
    apply.add_argument(
        "--timeout", type=positive_float, default=1800.0, help=_("give up on the rollout after (s)")
    )
    apply.add_argument("--interval", type=positive_float, default=2.0, help=_("seconds between two looks"))
    show.set_defaults(func=handle_errors(_show))
    apply.set_defaults(func=handle_errors(_apply))


def _prepare(args: argparse.Namespace, *, guard: bool = True) -> tuple[Context, MirrorConfigPlan]:
    from engine.context import Context
    from engine.mirrorconfig import prepare

    ctx = Context(load_plan(args), emitter(args, "mirror-config"), wait_for_lock=getattr(args, "wait", False))
    during = getattr(args, "during_update", False)
    return ctx, prepare(ctx, scope=args.scope, name=args.name, during_update=during, guard=guard)


def _show(args: argparse.Namespace) -> int:
    from engine.changes import render_changes

    ctx, plan = _prepare(args, guard=False)
    for note in plan.notes:
        ctx.emit.info(note)
    if not args.json:
        sys.stdout.write(yaml.safe_dump(plan.wanted, sort_keys=False, default_flow_style=False))
        sys.stdout.write(render_changes(plan.changes) + "\n")
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{plan.kind.kind} {plan.name}: {'changes needed' if plan.change else 'nothing to apply'}",
        {"kind": plan.kind.kind, "why": plan.why, "object": plan.wanted, "covered": plan.covered},
    )
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.mirrorconfig import apply, watch_rollout

    ctx, plan = _prepare(args)
    for note in plan.notes:
        ctx.emit.info(note)
    if plan.change is None:
        ctx.emit.result(StepStatus.SUCCEEDED, f"{plan.kind.kind}: nothing to apply", {"applied": False})
        return EXIT_OK
    if not confirm(
        args,
        N_("Apply the {kind} {name}?"),
        render_changes(plan.changes),
        kind=plan.kind.kind,
        name=plan.name,
    ):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was applied")))
        return EXIT_OK
    data = apply(ctx, plan)
    if not args.no_watch:
        data["rollout"] = watch_rollout(
            ctx, data["pools"], timeout=args.timeout, settle=args.settle, interval=args.interval
        )
    ctx.emit.result(StepStatus.SUCCEEDED, f"{plan.kind.kind} {plan.name} {data['action']}", data)
    return EXIT_OK
