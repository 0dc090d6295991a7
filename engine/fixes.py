"""Fix actions: the changes the admin may let ocp-airgap make for the blocking findings of preflight
(docs/steps/preflight.md, machine health checks and disruption budgets).

Three kinds of fix, each previewed (:class:`~engine.changes.Change`), confirmed by the caller, journaled and,
where that makes sense, reversible:

``pdb/<namespace>/<name>`` — a PodDisruptionBudget that allows no disruption (preflight check
    ``PodDisruptionBudgets``). Its spec is relaxed so that one pod may be evicted at a time: ``maxUnavailable: 1``
    (and ``minAvailable`` removed) when every pod it protects belongs to a controller that Kubernetes can scale
    (ReplicaSet, StatefulSet, ReplicationController...), because Kubernetes evaluates ``maxUnavailable`` only for
    such pods; otherwise ``minAvailable: 0``, which works for any pod. The exact previous spec is journaled;
    :func:`restore_fixes` puts it back after the update.
``cloudcredential/upgradeable-to`` — CloudCredential ``cluster`` in ``Manual`` mode without
    ``cloudcredential.openshift.io/upgradeable-to`` at the target's minor version (check ``CloudCredential``).
    The annotation is set to the target version. ocp-airgap cannot check that the cloud provider credentials
    were really updated for the target release, so the admin must say so (``acknowledge=True``); that statement
    is journaled as a decision. Not restored: the annotation records a fact and is meant to stay.
``adminack/<gate>`` — an admin-ack gate (``admin-gates`` in ``openshift-config-managed``) that applies to the
    cluster's minor version and is not acknowledged in ``admin-acks`` (check ``Admin-ack gates``), e.g.
    ``ack-4.20-sigstore-in-4.21``. The gate's own text says what the admin must have done; ocp-airgap cannot
    check it all, so the admin must say so (``acknowledge=True``, journaled as a decision); then the key is set
    to ``"true"`` in ``admin-acks``. Not restored: an acknowledgement is meant to stay.
``mcp/<name>/unpause`` — a paused MachineConfigPool (check ``MachineConfigPools``): ``spec.paused: false``.
    Not restored: the docs require every pool unpaused for the update, and a paused pool also holds back the
    kubelet CA rotation.

Every change is journaled as an *intent* (with the exact previous state) before the patch and *done* after it,
so a process killed at any instant leaves a record from which the next run knows what it may have changed.
Patches carry the object's ``resourceVersion`` as a precondition; on 409 Conflict the object is re-read and the
decision made again. Restore only touches objects this tool relaxed, and skips (saying so) any that was changed
since by someone else.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.changes import Change
from engine.cluster import (
    CLOUD_CREDENTIAL,
    CONFIGMAP,
    MCP,
    PDB,
    POD,
    Cluster,
    current_version,
    retry_on_conflict,
    selector_matches,
)
from engine.context import Context
from engine.errors import (
    AirgapError,
    Conflict,
    Forbidden,
    InputError,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from engine.events import StepResult, StepStatus
from engine.journal import Journal
from engine.util import minor_of

STEP = "fixes"
CLOUD_CREDENTIAL_ANNOTATION = "cloudcredential.openshift.io/upgradeable-to"
CLOUD_CREDENTIAL_FIX = "cloudcredential/upgradeable-to"
ACK_DECISION = "cloudcredential-credentials-updated"
"""Journal decision key: the admin stated that the cloud provider credentials were updated for the target."""

CHECK_PDB = "PodDisruptionBudgets"
CHECK_CLOUD_CREDENTIAL = "CloudCredential"
CHECK_MCP = "MachineConfigPools"
CHECK_ADMIN_ACK = "Admin-ack gates"
ADMIN_ACK_PREFIX = "adminack/"
WHY_ADMIN_ACK = (
    "An unacknowledged admin-ack gate makes the cluster Upgradeable=False (AdminAckRequired), which refuses "
    "every update to the next minor version."
)

WHY_PDB = (
    "A PodDisruptionBudget that allows no disruption blocks the node drain that applies the new machine config; "
    "if all its pods are on one node the drain can never finish."
)
WHY_CLOUD_CREDENTIAL = (
    "With manually maintained cloud credentials, the cloud provider resources must be updated for the new "
    "release first; until the annotation says so, updates to another minor version are refused."
)
WHY_MCP = (
    "Nodes of a paused MachineConfigPool are skipped by the update; pausing is legitimate only for a canary "
    "rollout."
)

_SCALABLE_OWNERS = {"ReplicaSet", "StatefulSet", "ReplicationController", "Deployment"}


# ----------------------------------------------------------------------------------------------------------
# what can be fixed
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Fix:
    """One change ocp-airgap can make for a blocking preflight finding."""

    id: str
    """Stable: ``pdb/<ns>/<name>``, ``cloudcredential/upgradeable-to``, ``mcp/<name>/unpause``."""
    check: str
    """The preflight CheckResult name this fix answers (``PodDisruptionBudgets``, ``CloudCredential``,
    ``MachineConfigPools``)."""
    title: str
    why: str
    """One line from the docs: why the finding blocks the update."""
    detail: str
    """What was seen on the cluster."""
    changes: list[Change] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    """The equivalent oc commands."""
    acknowledgement: str = ""
    """The statement the admin must make before the fix is applied (empty: none needed)."""
    restorable: bool = False
    restore_note: str = ""
    """What ``restore`` does with this change, or why it is not restored."""
    notes: list[str] = field(default_factory=list)
    """Further things the admin should know before applying (e.g. a pool starts rolling at once)."""

    @property
    def needs_acknowledgement(self) -> bool:
        return bool(self.acknowledgement)

    @property
    def resource(self) -> str:
        return self.changes[0].resource if self.changes else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "title": self.title,
            "why": self.why,
            "detail": self.detail,
            "commands": [shlex.join(c) for c in self.commands],
            "needs_acknowledgement": self.needs_acknowledgement,
            "acknowledgement": self.acknowledgement,
            "restorable": self.restorable,
            "restore_note": self.restore_note,
            "notes": list(self.notes),
            "changes": [
                {"title": c.title, "resource": c.resource, "action": c.action, "diff": c.diff()}
                for c in self.changes
            ],
        }


def fixes_for_check(check_name: str, fixes: list[Fix]) -> list[Fix]:
    """Every fix that answers the preflight check named ``check_name`` (e.g. one per blocking budget)."""
    return [f for f in fixes if f.check == check_name]


def fix_for_check(check_name: str, fixes: list[Fix]) -> Fix | None:
    """The first fix that answers the preflight check named ``check_name``, or None."""
    found = fixes_for_check(check_name, fixes)
    return found[0] if found else None


@dataclass
class Inspection:
    """What :func:`inspect_fixes` found."""

    fixes: list[Fix] = field(default_factory=list)
    not_needed: dict[str, str] = field(default_factory=dict)
    """fix id → why it does not apply now (the object is fine)"""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """fix id → the object as read"""


def pdb_id(namespace: str, name: str) -> str:
    return f"pdb/{namespace}/{name}"


def pdb_resource(namespace: str, name: str) -> str:
    return f"poddisruptionbudget/{namespace}/{name}"


def mcp_id(name: str) -> str:
    return f"mcp/{name}/unpause"


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def relaxed_pdb_spec(spec: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The relaxed spec and why that form: ``maxUnavailable: 1`` when every protected pod has a scalable
    controller, else ``minAvailable: 0``."""
    base = {k: v for k, v in spec.items() if k not in ("minAvailable", "maxUnavailable")}
    owners = [
        {
            o.get("kind")
            for o in (p.get("metadata") or {}).get("ownerReferences") or []
            if o.get("controller", True)
        }
        for p in pods
    ]
    if pods and all(kinds & _SCALABLE_OWNERS for kinds in owners):
        return (
            {**base, "maxUnavailable": 1},
            "maxUnavailable: 1 lets the drain evict one pod at a time and still protects the others",
        )
    return (
        {**base, "minAvailable": 0},
        "minAvailable: 0, because Kubernetes evaluates maxUnavailable only for pods of a scalable controller "
        "and some protected pod has none",
    )


