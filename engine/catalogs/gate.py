"""The update step's operator gate: a minor update does not start while an installed operator blocks the target
minor (its CSV declares ``olm.maxOpenShiftVersion`` below it), unless the admin explicitly accepted that, which is
journaled as a decision (``catalog accept-blocking``). The CVO would refuse the update anyway while OLM reports
``Upgradeable=False``; failing here says which operator and what to do, before anything is written."""

from __future__ import annotations

from typing import Any

from engine.catalogs import installed as inst
from engine.context import Context
from engine.util import minor_of

STEP = "catalog"
DECISION = "accept-blocking-operators"


def accepted(ctx: Context) -> list[str]:
    value: Any = ctx.journal.decision(STEP, DECISION)
    return [str(v) for v in value] if isinstance(value, list) else []


def accept(ctx: Context, csvs: list[str], reason: str) -> None:
    ctx.journal.record_decision(STEP, DECISION, sorted(csvs), reason)


def check(ctx: Context, current: str, target: str) -> tuple[bool, str, str]:
    """(ok, what was seen, the fix)."""
    cur, tgt = minor_of(current), minor_of(target)
    ops = inst.assess(ctx, target)
    blocking = [o for o in ops if o.blocks(target)]
    if not blocking:
        return True, f"{len(ops)} installed operator(s); none blocks {target}", ""
    names = [o.csv for o in blocking]
    if cur and tgt and tgt <= cur:
        return True, f"{', '.join(names)} block the next minor, not this z-stream update", ""
    ok_by_decision = accepted(ctx)
    if set(names) <= set(ok_by_decision):
        return True, f"{', '.join(names)} block {target}, accepted by the admin's journaled decision", ""
    detail = "; ".join(f"{o.namespace}/{o.subscription or o.csv}: {o.why(target)}" for o in blocking)
    return (
        False,
        detail,
        "Update those operators through the mirrored catalog first (ocp-airgap catalog operators --plan P shows the "
        "channel to move to; ocp-airgap catalog channel --plan P NAMESPACE/NAME CHANNEL), or accept explicitly: "
        "ocp-airgap catalog accept-blocking --plan P --reason '...'.",
    )
