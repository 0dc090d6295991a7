"""``ocp-airgap mhc pause|resume|status --plan P``: MachineHealthChecks around an update.

- ``pause``: annotate every MachineHealthCheck that is not paused with ``cluster.x-k8s.io/paused=""``; the
  journal records exactly which ones ocp-airgap paused (one an administrator had paused is left alone).
- ``resume``: remove the annotation from exactly those; the administrator's stay paused.
- ``status``: each MachineHealthCheck, whether it is paused and by whom.
- ``skip --reason TEXT``: record the explicit decision to update without pausing them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli.commands._common import (
    add_change_args,
    add_output_args,
    add_plan_arg,
    confirm,
    emitter,
    handle_errors,
    human,
    load_plan,
)
from engine.errors import EXIT_OK
from engine.events import StepStatus
from tui.i18n import N_, _

if TYPE_CHECKING:
    from engine.context import Context


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mhc", help=_("pause or resume MachineHealthChecks around the update"), description=_(__doc__)
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    for name, helptext, func in (
        ("pause", N_("pause every MachineHealthCheck (journaled)"), _pause),
        ("resume", N_("resume exactly the ones ocp-airgap paused"), _resume),
    ):
        a = psub.add_parser(name, help=_(helptext), description=_(helptext))
        add_plan_arg(a)
        add_change_args(a)
        add_output_args(a)
        if name == "resume":
            a.add_argument(
                "--accept-remediation-during-update",
                dest="during_update",
                action="store_true",
                help=_(
                    "resume even while the update or a pool rollout is in progress (rebooting nodes may be "
                    "replaced by remediation; journaled)"
                ),
            )
        a.set_defaults(func=handle_errors(func))
    st = psub.add_parser("status", help=_("show each MachineHealthCheck and who paused it"))
    add_plan_arg(st)
    add_output_args(st)
    st.set_defaults(func=handle_errors(_status))
    skip = psub.add_parser(
        "skip",
        help=_("record the decision to update without pausing the MachineHealthChecks"),
        description=_(
            "Record, in the journal, the explicit decision to run the update with MachineHealthChecks "
            "active (a rebooting node may then be remediated)."
        ),
    )
    add_plan_arg(skip)
    skip.add_argument("--reason", default="", help=_("why (kept in the journal)"))
    add_change_args(skip)
    add_output_args(skip)
    skip.set_defaults(func=handle_errors(_skip))


def _context(args: argparse.Namespace) -> Context:
    from engine.context import Context

    return Context(load_plan(args), emitter(args, "mhc"), wait_for_lock=getattr(args, "wait", False))


def _pause(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.mhc import pause, prepare_pause

    ctx = _context(args)
    plan = prepare_pause(ctx)
    if plan.not_applicable:
        data = pause(ctx, plan)
        ctx.emit.result(StepStatus.SKIPPED, plan.not_applicable, data)
        return EXIT_OK
    if plan.changes and not confirm(
        args, N_("Pause {n} MachineHealthCheck(s)?"), render_changes(plan.changes), n=len(plan.changes)
    ):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: no MachineHealthCheck was paused")))
        return EXIT_OK
    data = pause(ctx, plan)
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"paused {len(data['paused'])}; ocp-airgap holds {len(data['held'])} paused "
        f"({', '.join(data['held']) or 'none'})",
        data,
    )
    return EXIT_OK


def _resume(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.mhc import prepare_resume, resume

    ctx = _context(args)
    plan = prepare_resume(ctx, during_update=args.during_update)
    if plan.not_applicable:
        data = resume(ctx, plan)
        ctx.emit.result(StepStatus.SKIPPED, plan.not_applicable, data)
        return EXIT_OK
    if plan.changes and not confirm(
        args, N_("Resume {n} MachineHealthCheck(s)?"), render_changes(plan.changes), n=len(plan.changes)
    ):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: no MachineHealthCheck was resumed")))
        return EXIT_OK
    data = resume(ctx, plan)
    ctx.emit.result(StepStatus.SUCCEEDED, f"resumed {len(data['resumed'])}", data)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from engine.mhc import machine_api_absent, skip_decided, status

    ctx = _context(args)
    absent = machine_api_absent(ctx.cluster)
    if absent:
        ctx.emit.result(StepStatus.SKIPPED, absent, {"mhcs": [], "not_applicable": absent})
        return EXIT_OK
    rows = status(ctx)
    for row in rows:
        ctx.emit.info(
            f"{row.name:<24} {row.who}"
            + (f"  [journal: {row.journal_state}]" if row.journal_state and not row.paused else "")
        )
    if skip_decided(ctx.journal):
        ctx.emit.warning(
            "The journal records the decision to update without pausing the MachineHealthChecks."
        )
    held = [r.name for r in rows if r.by_tool]
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{len(rows)} MachineHealthCheck(s); {len(held)} paused by ocp-airgap",
        {"mhcs": [r.to_dict() for r in rows]},
    )
    return EXIT_OK


def _skip(args: argparse.Namespace) -> int:
    from engine.mhc import record_skip

    ctx = _context(args)
    tr = human(args)
    reason = args.reason.strip() or "update without pausing MachineHealthChecks"
    if not confirm(
        args,
        N_("Update without pausing the MachineHealthChecks?"),
        tr(
            "The documented procedure pauses every MachineHealthCheck before updating: during the update nodes "
            "reboot, and an active MachineHealthCheck may replace their machines."
        ),
    ):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing recorded")))
        return EXIT_OK
    record_skip(ctx, reason)
    ctx.emit.result(
        StepStatus.SUCCEEDED, "recorded: the update may start without pausing MachineHealthChecks"
    )
    return EXIT_OK
