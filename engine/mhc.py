"""Pause and resume MachineHealthChecks around an update (docs/steps/mhc.md, machine health checks and disruption budgets).

While nodes reboot during an update a MachineHealthCheck (MHC) may judge them unhealthy and replace their
machines. The documented procedure pauses every MHC first with the ``cluster.x-k8s.io/paused`` annotation (its
presence pauses; the value is ignored) and removes it after the update.

The journal records exactly which MHCs *this tool* paused, so that resume removes the annotation from those
and never from one an administrator had paused for their own reasons. Each pause is journaled twice: an
*intent* before the patch and *done* after it, so a process killed at any instant leaves a record from which
the next run knows every MHC it may have paused (an intent without done is settled by looking at the MHC).
Resume is journaled the same way. Patches carry the object's resourceVersion as a precondition, so an
administrator's concurrent change is never overwritten: on 409 the MHC is re-read and the decision made again.
"""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass, field
from typing import Any

from engine.changes import Change
from engine.cluster import MACHINE_API_ABSENT, MHC, Cluster, machine_api_enabled, retry_on_conflict
from engine.context import Context
from engine.errors import NotFound
from engine.guards import Override, refuse_during_update
from engine.journal import Journal
from engine.lock import locked

PAUSE_ANNOTATION = "cluster.x-k8s.io/paused"
MHC_NAMESPACE = "openshift-machine-api"
STEP = "mhc"
SKIP_DECISION = "skip-pause"
"""Journal decision key: the admin chose to update without pausing the MHCs."""


def resource_id(namespace: str, name: str) -> str:
    return f"machinehealthcheck/{namespace}/{name}"


def _split(resource: str) -> tuple[str, str]:
    _, namespace, name = resource.split("/", 2)
    return namespace, name


def is_paused(mhc: dict[str, Any]) -> bool:
    return PAUSE_ANNOTATION in ((mhc.get("metadata") or {}).get("annotations") or {})


def journal_states(journal: Journal) -> dict[str, str]:
    """resource → ``pausing`` (intent journaled, patch maybe not made), ``paused`` (this tool paused it) or
    ``resuming`` (resume intent journaled) for every MHC this tool may still hold paused."""
    states: dict[str, str] = {}
    for r in journal.changes(STEP):
        resource = str(r.data.get("resource", ""))
        action = r.data.get("action")
        phase = r.data.get("phase")
        if action == "pause":
            if phase == "abandoned":
                states.pop(resource, None)
            else:
                states[resource] = "pausing" if phase == "intent" else "paused"
        elif action == "resume":
            if phase == "intent":
                states[resource] = "resuming"
            else:
                states.pop(resource, None)
    return states


def paused_by_tool(journal: Journal) -> list[str]:
    """The MHCs (``machinehealthcheck/<ns>/<name>``) this tool paused, or may have paused, and not yet resumed."""
    return sorted(journal_states(journal))


def skip_decided(journal: Journal) -> bool:
    """True when the admin explicitly chose (and the journal recorded) to update without pausing the MHCs."""
    return bool(journal.decision(STEP, SKIP_DECISION))


@dataclass
class MhcStatus:
    namespace: str
    name: str
    paused: bool
    by_tool: bool
    """this tool paused it (according to the journal)"""
    journal_state: str = ""
    max_unhealthy: str = ""
    expected_machines: int = 0
    current_healthy: int = 0

    @property
    def resource(self) -> str:
        return resource_id(self.namespace, self.name)

    @property
    def who(self) -> str:
        if not self.paused:
            return "not paused"
        return "paused by ocp-airgap" if self.by_tool else "paused by an administrator (left alone)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "paused": self.paused,
            "paused_by_tool": self.by_tool,
            "journal_state": self.journal_state,
            "expected_machines": self.expected_machines,
            "current_healthy": self.current_healthy,
        }


def machine_api_absent(cluster: Cluster) -> str:
    """Why there is nothing to pause or resume ("" when the cluster has the Machine API)."""
    return "" if machine_api_enabled(cluster.cluster_version()) else MACHINE_API_ABSENT


def _list(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.list(MHC, MHC_NAMESPACE)


def status(ctx: Context) -> list[MhcStatus]:
    cluster = ctx.cluster
    if machine_api_absent(cluster):
        return []
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "machinehealthcheck", "-n", MHC_NAMESPACE])
    states = journal_states(ctx.journal)
    out: list[MhcStatus] = []
    for mhc in _list(cluster):
        meta = mhc["metadata"]
        res = resource_id(meta.get("namespace", MHC_NAMESPACE), meta["name"])
        paused = is_paused(mhc)
        st = mhc.get("status") or {}
        out.append(
            MhcStatus(
                namespace=meta.get("namespace", MHC_NAMESPACE),
                name=meta["name"],
                paused=paused,
                by_tool=paused and res in states,
                journal_state=states.get(res, ""),
                max_unhealthy=str((mhc.get("spec") or {}).get("maxUnhealthy", "")),
                expected_machines=int(st.get("expectedMachines", 0) or 0),
                current_healthy=int(st.get("currentHealthy", 0) or 0),
            )
        )
    return out