def _spec_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The merge patch of ``spec`` that turns ``before`` into ``after`` (removed keys as null)."""
    patch: dict[str, Any] = {k: None for k in before if k not in after}
    patch.update({k: v for k, v in after.items() if before.get(k) != v})
    return patch


def _oc_patch(cluster: Cluster, kind: str, name: str, namespace: str, patch: dict[str, Any]) -> list[str]:
    ns = ["-n", namespace] if namespace else []
    return [
        "oc",
        *cluster.oc_args(),
        *ns,
        "patch",
        kind,
        name,
        "--type=merge",
        "-p",
        json.dumps(patch, separators=(",", ":")),
    ]


def _limit(spec: dict[str, Any]) -> str:
    if "minAvailable" in spec:
        return f"minAvailable {spec['minAvailable']}"
    if "maxUnavailable" in spec:
        return f"maxUnavailable {spec['maxUnavailable']}"
    return "no limit"


def _inspect_pdbs(ctx: Context, out: Inspection) -> None:
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "poddisruptionbudgets", "--all-namespaces"])
    pods_by_ns: dict[str, list[dict[str, Any]]] = {}
    for pdb in cluster.list(PDB):
        meta = pdb.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta["name"])
        fid = pdb_id(ns, name)
        out.objects[fid] = pdb
        st = pdb.get("status") or {}
        if st.get("disruptionsAllowed", 1) != 0:
            out.not_needed[fid] = f"{ns}/{name} allows {st.get('disruptionsAllowed')} disruption(s)"
            continue
        if not st.get("expectedPods", 1):
            out.not_needed[fid] = f"{ns}/{name} protects no pod"
            continue
        if ns not in pods_by_ns:
            pods_by_ns[ns] = cluster.list(POD, ns)
        spec = _spec(pdb)
        pods = [
            p
            for p in pods_by_ns[ns]
            if selector_matches(spec.get("selector") or {}, (p.get("metadata") or {}).get("labels") or {})
        ]
        after, form = relaxed_pdb_spec(spec, pods)
        if after == spec:
            out.not_needed[fid] = f"{ns}/{name} is already relaxed ({_limit(spec)}); it waits for its pods"
            continue
        patch = {"spec": _spec_patch(spec, after)}
        command = _oc_patch(cluster, "pdb", name, ns, patch)
        named = ", ".join(
            f"{p['metadata']['name']} on {(p.get('spec') or {}).get('nodeName') or 'no node'}" for p in pods
        )
        res = pdb_resource(ns, name)
        out.fixes.append(
            Fix(
                id=fid,
                check=CHECK_PDB,
                title=f"Relax PodDisruptionBudget {ns}/{name} for the update",
                why=WHY_PDB,
                detail=f"{ns}/{name} ({_limit(spec)}) allows no disruption; it protects {named or 'no running pod'}",
                changes=[
                    Change(
                        title=f"Relax PodDisruptionBudget {ns}/{name} ({_limit(spec)} -> {_limit(after)})",
                        resource=res,
                        before={"spec": spec},
                        after={"spec": after},
                        command=command,
                    )
                ],
                commands=[command],
                restorable=True,
                restore_note="'ocp-airgap fix restore' puts the exact previous spec back after the update "
                "(unless someone changed the budget since)",
                notes=[form],
            )
        )


def _inspect_cloud_credential(ctx: Context, out: Inspection) -> None:
    cluster = ctx.cluster
    fid = CLOUD_CREDENTIAL_FIX
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "cloudcredential", "cluster", "-o", "yaml"])
    cc = cluster.get_or_none(CLOUD_CREDENTIAL, "cluster")
    if cc is None:
        out.not_needed[fid] = "there is no cloudcredential/cluster (no cloud credentials to manage)"
        return
    out.objects[fid] = cc
    mode = str(_spec(cc).get("credentialsMode") or "default")
    if mode != "Manual":
        out.not_needed[fid] = f"credentialsMode is {mode}: the operator manages the credentials"
        return
    target = ctx.plan.release.version
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "clusterversion", "version"])
    current = current_version(cluster.cluster_version())
    cur, tgt = minor_of(current), minor_of(target)
    if tgt is None:
        out.not_needed[fid] = "the plan names no target release (release.version)"
        return
    if cur is not None and tgt <= cur:
        out.not_needed[fid] = f"{current} -> {target} stays within the minor version, which is not gated"
        return
    annotations = dict((cc.get("metadata") or {}).get("annotations") or {})
    value = str(annotations.get(CLOUD_CREDENTIAL_ANNOTATION, ""))
    marked = minor_of(value)
    if marked is not None and marked >= tgt:
        out.not_needed[fid] = f"{CLOUD_CREDENTIAL_ANNOTATION}={value} already covers {target}"
        return
    seen = (
        f"{CLOUD_CREDENTIAL_ANNOTATION}={value}" if value else f"no {CLOUD_CREDENTIAL_ANNOTATION} annotation"
    )
    command = [
        "oc",
        *cluster.oc_args(),
        "annotate",
        "cloudcredential",
        "cluster",
        f"{CLOUD_CREDENTIAL_ANNOTATION}={target}",
        "--overwrite",
    ]
    out.fixes.append(
        Fix(
            id=fid,
            check=CHECK_CLOUD_CREDENTIAL,
            title=f"Mark the cloud credentials as updated for {target}",
            why=WHY_CLOUD_CREDENTIAL,
            detail=f"credentialsMode Manual with {seen}; the update {current} -> {target} changes the minor version",
            changes=[
                Change(
                    title=f"Annotate cloudcredential/cluster {CLOUD_CREDENTIAL_ANNOTATION}={target}",
                    resource="cloudcredential/cluster",
                    before={"metadata": {"annotations": annotations}},
                    after={"metadata": {"annotations": {**annotations, CLOUD_CREDENTIAL_ANNOTATION: target}}},
                    command=command,
                )
            ],
            commands=[command],
            acknowledgement=f"The cloud provider credentials have been updated for release {target} (the "
            f"CredentialsRequests of {target}, e.g. with ccoctl). ocp-airgap cannot check this.",
            restorable=False,
            restore_note="not restored: the annotation states that the credentials are ready for "
            f"{target} and is meant to stay",
        )
    )


def _inspect_pools(ctx: Context, out: Inspection) -> None:
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "machineconfigpools"])
    for pool in cluster.list(MCP):
        name = str(pool["metadata"]["name"])
        fid = mcp_id(name)
        out.objects[fid] = pool
        if not _spec(pool).get("paused"):
            out.not_needed[fid] = f"pool {name} is not paused"
            continue
        patch = {"spec": {"paused": False}}
        command = _oc_patch(cluster, "mcp", name, "", patch)
        notes = []
        wanted = str((_spec(pool).get("configuration") or {}).get("name", ""))
        running = str(((pool.get("status") or {}).get("configuration") or {}).get("name", ""))
        if wanted and running and wanted != running:
            notes.append(
                f"pool {name} has a pending configuration ({wanted}): its nodes start updating "
                "(cordon, drain, reboot) as soon as it is unpaused"
            )
        out.fixes.append(
            Fix(
                id=fid,
                check=CHECK_MCP,
                title=f"Unpause MachineConfigPool {name}",
                why=WHY_MCP,
                detail=f"pool {name} is paused (spec.paused: true)",
                changes=[
                    Change(
                        title=f"Unpause MachineConfigPool {name}",
                        resource=f"machineconfigpool/{name}",
                        before={"spec": {"paused": True}},
                        after={"spec": {"paused": False}},
                        command=command,
                    )
                ],
                commands=[command],
                restorable=False,
                restore_note="not restored: the update needs every pool unpaused, and a paused pool also holds "
                "back the kubelet CA rotation; pause it again by hand only for a deliberate canary rollout",
                notes=notes,
            )
        )


def _inspect_admin_acks(ctx: Context, out: Inspection) -> None:
    from engine import adminacks

    cluster = ctx.cluster
    ctx.emit.command(
        ["oc", *cluster.oc_args(), "-n", adminacks.GATES_NAMESPACE, "get", "configmap", "admin-gates"]
    )
    current = current_version(cluster.cluster_version())
    gates = adminacks.read_gates(cluster, current)
    if not gates:
        return
    target = ctx.plan.release.version
    cur, tgt = minor_of(current), minor_of(target)
    for gate in gates:
        fid = ADMIN_ACK_PREFIX + gate.key
        if not gate.applies:
            out.not_needed[fid] = (
                f"gate {gate.key} is for {gate.minor or 'another version'}, the cluster runs {current}"
            )
            continue
        if gate.acked:
            out.not_needed[fid] = f"gate {gate.key} is already acknowledged in admin-acks"
            continue
        if cur is not None and tgt is not None and tgt <= cur:
            out.not_needed[fid] = (
                f"{current} -> {target} stays within the minor version, which the gate does not block"
            )
            continue
        command = adminacks.ack_command(cluster, gate.key)
        out.fixes.append(
            Fix(
                id=fid,
                check=CHECK_ADMIN_ACK,
                title=f"Acknowledge admin gate {gate.key}",
                why=WHY_ADMIN_ACK,
                detail=f"{gate.key}: {gate.text}",
                changes=[
                    Change(
                        title=f'Set {gate.key}: "true" in configmap admin-acks (openshift-config)',
                        resource=f"configmap/{adminacks.ACKS_NAME}",
                        before={"data": {gate.key: None}},
                        after={"data": {gate.key: "true"}},
                        command=command,
                    )
                ],
                commands=[command],
                acknowledgement=f"I have read and done what gate {gate.key} asks: {gate.text}",
                restorable=False,
                restore_note="not restored: an acknowledgement is meant to stay",
            )
        )


def inspect_fixes(ctx: Context) -> Inspection:
    """Look at the cluster: the fixes that apply now, and for every other candidate why it is not needed."""
    out = Inspection()
    _inspect_pdbs(ctx, out)
    _inspect_cloud_credential(ctx, out)
    _inspect_pools(ctx, out)
    _inspect_admin_acks(ctx, out)
    return out


def available_fixes(ctx: Context) -> list[Fix]:
    """Look at the cluster and return every fix that applies now (in preflight's order: PDBs, CloudCredential,
    pools). Reads only."""
    return inspect_fixes(ctx).fixes


# ----------------------------------------------------------------------------------------------------------
# journal
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Relaxed:
    """A PodDisruptionBudget this tool relaxed (or may have, after a crash) and not yet restored."""

    resource: str
    fix_id: str
    state: str
    """``relaxing`` (intent journaled, patch maybe not made), ``relaxed`` or ``restoring``"""
    before: dict[str, Any]
    """the exact spec before ocp-airgap changed it"""
    after: dict[str, Any]
    """the spec ocp-airgap wrote"""

    @property
    def namespace(self) -> str:
        return self.resource.split("/", 2)[1]

    @property
    def name(self) -> str:
        return self.resource.split("/", 2)[2]


def relaxed_pdbs(journal: Journal) -> dict[str, Relaxed]:
    """resource → :class:`Relaxed` for every budget this tool relaxed and has not restored."""
    out: dict[str, Relaxed] = {}
    for r in journal.changes(STEP):
        res = str(r.data.get("resource", ""))
        action, phase = r.data.get("action"), r.data.get("phase")
        if action == "relax":
            if phase == "intent":
                out[res] = Relaxed(
                    res,
                    str(r.data.get("fix", "")),
                    "relaxing",
                    dict((r.data.get("before") or {}).get("spec") or {}),
                    dict((r.data.get("after") or {}).get("spec") or {}),
                )
            elif phase == "done" and res in out:
                out[res].state = "relaxed"
            elif phase in ("failed", "abandoned"):
                out.pop(res, None)
        elif action == "restore":
            if phase == "intent" and res in out:
                out[res].state = "restoring"
            elif phase == "failed" and res in out:
                out[res].state = "relaxed"  # the restore was refused: the budget is still relaxed
            elif phase in ("done", "skipped"):
                out.pop(res, None)
    return out


def fix_history(journal: Journal) -> list[dict[str, Any]]:
    """Every fix this tool applied (done), oldest first: ``{fix, resource, action, before, after, ts}``."""
    return [
        {
            "fix": r.data.get("fix", ""),
            "resource": r.data.get("resource", ""),
            "action": r.data.get("action", ""),
            "before": r.data.get("before"),
            "after": r.data.get("after"),
            "ts": r.ts,
        }
        for r in journal.changes(STEP)
        if r.data.get("phase") == "done" and r.data.get("action") != "restore"
    ]


# ----------------------------------------------------------------------------------------------------------
# apply
# ----------------------------------------------------------------------------------------------------------


def _not_made(exc: BaseException) -> bool:
    """True when the API's answer proves the patch was not made (refused); after anything else (a timeout, a lost
    connection) the intent stays open and the next run decides by looking at the object."""
    return isinstance(exc, (Forbidden, Unauthorized, NotFound, Conflict, InputError))


def _retry_note(ctx: Context, what: str) -> Callable[[int], None]:
    def note(attempt: int) -> None:
        ctx.emit.info(
            f"{what} changed meanwhile (409 Conflict); re-reading it and deciding again (retry {attempt})."
        )

    return note


def unknown_fix(fix_id: str, found: Inspection) -> InputError:
    """The error for a fix id that names nothing on this cluster (exit 2), listing the ones that apply."""
    if found.fixes:
        hint = "Choose one of: " + ", ".join(f.id for f in found.fixes) + " (ocp-airgap fix list --plan P)."
    else:
        hint = "No fix applies on this cluster now (ocp-airgap fix list --plan P)."
    return InputError(f"there is no fix {fix_id!r} on this cluster", fix=hint)


def acknowledgement_required(fix: Fix) -> PreconditionFailed:
    """The refusal for a fix that needs the admin's statement and did not get it (exit 3)."""
    return PreconditionFailed(
        f"not applied: {fix.id} needs your acknowledgement. {fix.acknowledgement}",
        fix="Only once that is true, run again with --acknowledge (the statement is recorded in the journal). "
        "Until then the cluster refuses updates to another minor version (Upgradeable=False, "
        "MissingUpgradeableAnnotation).",
    )


