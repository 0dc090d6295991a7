"""``ocp-airgap upgrade start|watch --plan P``: start the update by digest and follow it to completion.

- ``start``: check the prerequisites (release mirrored, signature ConfigMap applied, MachineHealthChecks paused or
  the journaled decision to skip) and ``oc adm upgrade``'s guards, show the ClusterVersion patch, confirm, write
  it (``oc adm upgrade --allow-explicit-upgrade --to-image <mirror>/<repo>@<digest>``). Never forced.
- ``run-path``: the plan's whole update path (``release.path``), hop by hop: every signature up front, the
  MachineHealthChecks paused once, each hop's gates checked (exit 4 with the reason when one needs the admin; run
  it again afterwards), ``--control-plane-only`` for the EUS-to-EUS procedure (worker pools paused for the path).
- ``watch``: follow the update (re-attaching to one already running) until it is complete; exit 0 then. Exit 1
  with the reason and the fix when the cluster does not accept the release, 4 when ``--timeout`` passes first.
"""

from __future__ import annotations

import argparse
import sys

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
from engine.errors import EXIT_OK, Cancelled, PreconditionFailed
from engine.events import StepStatus
from tui.i18n import N_, _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("upgrade", help=_("start the cluster update and watch it"), description=_(__doc__))
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    start = psub.add_parser(
        "start",
        help=_("start the update to the plan's release, by digest"),
        description=_(
            "Start the update to <mirror.registry>/<mirror.repository>@<release.digest> as "
            "'oc adm upgrade --allow-explicit-upgrade --to-image' does, with its guards."
        ),
    )
    add_plan_arg(start)
    start.add_argument(
        "--accept-not-recommended",
        action="store_true",
        help=_("accept the risks of a conditional update that is not recommended (journaled)"),
    )
    start.add_argument("--watch", action="store_true", help=_("watch the update to completion afterwards"))
    _watch_args(start)
    add_change_args(start)
    add_output_args(start)
    start.set_defaults(func=handle_errors(_start))

    watch = psub.add_parser(
        "watch",
        help=_("follow the update until it completes (exit 0 when complete)"),
        description=_("Follow the update (re-attaching to one already in progress) until it is complete."),
    )
    add_plan_arg(watch)
    _watch_args(watch)
    watch.add_argument(
        "--resume-mhc",
        action="store_true",
        help=_("when complete, resume the MachineHealthChecks ocp-airgap paused (asks unless --yes)"),
    )
    add_change_args(watch)
    add_output_args(watch)
    watch.set_defaults(func=handle_errors(_watch))

    run_path = psub.add_parser(
        "run-path",
        help=_("update along the plan's whole path (release.path), hop by hop"),
        description=_(
            "Apply every hop's signature up front, pause the MachineHealthChecks once, then for each "
            "hop: set its channel, check the gates that need the admin (exit 4 with the reason), start it by digest "
            "and follow it until Completed and the pools are updated; resume the MachineHealthChecks once at the "
            "end. Run it again after an interruption or a gate: it continues at the right hop."
        ),
    )
    add_plan_arg(run_path)
    run_path.add_argument(
        "--control-plane-only",
        action="store_true",
        help=_(
            "EUS-to-EUS: pause the worker pools for the whole path and unpause them at the end "
            "(one worker reboot instead of one per minor)"
        ),
    )
    run_path.add_argument(
        "--accept-not-recommended",
        action="store_true",
        help=_("accept the risks of conditional edges on the path (journaled)"),
    )
    _watch_args(run_path)
    add_change_args(run_path)
    add_output_args(run_path)
    run_path.set_defaults(func=handle_errors(_run_path))


def _watch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=0.0,
        help=_("give up after this many seconds (default: never)"),
    )
    p.add_argument(
        "--interval", type=positive_float, default=2.0, help=_("seconds between two looks (default 2)")
    )
    p.add_argument(
        "--no-wait-pools",
        action="store_true",
        help=_(
            "end when the cluster version is Completed, without waiting for worker pools to finish rolling"
        ),
    )
    p.add_argument(
        "--fail-after",
        type=positive_float,
        default=120.0,
        metavar="SECONDS",
        help=_("exit with the reason when the cluster has refused the release this long (default 120)"),
    )