@dataclass
class MhcPlan:
    """What a pause or resume will do: the MHCs to patch (as previews) and the ones left alone, with why."""

    action: str
    """'pause' or 'resume'"""
    targets: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    left_alone: dict[str, str] = field(default_factory=dict)
    """resource → why it is not touched"""
    settle: list[str] = field(default_factory=list)
    """journal entries to close without a patch (the MHC is already in the wanted state, or is gone)"""
    override: Override | None = None
    """resume while an update or a pool rollout is in progress, explicitly accepted (journaled on resume)"""
    not_applicable: str = ""
    """why the step does not apply to this cluster (no Machine API): nothing to pause or resume"""


def _oc_annotate(cluster: Cluster, name: str, value: str) -> list[str]:
    return ["oc", *cluster.oc_args(), "-n", MHC_NAMESPACE, "annotate", "mhc", name, value]


def prepare_pause(ctx: Context) -> MhcPlan:
    """Decide which MHCs to pause: every one that is not paused. One already paused is the administrator's
    (left alone) unless the journal says this tool paused it (a re-run after a crash)."""
    cluster = ctx.cluster
    absent = machine_api_absent(cluster)
    if absent:
        return MhcPlan("pause", not_applicable=absent)
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "machinehealthcheck", "-n", MHC_NAMESPACE])
    states = journal_states(ctx.journal)
    plan = MhcPlan("pause")
    for mhc in _list(cluster):
        name = mhc["metadata"]["name"]
        res = resource_id(MHC_NAMESPACE, name)
        annotations = dict(mhc["metadata"].get("annotations") or {})
        if is_paused(mhc):
            if states.get(res) == "pausing":
                plan.settle.append(res)  # our patch went through before a crash: record it as done
            elif res in states:
                plan.left_alone[res] = "already paused by ocp-airgap"
            else:
                plan.left_alone[res] = "paused by an administrator before; it stays paused after the update"
            continue
        plan.targets.append(res)
        plan.changes.append(
            Change(
                title=f"Pause MachineHealthCheck {name}",
                resource=res,
                before={"metadata": {"annotations": annotations}},
                after={"metadata": {"annotations": {**annotations, PAUSE_ANNOTATION: ""}}},
                command=_oc_annotate(cluster, name, f"{PAUSE_ANNOTATION}="),
            )
        )
    return plan


RESUME_FLAG = "--accept-remediation-during-update"
RESUME_CONSEQUENCE = (
    "the MachineHealthChecks may judge nodes that reboot for the update unhealthy and replace their machines"
)


def prepare_resume(ctx: Context, *, during_update: bool = False) -> MhcPlan:
    """Decide which MHCs to resume: exactly those the journal says this tool paused (and still are paused).

    Refused (:class:`~engine.errors.PreconditionFailed`) while the update or a pool's rollout is in progress,
    unless ``during_update`` (the explicit override, journaled when the MHCs are resumed)."""
    cluster = ctx.cluster
    states = journal_states(ctx.journal)
    absent = machine_api_absent(cluster)
    if absent and not states:
        return MhcPlan("resume", not_applicable=absent)
    plan = MhcPlan("resume")
    current = {resource_id(MHC_NAMESPACE, m["metadata"]["name"]): m for m in _list(cluster)}
    for res in sorted(states):
        mhc = current.get(res)
        if mhc is None or not is_paused(mhc):
            plan.settle.append(res)
            continue
        name = mhc["metadata"]["name"]
        annotations = dict(mhc["metadata"].get("annotations") or {})
        after = {k: v for k, v in annotations.items() if k != PAUSE_ANNOTATION}
        plan.targets.append(res)
        plan.changes.append(
            Change(
                title=f"Resume MachineHealthCheck {name}",
                resource=res,
                before={"metadata": {"annotations": annotations}},
                after={"metadata": {"annotations": after}},
                command=_oc_annotate(cluster, name, f"{PAUSE_ANNOTATION}-"),
            )
        )
    for res, mhc in current.items():
        if res not in states and is_paused(mhc):
            plan.left_alone[res] = "paused by an administrator, not by ocp-airgap: left paused"
    if plan.changes:
        plan.override = refuse_during_update(
            ctx,
            step=STEP,
            action="resuming the MachineHealthChecks",
            consequence=RESUME_CONSEQUENCE,
            flag=RESUME_FLAG,
            override=during_update,
        )
    return plan


@locked("mhc pause")
def pause(ctx: Context, plan: MhcPlan) -> dict[str, Any]:
    """Pause the planned MHCs (after the caller's confirmation). Journal intent before each patch, done after."""
    journal, emit = ctx.journal, ctx.emit
    journal.step_started(STEP, action="pause")
    if plan.not_applicable:
        return _not_applicable(ctx, plan)
    for res in plan.settle:
        journal.change(STEP, "pause", res, phase="done", note="found paused after an interrupted run")
        emit.info(f"{res} was paused by an earlier, interrupted run; recorded.")
    for res, why in plan.left_alone.items():
        emit.info(f"{res}: {why}.")
    paused = _annotate_each(ctx, plan, "pause")
    held = paused_by_tool(journal)
    summary = f"paused {len(paused)} MachineHealthCheck(s); ocp-airgap holds {len(held)} paused"
    journal.step_finished(STEP, "succeeded", summary, action="pause", paused=paused, held=held)
    return {"paused": paused, "held": held, "left_alone": plan.left_alone}