def apply_fix(ctx: Context, fix_id: str, *, acknowledge: bool = False) -> StepResult:
    """Apply one fix (after the caller's confirmation). The cluster is inspected again first: a fix no longer
    needed ends SKIPPED with the reason; an unknown id is an :class:`InputError`; a fix that needs the admin's
    statement raises :class:`PreconditionFailed` (exit 3) unless ``acknowledge``."""
    found = inspect_fixes(ctx)
    fix = next((f for f in found.fixes if f.id == fix_id), None)
    if fix is None:
        if fix_id in found.not_needed:
            reason = found.not_needed[fix_id]
            ctx.emit.info(f"{fix_id}: nothing to do: {reason}.")
            return ctx.emit.result(StepStatus.SKIPPED, f"{fix_id} is not needed: {reason}", {"fix": fix_id})
        raise unknown_fix(fix_id, found)
    if fix.needs_acknowledgement and not acknowledge:
        raise acknowledgement_required(fix)
    for note in fix.notes:
        ctx.emit.info(note)
    if fix.check == CHECK_PDB:
        return _apply_pdb(ctx, fix)
    if fix.check == CHECK_CLOUD_CREDENTIAL:
        return _apply_cloud_credential(ctx, fix)
    if fix.check == CHECK_ADMIN_ACK:
        return _apply_admin_ack(ctx, fix)
    return _apply_pool(ctx, fix)


