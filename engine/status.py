"""Where the disconnected update stands, from the cluster's journal (and a look at the cluster when reachable):
what was done, what is in flight, what comes next.

The steps, in the documented order: preflight → release → credentials → mirror → signature → mirror-config
(when the cluster pulls by source names) → catalog (optional) → mhc pause → upgrade → mhc resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.cluster import condition, current_version
from engine.context import Context
from engine.errors import AirgapError
from engine.fixes import relaxed_pdbs
from engine.journal import Journal, Record
from engine.mhc import journal_states, skip_decided

# (journal step, what it is, command that does it, required for the update)
WORKFLOW: tuple[tuple[str, str, str, bool], ...] = (
    ("preflight", "preflight checks", "ocp-airgap preflight --plan P", True),
    ("fixes", "fixes for preflight findings (optional)", "ocp-airgap fix list --plan P", False),
    ("release", "release selection (target and digest)", "ocp-airgap release --plan P", True),
    ("credentials", "mirror credentials and CA trust", "ocp-airgap credentials merge --plan P", True),
    ("mirror", "release mirrored to the mirror registry", "ocp-airgap mirror --plan P", True),
    ("signature", "release signature ConfigMap applied", "ocp-airgap signature apply --plan P", True),
    (
        "mirror-config",
        "ImageDigestMirrorSet / ImageContentSourcePolicy",
        "ocp-airgap mirror-config apply --plan P",
        False,
    ),
    (
        "catalog",
        "operator catalog pointed at the new index image",
        "ocp-airgap catalog set --plan P NAME IMAGE",
        False,
    ),
    ("mhc-pause", "MachineHealthChecks paused", "ocp-airgap mhc pause --plan P", True),
    ("upgrade", "cluster update started and completed", "ocp-airgap upgrade start --plan P --watch", True),
    ("mhc-resume", "MachineHealthChecks resumed", "ocp-airgap mhc resume --plan P", True),
)


@dataclass
class StepState:
    step: str
    title: str
    command: str
    required: bool
    status: str = "pending"
    """pending | running | succeeded | failed | cancelled | skipped"""
    summary: str = ""
    when: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "when": self.when,
            "command": self.command,
            "required": self.required,
        }


@dataclass
class Status:
    steps: list[StepState]
    in_flight: list[str] = field(default_factory=list)
    next_steps: list[StepState] = field(default_factory=list)
    cluster: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "in_flight": self.in_flight,
            "next": [s.to_dict() for s in self.next_steps],
            "cluster": self.cluster,
            "decisions": self.decisions,
        }


def _last_finished(records: list[Record], step: str, **match: Any) -> Record | None:
    for r in reversed(records):
        kinds = ("step-finished", "step-started")
        if r.step == step and r.kind in kinds and all(r.data.get(k) == v for k, v in match.items()):
            return r
    return None


def from_journal(journal: Journal) -> Status:
    records = journal.records
    steps: list[StepState] = []
    for step, title, command, required in WORKFLOW:
        state = StepState(step, title, command, required)
        if step in ("mhc-pause", "mhc-resume"):
            r = _last_finished(records, "mhc", action="pause" if step == "mhc-pause" else "resume")
        else:
            r = _last_finished(records, step)
        if r is not None:
            state.status = "running" if r.kind == "step-started" else str(r.data.get("status", "succeeded"))
            state.summary = str(r.data.get("summary", ""))
            state.when = r.ts
        steps.append(state)
    by = {s.step: s for s in steps}
    if by["mhc-pause"].status == "pending" and skip_decided(journal):
        by["mhc-pause"].status = "skipped"
        by["mhc-pause"].summary = "the admin chose to update without pausing MachineHealthChecks"
        by["mhc-resume"].status = "skipped"
    status = Status(steps)
    for s in steps:
        if s.status == "running":
            status.in_flight.append(f"{s.title}: started {s.when}, not finished")
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
    if by["mhc-resume"].status == "pending" and by["mhc-pause"].status == "skipped" and not held:
        by["mhc-resume"].status = "skipped"  # nothing was paused (not applicable, or the admin's decision)
        by["mhc-resume"].summary = by["mhc-pause"].summary
    if by["mhc-resume"].status == "pending" and by["mhc-pause"].status == "succeeded" and not held:
        by["mhc-resume"].status = "succeeded"
        by["mhc-resume"].summary = "nothing paused by ocp-airgap remains"
    for r in records:
        if r.kind == "decision":
            status.decisions.append(
                {"step": r.step, "key": r.data.get("key"), "value": r.data.get("value"), "when": r.ts}
            )
    status.next_steps = [s for s in steps if s.status not in ("succeeded", "skipped")]
    return status


def status(ctx: Context, *, look_at_cluster: bool = True) -> Status:
    """The journal's view, plus the cluster's version and update state when it can be reached."""
    st = from_journal(ctx.journal)
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
                by = {s.step: s for s in st.steps}
                if by["upgrade"].status != "running":
                    by["upgrade"].status = "running"
                st.next_steps = [s for s in st.steps if s.status not in ("succeeded", "skipped")]
    return st
