"""``ocp-airgap status --plan P``: what the journal says was done, what is in flight, what comes next."""

from __future__ import annotations

import argparse

from cli.commands._common import add_output_args, add_plan_arg, emitter, handle_errors, load_plan
from engine.errors import EXIT_OK
from engine.events import StepStatus

_MARK = {
    "succeeded": "done",
    "running": "in flight",
    "failed": "FAILED",
    "skipped": "skipped",
    "cancelled": "cancelled",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help="what was done, what is in flight, what comes next", description=__doc__
    )
    add_plan_arg(p)
    p.add_argument("--offline", action="store_true", help="read the journal only; do not contact the cluster")
    add_output_args(p)
    p.set_defaults(func=handle_errors(_status))


def _status(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.status import status
    from engine.workflow import ROLE_TITLES

    ctx = Context(load_plan(args), emitter(args, "status"))
    st = status(ctx, look_at_cluster=not args.offline)
    emit = ctx.emit
    if st.cluster.get("version"):
        emit.info(f"Cluster: at {st.cluster['version']}; {st.cluster.get('message', '')}")
    elif st.cluster.get("error"):
        emit.warning(f"Cluster not reachable: {st.cluster['error']}")
    emit.info(f"Host: {ROLE_TITLES.get(st.role, st.role)}")
    emit.info(f"Journal: {ctx.journal.path}")
    if st.media:
        emit.info(f"Media: {st.media}")
    for s in st.steps:
        mark = _MARK.get(s.status, "-")
        line = f"  [{mark:^9}] {s.step.what}"
        if s.summary:
            line += f" — {s.summary}"
        emit.info(line)
    for item in st.in_flight:
        emit.info(f"In flight: {item}")
    for d in st.decisions:
        emit.info(f"Decision ({d['step']}): {d['key']} = {d['value']}")
    nxt = st.next_required()
    if nxt is not None:
        emit.info(f"Next: {nxt.step.what}: {nxt.step.command}")
    elif st.complete:
        emit.info("Next: nothing; the update is complete.")
    else:
        emit.info("Next: nothing; every required step on this host is done.")
    emit.result(
        StepStatus.SUCCEEDED, f"{sum(s.status == 'succeeded' for s in st.steps)} step(s) done", st.to_dict()
    )
    return EXIT_OK