def _apply_admin_ack(ctx: Context, fix: Fix) -> StepResult:
    from engine import adminacks

    cluster = ctx.cluster
    key = fix.id[len(ADMIN_ACK_PREFIX) :]
    who = ""
    try:
        who = cluster.whoami()
    except AirgapError:
        who = ""
    ctx.journal.record_decision(
        STEP, f"admin-ack:{key}", "true", f"{who + ': ' if who else ''}{fix.acknowledgement}"
    )
    ctx.emit.info(f"Recorded your statement: {fix.acknowledgement}")

    def read() -> dict[str, Any]:
        try:
            return cluster.get(CONFIGMAP, adminacks.ACKS_NAME, adminacks.ACKS_NAMESPACE)
        except NotFound:
            return {"metadata": {}, "data": {}}

    def state(obj: dict[str, Any]) -> Any:
        return (obj.get("data") or {}).get(key)

    def patch(obj: dict[str, Any]) -> None:
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        if not rv:
            cluster.create(
                CONFIGMAP,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": adminacks.ACKS_NAME, "namespace": adminacks.ACKS_NAMESPACE},
                    "data": {key: "true"},
                },
                adminacks.ACKS_NAMESPACE,
            )
            return
        body = {"metadata": {"resourceVersion": rv}, "data": {key: "true"}}
        cluster.merge_patch(CONFIGMAP, adminacks.ACKS_NAME, body, adminacks.ACKS_NAMESPACE)

    return _apply_simple(
        ctx,
        fix,
        action="acknowledge",
        read=read,
        state=state,
        wanted="true",
        patch=patch,
        what=f"configmap/{adminacks.ACKS_NAME}",
        done_text=f'admin-acks: {key}="true" (the CVO re-evaluates Upgradeable on the change)',
    )


