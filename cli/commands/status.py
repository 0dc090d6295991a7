"""``ocp-airgap status --plan P``: what the journal says was done, what is in flight, what comes next."""

from __future__ import annotations

import argparse

from cli.commands._common import add_output_args, add_plan_arg, emitter, handle_errors, human, load_plan
from cli.helptext import cells
from engine.errors import EXIT_OK
from engine.events import StepStatus
from tui.i18n import N_, _

_MARK = {
    "succeeded": N_("done"),
    "running": N_("in flight"),
    "failed": N_("FAILED"),
    "skipped": N_("skipped"),
    "cancelled": N_("cancelled"),
}
_MARK_CELLS = 9


def _centred(text: str, width: int) -> str:
    """``text`` centred in ``width`` terminal cells (a Japanese character takes two)."""
    pad = max(width - cells(text), 0)
    return " " * (pad // 2) + text + " " * (pad - pad // 2)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help=_("what was done, what is in flight, what comes next"), description=_(__doc__)
    )
    add_plan_arg(p)
    p.add_argument(
        "--offline", action="store_true", help=_("read the journal only; do not contact the cluster")
    )
    add_output_args(p)
    p.set_defaults(func=handle_errors(_status))


def _status(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.status import status
    from engine.workflow import ROLE_TITLES

    ctx = Context(load_plan(args), emitter(args, "status"), wait_for_lock=getattr(args, "wait", False))
    st = status(ctx, look_at_cluster=not args.offline)
    emit = ctx.emit
    tr = human(args)  # these lines are events: English in --json
    if st.cluster.get("version"):
        emit.info(
            tr("Cluster: at {version}; {message}").format(
                version=st.cluster["version"], message=st.cluster.get("message", "")
            )
        )
    elif st.cluster.get("error"):
        emit.warning(tr("Cluster not reachable: {error}").format(error=st.cluster["error"]))
    emit.info(tr("Host: {role}").format(role=ROLE_TITLES.get(st.role, st.role)))
    emit.info(tr("Journal: {path}").format(path=ctx.journal.path))
    if st.media:
        emit.info(tr("Media: {path}").format(path=st.media))
    for s in st.steps:
        mark = tr(_MARK[s.status]) if s.status in _MARK else "-"
        line = f"  [{_centred(mark, _MARK_CELLS)}] {s.step.what}"
        if s.summary:
            line += f" — {s.summary}"
        emit.info(line)
    for item in st.in_flight:
        emit.info(tr("In flight: {item}").format(item=item))
    for d in st.decisions:
        emit.info(
            tr("Decision ({step}): {key} = {value}").format(step=d["step"], key=d["key"], value=d["value"])
        )
    nxt = st.next_required()
    if nxt is not None:
        emit.info(tr("Next: {step}: {command}").format(step=nxt.step.what, command=nxt.step.command))
    elif st.complete:
        emit.info(tr("Next: nothing; the update is complete."))
    else:
        emit.info(tr("Next: nothing; every required step on this host is done."))
    emit.result(
        StepStatus.SUCCEEDED,
        tr("{n} step(s) done").format(n=sum(s.status == "succeeded" for s in st.steps)),
        st.to_dict(),
    )
    return EXIT_OK