@locked("mhc resume")
def resume(ctx: Context, plan: MhcPlan) -> dict[str, Any]:
    """Remove the pause annotation from exactly the MHCs this tool paused; leave the administrator's alone."""
    journal, emit = ctx.journal, ctx.emit
    if plan.override is not None:
        plan.override.record(ctx)
    journal.step_started(STEP, action="resume")
    if plan.not_applicable:
        return _not_applicable(ctx, plan)
    for res in plan.settle:
        journal.change(STEP, "resume", res, phase="done", note="already not paused, or gone")
        emit.info(f"{res} is no longer paused (or no longer exists); record closed.")
    for res, why in plan.left_alone.items():
        emit.info(f"{res}: {why}.")
    resumed = _annotate_each(ctx, plan, "resume")
    summary = f"resumed {len(resumed)} MachineHealthCheck(s)"
    if plan.left_alone:
        summary += f"; left {len(plan.left_alone)} paused by an administrator alone"
    journal.step_finished(STEP, "succeeded", summary, action="resume", resumed=resumed)
    return {"resumed": resumed, "left_alone": plan.left_alone}


def _not_applicable(ctx: Context, plan: MhcPlan) -> dict[str, Any]:
    """Journal the step as skipped, with the reason (the cluster has no MachineHealthChecks at all)."""
    ctx.emit.info(f"MachineHealthChecks: {plan.not_applicable}.")
    ctx.journal.step_finished(
        STEP, "skipped", plan.not_applicable, action=plan.action, reason=plan.not_applicable
    )
    key = "paused" if plan.action == "pause" else "resumed"
    return {key: [], "held": [], "left_alone": {}, "not_applicable": plan.not_applicable}


def _annotate_each(ctx: Context, plan: MhcPlan, action: str) -> list[str]:
    """Pause or resume each planned MHC: journal the intent before its patch and the outcome after it, so a crash
    at any point leaves a record the next run can settle. Returns the resources changed."""
    pause = action == "pause"
    journal, emit = ctx.journal, ctx.emit
    changed: list[str] = []
    for change in plan.changes:
        ctx.check_cancel()
        res = change.resource
        namespace, name = _split(res)
        journal.change(
            STEP,
            action,
            res,
            before={"annotation": not pause},
            after={"annotation": pause},
            command=shlex.join(change.command),
            phase="intent",
        )
        emit.command(change.command)
        outcome = retry_on_conflict(
            functools.partial(_annotate, ctx.cluster, namespace, name, pause=pause),
            on_retry=functools.partial(_retrying, ctx, res),
        )
        if outcome == "admin":
            # somebody else paused it between our look and our patch: theirs, not ours
            journal.change(STEP, action, res, phase="abandoned", note="paused by someone else meanwhile")
            emit.info(f"{res} was paused by someone else meanwhile; left as theirs.")
            continue
        if outcome == "gone":
            # a pause that found nothing holds nothing; a resume of a deleted MHC closes the record
            journal.change(
                STEP, action, res, phase="abandoned" if pause else "done", note="deleted meanwhile"
            )
            emit.warning(f"{res} was deleted meanwhile.")
            continue
        journal.change(STEP, action, res, phase="done")
        emit.info(
            f"machinehealthcheck.machine.openshift.io/{name} annotated ({'paused' if pause else 'resumed'})"
        )
        changed.append(res)
    return changed


def _retrying(ctx: Context, res: str, attempt: int) -> None:
    ctx.emit.info(f"{res} changed meanwhile; re-reading it (retry {attempt}).")


def _annotate(cluster: Cluster, namespace: str, name: str, *, pause: bool) -> str:
    """One merge patch with the resourceVersion read just before as a precondition (409 if changed meanwhile)."""
    try:
        mhc = cluster.get(MHC, name, namespace)
    except NotFound:
        return "gone"
    if pause and is_paused(mhc):
        return "admin"
    if not pause and not is_paused(mhc):
        return "done"
    rv = mhc["metadata"].get("resourceVersion", "")
    patch = {
        "metadata": {
            "resourceVersion": rv,
            "annotations": {PAUSE_ANNOTATION: "" if pause else None},
        }
    }
    try:
        cluster.merge_patch(MHC, name, patch, namespace)
    except NotFound:
        return "gone"
    return "done"


def record_skip(ctx: Context, reason: str) -> None:
    """Journal the admin's explicit decision to update without pausing the MHCs."""
    ctx.journal.record_decision(STEP, SKIP_DECISION, True, reason)
    ctx.emit.warning(
        "Recorded: the update will run with MachineHealthChecks active; a rebooting node may be judged "
        "unhealthy and its machine replaced."
    )