def _apply_pdb(ctx: Context, fix: Fix) -> StepResult:
    cluster, journal, emit = ctx.cluster, ctx.journal, ctx.emit
    _, ns, name = fix.id.split("/", 2)
    res = pdb_resource(ns, name)
    journal.step_started(STEP, fix=fix.id)
    journaled: list[dict[str, Any]] = []  # the before spec of the last intent record
    attempts: list[int] = []

    def attempt() -> tuple[str, dict[str, Any], dict[str, Any]]:
        attempts.append(1)
        try:
            pdb = cluster.get(PDB, name, ns)
        except NotFound:
            return "gone", {}, {}
        spec = _spec(pdb)
        pods = [
            p
            for p in cluster.list(POD, ns)
            if selector_matches(spec.get("selector") or {}, (p.get("metadata") or {}).get("labels") or {})
        ]
        after, _form = relaxed_pdb_spec(spec, pods)
        if after == spec:
            return "already", spec, after
        if not journaled or journaled[-1] != spec:
            # intent BEFORE the change, with the exact previous spec (again if it changed meanwhile)
            patch = {"spec": _spec_patch(spec, after)}
            command = _oc_patch(cluster, "pdb", name, ns, patch)
            journal.change(
                STEP,
                "relax",
                res,
                before={"spec": spec},
                after={"spec": after},
                command=shlex.join(command),
                phase="intent",
                fix=fix.id,
            )
            journaled.append(spec)
            emit.command(command)
        body = {
            "metadata": {"resourceVersion": pdb["metadata"].get("resourceVersion", "")},
            "spec": _spec_patch(spec, after),
        }
        cluster.merge_patch(PDB, name, body, ns)
        return "done", spec, after

    try:
        outcome, before, after = retry_on_conflict(attempt, on_retry=_retry_note(ctx, f"{ns}/{name}"))
    except Exception as exc:
        if journaled and _not_made(exc):
            journal.change(STEP, "relax", res, phase="failed", fix=fix.id, error=str(exc))
        journal.step_finished(STEP, "failed", f"{fix.id}: {exc}", fix=fix.id)
        raise
    retries = len(attempts) - 1
    data = {
        "fix": fix.id,
        "resource": res,
        "before": {"spec": before},
        "after": {"spec": after},
        "retries": retries,
    }
    if outcome == "gone":
        if journaled:
            journal.change(STEP, "relax", res, phase="abandoned", fix=fix.id, note="deleted meanwhile")
        journal.step_finished(STEP, "skipped", f"{fix.id}: deleted meanwhile", fix=fix.id)
        emit.warning(f"PodDisruptionBudget {ns}/{name} was deleted meanwhile; nothing changed.")
        return emit.result(StepStatus.SKIPPED, f"{ns}/{name} was deleted meanwhile", data)
    if outcome == "already":
        if journaled:
            journal.change(STEP, "relax", res, phase="abandoned", fix=fix.id, note="relaxed by someone else")
        journal.step_finished(STEP, "skipped", f"{fix.id}: already relaxed", fix=fix.id)
        emit.info(f"PodDisruptionBudget {ns}/{name} was relaxed by someone else meanwhile; left as theirs.")
        return emit.result(StepStatus.SKIPPED, f"{ns}/{name} was already relaxed by someone else", data)
    journal.change(STEP, "relax", res, phase="done", fix=fix.id)
    summary = (
        f"PodDisruptionBudget {ns}/{name}: {_limit(before)} -> {_limit(after)} (restore with 'fix restore')"
    )
    journal.step_finished(STEP, "succeeded", summary, fix=fix.id)
    emit.info(f"poddisruptionbudget.policy/{name} patched")
    return emit.result(StepStatus.SUCCEEDED, summary, data)


