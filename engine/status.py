"""Where the disconnected update stands, from this host's journal (and a look at the cluster when reachable):
what was done, what is in flight, what comes next. The steps and their states come from :mod:`engine.workflow`;
on the disconnected side the connected side's record on the media is shown too (read-only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.cluster import condition, current_version
from engine.context import Context
from engine.errors import AirgapError
from engine.fixes import relaxed_pdbs
from engine.journal import Journal
from engine.mhc import journal_states
from engine.workflow import (
    CONNECTED,
    DIRECT,
    DISCONNECTED,
    MediaRecord,
    StepState,
    media_record,
    role_of,
    step_states,
)


@dataclass
class Status:
    steps: list[StepState]
    role: str = DIRECT
    in_flight: list[str] = field(default_factory=list)
    next_steps: list[StepState] = field(default_factory=list)
    cluster: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    media: str = ""
    """The connected side's record on the media (disconnected side only), read-only."""

    @property
    def complete(self) -> bool:
        """The update went through and nothing the tool paused is left (this host's role reaches the cluster)."""
        by = {s.step.id: s for s in self.steps}
        return "upgrade" in by and by["upgrade"].status == "succeeded" and by["mhc-resume"].done

    def next_required(self) -> StepState | None:
        """The next required step to do: once the update has gone through, only what must follow it."""
        by = {s.step.id: s for s in self.steps}
        candidates = [s for s in self.next_steps if not s.step.optional]
        if "upgrade" in by and by["upgrade"].status == "succeeded":
            candidates = [s for s in candidates if s.step.id == "mhc-resume"]
        return candidates[0] if candidates else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "complete": self.complete,
            "media": self.media,
            "steps": [s.to_dict() for s in self.steps],
            "in_flight": self.in_flight,
            "next": [s.to_dict() for s in self.next_steps],
            "cluster": self.cluster,
            "decisions": self.decisions,
        }


def from_journal(journal: Journal, role: str = DIRECT, *, media: MediaRecord | None = None) -> Status:
    """The steps of this host's role as the journal records them (:mod:`engine.workflow` decides)."""
    states = [s for s in step_states(journal, role) if s.status != "n/a"]
    status = Status(states, role=role)
    for s in states:
        if s.status == "running":
            status.in_flight.append(f"{s.step.title}: started {s.when}, not finished")
    from engine.upgrade_path import pool_states
    from engine.workflow import path_run

    for sid, what in (("mirror", "mirroring of the update path"), ("upgrade", "update path")):
        run = path_run(journal.records, sid)
        if run is not None and run["status"] == "running":
            status.in_flight.append(f"{what}: {run['text']}")
    pools = pool_states(journal)
    if pools:
        status.in_flight.append(
            "worker MachineConfigPools paused by ocp-airgap for a control-plane-only update (unpaused when "
            "'ocp-airgap upgrade run-path --plan P' finishes the path): " + ", ".join(sorted(pools))
        )
    held = journal_states(journal)
    if held:
        status.in_flight.append(
            "MachineHealthChecks paused by ocp-airgap (resume them after the update): "
            + ", ".join(sorted(held))
        )
    relaxed = relaxed_pdbs(journal)
    if relaxed:
        status.in_flight.append(
            "PodDisruptionBudgets relaxed by ocp-airgap (restore them after the update with "
            "'ocp-airgap fix restore --plan P'): " + ", ".join(sorted(relaxed))
        )
    for r in journal.records:
        if r.kind == "decision":
            status.decisions.append(
                {"step": r.step, "key": r.data.get("key"), "value": r.data.get("value"), "when": r.ts}
            )
    if media is not None:
        status.media = media.describe()
    status.next_steps = [s for s in states if not s.done]
    return status


def status(ctx: Context, *, look_at_cluster: bool = True) -> Status:
    """The journal's view, plus the cluster's version and update state when it can be reached."""
    role = role_of(ctx.plan)
    st = from_journal(ctx.journal, role, media=media_record(ctx.plan) if role == DISCONNECTED else None)
    if role == CONNECTED:
        return st  # the connected side never needs the cluster
    if look_at_cluster:
        try:
            cv = ctx.cluster.cluster_version()
        except AirgapError as exc:
            st.cluster = {"error": exc.message}
        else:
            prog = condition(cv, "Progressing") or {}
            st.cluster = {
                "version": current_version(cv),
                "desired": (cv.get("status") or {}).get("desired", {}).get("version", ""),
                "progressing": prog.get("status", ""),
                "message": prog.get("message", ""),
            }
            if prog.get("status") == "True":
                st.in_flight.append(f"cluster update: {prog.get('message', '')}")
                by = {s.step.id: s for s in st.steps}
                if "upgrade" in by and by["upgrade"].status != "running":
                    by["upgrade"].status = "running"
                st.next_steps = [s for s in st.steps if not s.done]
    return st