def _start(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.context import Context
    from engine.upgrade import prepare_start, start

    ctx = Context(load_plan(args), emitter(args, "upgrade"), wait_for_lock=getattr(args, "wait", False))
    if len(ctx.plan.path_versions) > 1:
        ctx.emit.warning(
            f"the plan holds an update path ({' -> '.join(ctx.plan.path_versions)}): 'ocp-airgap upgrade "
            "run-path --plan P' applies it hop by hop; 'upgrade start' updates to release.version alone"
        )
    plan = prepare_start(ctx, accept_not_recommended=args.accept_not_recommended)
    if plan.change is None:
        ctx.emit.result(
            StepStatus.SUCCEEDED,
            f"the cluster is already updating to (or at) {plan.image}; 'upgrade watch' follows it",
            {"image": plan.image, "already": True},
        )
        return _watch(args) if args.watch else EXIT_OK
    if not confirm(args, N_("Start the update?"), render_changes(plan.changes)):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: the update was not started")))
        return EXIT_OK
    data = start(ctx, plan)
    ctx.emit.result(StepStatus.SUCCEEDED, f"requested update to release image {plan.image}", data)
    if args.watch:
        return _watch(args)
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.mhc import paused_by_tool
    from engine.upgrade import watch

    ctx = Context(load_plan(args), emitter(args, "upgrade"), wait_for_lock=getattr(args, "wait", False))
    snap = watch(
        ctx,
        timeout=args.timeout,
        interval=args.interval,
        problem_grace=args.fail_after,
        wait_pools=not args.no_wait_pools,
    )
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"update complete: the cluster is at {snap.history_head.get('version', '')}",
        snap.to_dict(),
    )
    held = paused_by_tool(ctx.journal)
    wants_resume = getattr(args, "resume_mhc", False)
    if held and (wants_resume or (sys.stdin.isatty() and not getattr(args, "json", False))):
        from engine.changes import render_changes
        from engine.mhc import prepare_resume, resume

        mctx = ctx.for_step("mhc")
        try:
            plan = prepare_resume(mctx)
        except PreconditionFailed as exc:  # the pools still roll after the ClusterVersion completed
            mctx.emit.warning(f"Not resumed now: {exc.message}")
            mctx.emit.info("Later, once the pools are updated: ocp-airgap mhc resume --plan P")
            return EXIT_OK
        try:
            go = bool(plan.changes) and confirm(
                args,
                N_("Resume {n} MachineHealthCheck(s) now?"),
                render_changes(plan.changes),
                n=len(plan.changes),
            )
        except Cancelled:
            go = False
            mctx.emit.info("Not resumed; later: ocp-airgap mhc resume --plan P")
        if go:
            data = resume(mctx, plan)
            mctx.emit.result(StepStatus.SUCCEEDED, f"resumed {len(data['resumed'])}", data)
    return EXIT_OK


def _run_path(args: argparse.Namespace) -> int:
    from engine.changes import Change, render_changes
    from engine.context import Context
    from engine.upgrade_path import run_path

    ctx = Context(load_plan(args), emitter(args, "upgrade"))

    def ask(question: str, changes: list[Change]) -> bool:
        return confirm(args, question, render_changes(changes))

    from engine.errors import InputError

    try:
        result = run_path(
            ctx,
            ask,
            control_plane_only=args.control_plane_only,
            accept_not_recommended=args.accept_not_recommended,
            interval=args.interval,
            timeout=args.timeout,
            problem_grace=args.fail_after,
        )
    except InputError:
        if not getattr(args, "dry_run", False):
            raise
        ctx.emit.result(
            StepStatus.SKIPPED, human(args)(N_("dry run: stopped at the first change; nothing was changed"))
        )
        return EXIT_OK
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"update path {' -> '.join(result.path)} complete: the cluster is at {result.final}",
        result.to_dict(),
    )
    return EXIT_OK