def _apply_simple(
    ctx: Context,
    fix: Fix,
    *,
    action: str,
    read: Callable[[], dict[str, Any]],
    state: Callable[[dict[str, Any]], Any],
    wanted: Any,
    patch: Callable[[dict[str, Any]], None],
    what: str,
    done_text: str,
) -> StepResult:
    """Intent → patch with resourceVersion (re-read and retried on 409) → done, for a one-value change."""
    journal, emit = ctx.journal, ctx.emit
    res = fix.resource
    journal.step_started(STEP, fix=fix.id)
    journaled: list[Any] = []
    attempts: list[int] = []

    def attempt() -> tuple[str, Any]:
        attempts.append(1)
        obj = read()
        before = state(obj)
        if before == wanted:
            return "already", before
        if not journaled or journaled[-1] != before:
            journal.change(
                STEP,
                action,
                res,
                before={"value": before},
                after={"value": wanted},
                command=shlex.join(fix.commands[0]),
                phase="intent",
                fix=fix.id,
            )
            journaled.append(before)
            emit.command(fix.commands[0])
        patch(obj)
        return "done", before

    try:
        outcome, before = retry_on_conflict(attempt, on_retry=_retry_note(ctx, what))
    except Exception as exc:
        if journaled and _not_made(exc):
            journal.change(STEP, action, res, phase="failed", fix=fix.id, error=str(exc))
        journal.step_finished(STEP, "failed", f"{fix.id}: {exc}", fix=fix.id)
        raise
    data = {"fix": fix.id, "resource": res, "before": before, "after": wanted, "retries": len(attempts) - 1}
    if outcome == "already":
        if journaled:
            journal.change(STEP, action, res, phase="abandoned", fix=fix.id, note="done by someone else")
        journal.step_finished(STEP, "skipped", f"{fix.id}: already done", fix=fix.id)
        emit.info(f"{what} was already changed by someone else meanwhile.")
        return emit.result(StepStatus.SKIPPED, f"{what}: already done by someone else", data)
    journal.change(STEP, action, res, phase="done", fix=fix.id)
    emit.info(done_text)
    summary = f"{fix.title}: done ({fix.restore_note})"
    journal.step_finished(STEP, "succeeded", summary, fix=fix.id)
    return emit.result(StepStatus.SUCCEEDED, summary, data)


