"""``ocp-airgap preflight --plan P``: check everything the update needs before anything is changed.

Every check prints PASS, WARN or FAIL with what it saw, why it matters and the fix: the ``oc`` client, the cluster
and your rights on it, the ClusterVersion conditions, operators, nodes, MachineConfigPools, PodDisruptionBudgets,
CloudCredential mode, the etcd backup, the mirror registry (reachable, TLS, subjectAltName, expiry, login, push
right), the media space and the target release (update path, signature).

Exit 0 when nothing failed (warnings allowed), 4 when a check failed.

``--etcd-backup-at WHEN`` states when the last etcd backup was taken (``now``, ``2024-05-01T10:00``, or an age
such as ``3h``); it is recorded in the cluster's journal.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import UTC, datetime, timedelta

from cli import helptext
from cli.commands._common import add_output_args, add_plan_arg, emitter, handle_errors, load_plan
from engine.errors import EXIT_NOT_READY, EXIT_OK, InputError
from engine.events import StepStatus
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "preflight",
        help=_("check the cluster, mirror registry and release before updating"),
        description=_(__doc__),
        formatter_class=helptext.RawDescriptionHelpFormatter,
    )
    add_plan_arg(p)
    p.add_argument(
        "--etcd-backup-at",
        metavar="WHEN",
        default="",
        help=_(
            "when the last etcd backup was taken: 'now', an ISO time (UTC unless given), or an age like 3h / 2d"
        ),
    )
    p.add_argument(
        "--graph-file", metavar="F", default="", help=_("a saved update graph (disconnected side)")
    )
    p.add_argument(
        "--accept-blocking-pdbs",
        metavar="REASON",
        default="",
        help=_(
            "update although PodDisruptionBudgets allow no disruption (the drain of their nodes will wait); "
            "the decision and REASON are journaled"
        ),
    )
    add_output_args(p)
    p.set_defaults(func=handle_errors(_run))


def parse_when(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    value = text.strip()
    if value.lower() == "now":
        return now
    m = re.fullmatch(r"(\d+)\s*([mhd])", value.lower())
    if m:
        n = int(m.group(1))
        unit = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[m.group(2)]
        return now - unit
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--etcd-backup-at {text!r} is not a time",
            fix="Give 'now', an ISO time such as 2024-05-01T10:00Z, or an age such as 3h or 2d.",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _run(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.preflight import PreflightOptions, run_preflight, summarize

    plan = load_plan(args)
    emit = emitter(args, "preflight")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    options = PreflightOptions(
        etcd_backup_at=parse_when(args.etcd_backup_at) if args.etcd_backup_at else None,
        graph_file=args.graph_file,
        accept_blocking_pdbs=args.accept_blocking_pdbs,
        ask_password=getpass.getpass if sys.stdin.isatty() else None,
    )
    results = run_preflight(ctx, options)
    passed, warned, failed = summarize(results)
    summary = f"{passed} passed, {warned} warnings, {failed} failed"
    data = {
        "passed": passed,
        "warned": warned,
        "failed": failed,
        "checks": [{"name": r.name, "status": r.status.value, "detail": r.detail} for r in results],
    }
    if failed:
        names = ", ".join(r.name for r in results if r.status.value == "fail")
        emit.result(StepStatus.FAILED, f"{summary}: {names}", data)
        return EXIT_NOT_READY
    emit.result(StepStatus.SUCCEEDED, summary, data)
    return EXIT_OK
