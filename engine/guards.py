"""Guards shared by every step that rolls nodes or changes what nodes pull.

While the cluster is updating (``clusterversion/version`` Progressing=True) or a MachineConfigPool is rolling out
(its ``Updating`` condition True), nodes are being drained and rebooted one after the other. Resuming the
MachineHealthChecks then lets them replace rebooting machines; changing the mirror set, the CA trust or the
global pull secret renders a new MachineConfig on top of the rollout (or changes what the remaining nodes pull
mid-way). These steps are refused then, unless the admin gives the explicit override that names the consequence;
the override is journaled as a decision of the step.

The guards live in the engine so the wizard and the headless commands get the same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import PreconditionFailed

if TYPE_CHECKING:
    from engine.cluster import Cluster
    from engine.context import Context

DURING_UPDATE_KEY = "during-update"
"""Journal decision key: the admin overrode the during-update guard of a step."""


NODE_CHANGE_FLAG = "--accept-node-changes-during-update"
"""The override of the steps that change what nodes pull (mirror set, CA trust, global pull secret)."""
CONSEQUENCES = {
    "mirror-config": "the pools render a new MachineConfig on top of the update's rollout and nodes start pulling "
    "from other sources mid-update (nodes not yet updated may fail to pull the update's images)",
    "trust": "the nodes' trusted CAs change while they are being drained and rebooted (a node not yet updated may "
    "fail to pull from the mirror)",
    "pull-secret": "the nodes' pull secret changes while they are being drained and rebooted (a node not yet "
    "updated may fail to pull the update's images)",
}


def in_progress(cv: dict[str, Any], pools: list[dict[str, Any]]) -> list[str]:
    """What is rolling now, in plain words: the cluster update and every MachineConfigPool updating."""
    from engine.cluster import condition  # the kubernetes client only when a cluster is used

    out: list[str] = []
    prog = condition(cv, "Progressing")
    if prog and prog.get("status") == "True":
        out.append(f"the cluster is updating ({str(prog.get('message', '')).strip() or 'Progressing=True'})")
    for pool in pools:
        updating = condition(pool, "Updating")
        if updating and updating.get("status") == "True":
            st = pool.get("status") or {}
            out.append(
                f"MachineConfigPool {pool.get('metadata', {}).get('name', '?')} is rolling out "
                f"({int(st.get('updatedMachineCount', 0) or 0)} of {int(st.get('machineCount', 0) or 0)} "
                "nodes updated)"
            )
    return out


def rollout_in_progress(cluster: Cluster) -> list[str]:
    from engine.cluster import MCP

    return in_progress(cluster.cluster_version(), cluster.list(MCP))


@dataclass
class Override:
    """The during-update guard was overridden: what was rolling, and the consequence the admin accepted."""

    step: str
    action: str
    consequence: str
    reasons: list[str] = field(default_factory=list)

    def record(self, ctx: Context) -> None:
        """Journal the decision (call it when the change is actually made, after confirmation)."""
        ctx.journal.record_decision(
            self.step,
            DURING_UPDATE_KEY,
            {"action": self.action, "while": self.reasons},
            reason=f"accepted: {self.consequence}",
        )


def refuse_during_update(
    ctx: Context, *, step: str, action: str, consequence: str, flag: str, override: bool
) -> Override | None:
    """Refuse ``action`` while an update or a pool rollout is in progress, unless ``override``.

    Returns None when nothing is rolling, an :class:`Override` to record when overridden; raises
    :class:`PreconditionFailed` (exit 3) otherwise."""
    reasons = rollout_in_progress(ctx.cluster)
    if not reasons:
        return None
    if not override:
        raise PreconditionFailed(
            f"{action} is refused while {'; '.join(reasons)}: {consequence}",
            fix="Wait until the update and the pools' rollout are complete (ocp-airgap upgrade watch), then "
            f"run it again; to do it now anyway, accepting that {consequence}, add {flag} "
            "(the decision is journaled).",
        )
    ctx.emit.warning(f"{action} while {'; '.join(reasons)}: {consequence} (accepted with {flag})")
    return Override(step, action, consequence, reasons)


__all__ = [
    "CONSEQUENCES",
    "DURING_UPDATE_KEY",
    "NODE_CHANGE_FLAG",
    "Override",
    "in_progress",
    "refuse_during_update",
    "rollout_in_progress",
]