def _apply_cloud_credential(ctx: Context, fix: Fix) -> StepResult:
    cluster = ctx.cluster
    target = ctx.plan.release.version
    who = ""
    try:
        who = cluster.whoami()
    except AirgapError:  # who made the statement is a nicety; the decision is journaled anyway
        who = ""
    ctx.journal.record_decision(
        STEP,
        ACK_DECISION,
        target,
        f"{who + ': ' if who else ''}{fix.acknowledgement}",
    )
    ctx.emit.info(f"Recorded your statement: {fix.acknowledgement}")

    def read() -> dict[str, Any]:
        return cluster.get(CLOUD_CREDENTIAL, "cluster")

    def state(obj: dict[str, Any]) -> Any:
        return ((obj.get("metadata") or {}).get("annotations") or {}).get(CLOUD_CREDENTIAL_ANNOTATION)

    def patch(obj: dict[str, Any]) -> None:
        body = {
            "metadata": {
                "resourceVersion": obj["metadata"].get("resourceVersion", ""),
                "annotations": {CLOUD_CREDENTIAL_ANNOTATION: target},
            }
        }
        cluster.merge_patch(CLOUD_CREDENTIAL, "cluster", body)

    return _apply_simple(
        ctx,
        fix,
        action="annotate",
        read=read,
        state=state,
        wanted=target,
        patch=patch,
        what="cloudcredential/cluster",
        done_text="cloudcredential.operator.openshift.io/cluster annotated "
        f"({CLOUD_CREDENTIAL_ANNOTATION}={target})",
    )


def _apply_pool(ctx: Context, fix: Fix) -> StepResult:
    cluster = ctx.cluster
    name = fix.id.split("/")[1]

    def read() -> dict[str, Any]:
        return cluster.get(MCP, name)

    def state(obj: dict[str, Any]) -> Any:
        return bool(_spec(obj).get("paused"))

    def patch(obj: dict[str, Any]) -> None:
        body = {
            "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
            "spec": {"paused": False},
        }
        cluster.merge_patch(MCP, name, body)

    return _apply_simple(
        ctx,
        fix,
        action="unpause",
        read=read,
        state=state,
        wanted=False,
        patch=patch,
        what=f"pool {name}",
        done_text=f"machineconfigpool.machineconfiguration.openshift.io/{name} patched (unpaused)",
    )


