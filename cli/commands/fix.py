"""``ocp-airgap fix list|apply|restore --plan P``: let ocp-airgap make the changes preflight's blocking findings
call for.

- ``list``: every fix that applies now — a PodDisruptionBudget that allows no disruption (``pdb/<ns>/<name>``),
  CloudCredential in Manual mode without the upgradeable-to annotation (``cloudcredential/upgradeable-to``), a
  paused MachineConfigPool (``mcp/<name>/unpause``) — with why, the change and the equivalent oc command.
- ``apply ID``: show the change, confirm, make it (journaled with the previous state). The CloudCredential fix
  also needs ``--acknowledge``: your statement that the cloud provider credentials were updated for the target
  release (ocp-airgap cannot check that; the statement is journaled).
- ``restore``: put back the exact previous spec of every budget ocp-airgap relaxed; a budget changed since by
  someone else is left alone. The CloudCredential annotation and unpaused pools are meant to stay.
"""

from __future__ import annotations

import argparse
import sys
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
    from engine.fixes import Fix


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fix", help=_("apply (and restore) fixes for blocking preflight findings"), description=_(__doc__)
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    ls = psub.add_parser(
        "list", help=_("list the fixes that apply now"), description=_("List the fixes that apply now.")
    )
    add_plan_arg(ls)
    add_output_args(ls)
    ls.set_defaults(func=handle_errors(_list))

    ap = psub.add_parser(
        "apply",
        help=_("apply one fix (shown and confirmed first)"),
        description=_("Apply one fix by its id (see 'ocp-airgap fix list'), after showing the change."),
    )
    ap.add_argument("id", metavar="ID", help=_("the fix id, e.g. pdb/payments/payments-api-pdb"))
    add_plan_arg(ap)
    ap.add_argument(
        "--acknowledge",
        action="store_true",
        help=_("state that the cloud provider credentials were updated for the target release (journaled)"),
    )
    add_change_args(ap)
    add_output_args(ap)
    ap.set_defaults(func=handle_errors(_apply))

    rs = psub.add_parser(
        "restore",
        help=_("put back what ocp-airgap relaxed (PodDisruptionBudgets)"),
        description=_(
            "Restore the exact previous spec of every PodDisruptionBudget ocp-airgap relaxed, unless "
            "someone changed it since."
        ),
    )
    add_plan_arg(rs)
    add_change_args(rs)
    add_output_args(rs)
    rs.set_defaults(func=handle_errors(_restore))


def _context(args: argparse.Namespace) -> Context:
    from engine.context import Context

    return Context(load_plan(args), emitter(args, "fixes"), wait_for_lock=getattr(args, "wait", False))


def _describe(fix: Fix) -> str:
    from engine.changes import render_changes

    lines = [
        f"{fix.id}  [{fix.check}]  {fix.title}",
        f"  seen: {fix.detail}",
        f"  why:  {fix.why}",
    ]
    lines += [f"  note: {n}" for n in fix.notes]
    if fix.needs_acknowledgement:
        lines.append(f"  needs --acknowledge, your statement that: {fix.acknowledgement}")
    lines.append(f"  restore: {fix.restore_note}")
    lines += ["  " + line for line in render_changes(fix.changes).splitlines()]
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    from engine.fixes import available_fixes

    ctx = _context(args)
    fixes = available_fixes(ctx)
    if not args.json:
        for fix in fixes:
            sys.stdout.write(_describe(fix) + "\n")
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{len(fixes)} fix(es) apply: {', '.join(f.id for f in fixes)}"
        if fixes
        else "no fix applies: nothing preflight could fix is blocking",
        {"fixes": [f.to_dict() for f in fixes]},
    )
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from engine.fixes import acknowledgement_required, apply_fix, inspect_fixes, unknown_fix

    ctx = _context(args)
    found = inspect_fixes(ctx)
    fix = next((f for f in found.fixes if f.id == args.id), None)
    if fix is None:
        if args.id in found.not_needed:
            reason = found.not_needed[args.id]
            ctx.emit.result(StepStatus.SKIPPED, f"{args.id} is not needed: {reason}", {"fix": args.id})
            return EXIT_OK
        raise unknown_fix(args.id, found)
    preview = _describe(fix)
    if fix.needs_acknowledgement and not args.acknowledge:
        if args.dry_run:
            preview += "\n(applying needs --acknowledge)"
        else:
            out = sys.stdout if not args.json else sys.stderr
            out.write(preview + "\n")
            raise acknowledgement_required(fix)
    if not confirm(args, N_("Apply {fix}?"), preview, fix=fix.id):
        ctx.emit.result(
            StepStatus.SKIPPED,
            human(args)(N_("dry run: {fix} was not applied")).format(fix=fix.id),
            {"fix": fix.id},
        )
        return EXIT_OK
    apply_fix(ctx, fix.id, acknowledge=args.acknowledge)
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.fixes import prepare_restore, restore_fixes

    ctx = _context(args)
    plan = prepare_restore(ctx)
    notes = plan.render_notes()
    if not plan.changes:
        if notes and not args.json:
            sys.stdout.write(notes + "\n")
        if args.dry_run:
            ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing to restore")), {})
            return EXIT_OK
        restore_fixes(ctx, plan)
        return EXIT_OK
    preview = render_changes(plan.changes) + ("\n" + notes if notes else "")
    if not confirm(args, N_("Restore {n} PodDisruptionBudget(s)?"), preview, n=len(plan.changes)):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was restored")), {})
        return EXIT_OK
    restore_fixes(ctx, plan)
    return EXIT_OK