# ----------------------------------------------------------------------------------------------------------
# restore
# ----------------------------------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    """What a restore will do: the budgets to put back (as previews), those left alone and why, and the fixes
    that are deliberately not restored."""

    targets: list[Relaxed] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    settle: dict[str, str] = field(default_factory=dict)
    """resource → why its record is closed without a patch (already back, never made, gone)"""
    skipped: dict[str, str] = field(default_factory=dict)
    """resource → why it is left alone (changed since by someone else)"""
    not_restored: dict[str, str] = field(default_factory=dict)
    """resource → why this kind of fix is not restored"""
    warnings: list[str] = field(default_factory=list)

    def render_notes(self) -> str:
        lines = [f"! {w}" for w in self.warnings]
        lines += [f"- {res}: left alone: {why}" for res, why in self.skipped.items()]
        lines += [f"- {res}: {why}" for res, why in self.settle.items()]
        lines += [f"- {res}: {why}" for res, why in self.not_restored.items()]
        return "\n".join(lines)


def prepare_restore(ctx: Context) -> RestorePlan:
    """Decide what to restore: exactly the budgets the journal says this tool relaxed, when their spec is still
    what this tool wrote. Reads only."""
    cluster, journal = ctx.cluster, ctx.journal
    plan = RestorePlan()
    for rel in relaxed_pdbs(journal).values():
        ctx.emit.command(
            ["oc", *cluster.oc_args(), "-n", rel.namespace, "get", "pdb", rel.name, "-o", "yaml"]
        )
        pdb = cluster.get_or_none(PDB, rel.name, rel.namespace)
        if pdb is None:
            plan.settle[rel.resource] = "deleted since: nothing to restore"
            continue
        spec = _spec(pdb)
        if spec == rel.before:
            plan.settle[rel.resource] = (
                "already has its previous spec"
                if rel.state != "relaxing"
                else "the relaxation was never made"
            )
            continue
        if spec != rel.after:
            manual = _oc_patch(
                cluster, "pdb", rel.name, rel.namespace, {"spec": _spec_patch(spec, rel.before)}
            )
            plan.skipped[rel.resource] = (
                f"changed by someone else since ocp-airgap relaxed it (now {_limit(spec)}, ocp-airgap wrote "
                f"{_limit(rel.after)}); to put back its previous spec ({_limit(rel.before)}) by hand: "
                + shlex.join(manual)
            )
            continue
        command = _oc_patch(cluster, "pdb", rel.name, rel.namespace, {"spec": _spec_patch(spec, rel.before)})
        plan.targets.append(rel)
        plan.changes.append(
            Change(
                title=f"Restore PodDisruptionBudget {rel.namespace}/{rel.name} ({_limit(spec)} -> "
                f"{_limit(rel.before)})",
                resource=rel.resource,
                before={"spec": spec},
                after={"spec": rel.before},
                command=command,
            )
        )
    for item in fix_history(journal):
        if item["action"] == "annotate":
            plan.not_restored[str(item["resource"])] = (
                "not restored: the upgradeable-to annotation states the credentials are ready for the target "
                "and is meant to stay"
            )
        elif item["action"] == "unpause":
            name = str(item["resource"]).split("/", 1)[1]
            plan.not_restored[str(item["resource"])] = (
                "not restored: the update needs every pool unpaused (and a paused pool holds back the kubelet "
                "CA rotation); only for a deliberate canary rollout pause it again by hand: "
                + shlex.join(_oc_patch(cluster, "mcp", name, "", {"spec": {"paused": True}}))
            )
    if plan.changes:
        ctx.emit.command(["oc", *cluster.oc_args(), "get", "machineconfigpools"])
        rolling = []
        for pool in cluster.list(MCP):
            st = pool.get("status") or {}
            if st.get("updatedMachineCount") != st.get("machineCount"):
                rolling.append(
                    f"{pool['metadata']['name']} ({st.get('updatedMachineCount', '?')} of "
                    f"{st.get('machineCount', '?')} updated)"
                )
        if rolling:
            plan.warnings.append(
                "pools are still updating: "
                + "; ".join(rolling)
                + ". Restoring a budget now can block their "
                "drain again; restore after the update has finished."
            )
    return plan


def restore_fixes(ctx: Context, plan: RestorePlan | None = None) -> StepResult:
    """Put back the exact previous spec of every budget this tool relaxed (after the caller's confirmation of
    ``plan``, which :func:`prepare_restore` builds when not given). Journaled intent/done per budget."""
    cluster, journal, emit = ctx.cluster, ctx.journal, ctx.emit
    if plan is None:
        plan = prepare_restore(ctx)
    for w in plan.warnings:
        emit.warning(w)
    journal.step_started(STEP, action="restore")
    for res, why in plan.settle.items():
        journal.change(STEP, "restore", res, phase="done", note=why)
        emit.info(f"{res}: {why}; record closed.")
    for res, why in plan.skipped.items():
        journal.change(STEP, "restore", res, phase="skipped", note=why)
        emit.warning(f"{res}: left alone: {why}")
    for res, why in plan.not_restored.items():
        emit.info(f"{res}: {why}")
    restored: list[str] = []
    skipped = dict(plan.skipped)
    for rel, change in zip(plan.targets, plan.changes, strict=True):
        ctx.check_cancel()
        journal.change(
            STEP,
            "restore",
            rel.resource,
            before={"spec": rel.after},
            after={"spec": rel.before},
            command=shlex.join(change.command),
            phase="intent",
            fix=rel.fix_id,
        )
        emit.command(change.command)

        def attempt(rel: Relaxed = rel) -> str:
            try:
                pdb = cluster.get(PDB, rel.name, rel.namespace)
            except NotFound:
                return "gone"
            spec = _spec(pdb)
            if spec == rel.before:
                return "done"
            if spec != rel.after:
                return "changed"
            body = {
                "metadata": {"resourceVersion": pdb["metadata"].get("resourceVersion", "")},
                "spec": _spec_patch(spec, rel.before),
            }
            cluster.merge_patch(PDB, rel.name, body, rel.namespace)
            return "done"

        try:
            outcome = retry_on_conflict(attempt, on_retry=_retry_note(ctx, f"{rel.namespace}/{rel.name}"))
        except Exception as exc:
            journal.change(STEP, "restore", rel.resource, phase="failed", fix=rel.fix_id, error=str(exc))
            journal.step_finished(STEP, "failed", f"restore of {rel.resource}: {exc}", action="restore")
            raise
        if outcome == "done":
            journal.change(STEP, "restore", rel.resource, phase="done", fix=rel.fix_id)
            emit.info(f"poddisruptionbudget.policy/{rel.name} restored ({_limit(rel.before)})")
            restored.append(rel.resource)
        else:
            why = (
                "deleted meanwhile" if outcome == "gone" else "changed by someone else meanwhile: left alone"
            )
            journal.change(STEP, "restore", rel.resource, phase="skipped", fix=rel.fix_id, note=why)
            emit.warning(f"{rel.resource}: {why}")
            skipped[rel.resource] = why
    summary = f"restored {len(restored)} PodDisruptionBudget(s)"
    if skipped:
        summary += f"; left {len(skipped)} changed by someone else alone"
    if plan.not_restored:
        summary += f"; {len(plan.not_restored)} fix(es) are meant to stay"
    journal.step_finished(STEP, "succeeded", summary, action="restore", restored=restored)
    return emit.result(
        StepStatus.SUCCEEDED,
        summary,
        {
            "restored": restored,
            "skipped": skipped,
            "settled": dict(plan.settle),
            "not_restored": dict(plan.not_restored),
        },
    )
