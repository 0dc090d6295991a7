"""Repository mirroring on the cluster: ImageDigestMirrorSet or ImageContentSourcePolicy (docs/steps/mirror-config.md).

A disconnected cluster pulls the release's images by digest from their canonical names
(``quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:...``); a mirror set tells CRI-O on every node to try
the mirror registry instead. The object is written into ``/etc/containers/registries.conf`` on every node through
the MachineConfigPools, so a change rolls out over the nodes: diff first, apply only what is needed.

Which kind: **ImageDigestMirrorSet** (``config.openshift.io/v1``) from OpenShift 4.13, where it replaced the
deprecated ImageContentSourcePolicy; **ImageContentSourcePolicy** (``operator.openshift.io/v1alpha1``) before 4.13,
where ImageDigestMirrorSet does not exist. (On 4.13+ existing ICSPs still work; new ones should not be created.)

The entries are those ``oc adm release mirror`` prints (the mirror configuration oc prints): the release source repository and the
component source repository (plan ``endpoints.release_source`` / ``endpoints.component_source``), both mirrored to
``mirror.registry/mirror.repository``. With the *registry* scope, an extra registry-wide entry per source registry
(``quay.io`` → ``<mirror registry>``) covers content mirrored with its paths kept (as ``oc adm catalog mirror`` and
oc-mirror do), so that mirroring more of it later needs no new mirror set and no new rollout; the release's own
entries stay repository-scoped because ``oc adm release mirror`` flattens the release into one repository.
"""

from __future__ import annotations

import copy
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.changes import Change
from engine.cluster import ICSP, IDMS, MCP, Cluster, Resource, condition, current_version, retry_on_conflict
from engine.context import Context
from engine.errors import InputError, NotFound, NotReady
from engine.fsutil import atomic_write_text
from engine.guards import CONSEQUENCES, NODE_CHANGE_FLAG, Override, refuse_during_update
from engine.lock import locked
from engine.plan import Plan
from engine.util import minor_of

STEP = "mirror-config"
DEFAULT_NAME = "ocp-airgap-release"
SCOPES = ("repository", "registry")
IDMS_SINCE = (4, 13)


def choose_kind(version: str) -> tuple[Resource, str]:
    """(resource, why) for a cluster at ``version``."""
    mm = minor_of(version)
    if mm is None:
        return IDMS, f"the cluster version {version!r} is unknown; ImageDigestMirrorSet is the current kind"
    if mm >= IDMS_SINCE:
        return (
            IDMS,
            f"the cluster runs {version}: from 4.13 ImageDigestMirrorSet replaces the deprecated "
            "ImageContentSourcePolicy",
        )
    return (
        ICSP,
        f"the cluster runs {version}: ImageDigestMirrorSet exists only from 4.13, so an "
        "ImageContentSourcePolicy is used",
    )


def entries_for(plan: Plan, scope: str = "repository") -> list[dict[str, Any]]:
    """The mirror entries ``[{"source": ..., "mirrors": [...]}]`` from the plan."""
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}", fix="Use one of: " + ", ".join(SCOPES))
    plan.require("mirror.registry", "mirror.repository")
    mirror = plan.mirror_repository
    sources: list[str] = []
    for src in (plan.endpoints.release_source, plan.endpoints.component_source):
        if src and src not in sources:
            sources.append(src)
    entries = [{"mirrors": [mirror], "source": s} for s in sources]
    if scope == "registry":
        registries: list[str] = []
        for s in sources:
            host = s.split("/", 1)[0]
            if host not in registries:
                registries.append(host)
        entries += [{"mirrors": [plan.mirror.registry], "source": h} for h in registries]
    return entries


def build_object(kind: Resource, entries: list[dict[str, Any]], name: str = DEFAULT_NAME) -> dict[str, Any]:
    key = "imageDigestMirrors" if kind == IDMS else "repositoryDigestMirrors"
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name},
        "spec": {key: copy.deepcopy(entries)},
    }


def _spec_entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    return list(spec.get("imageDigestMirrors") or spec.get("repositoryDigestMirrors") or [])


def covered_by(existing: list[dict[str, Any]], entries: list[dict[str, Any]]) -> dict[str, str]:
    """source → name of an existing object that already mirrors it to the same first mirror."""
    out: dict[str, str] = {}
    for entry in entries:
        for obj in existing:
            for have in _spec_entries(obj):
                if have.get("source") == entry["source"] and entry["mirrors"][0] in (
                    have.get("mirrors") or []
                ):
                    out.setdefault(entry["source"], f"{obj['kind'].lower()}/{obj['metadata']['name']}")
    return out


@dataclass
class MirrorConfigPlan:
    kind: Resource
    why: str
    wanted: dict[str, Any]
    existing: list[dict[str, Any]]
    covered: dict[str, str]
    change: Change | None
    """None when nothing needs applying"""
    scope: str = "repository"
    notes: list[str] = field(default_factory=list)
    manifest_path: str = ""
    """where :func:`apply` writes the object, for the equivalent 'oc apply -f'"""
    override: Override | None = None
    """applied while an update rolls, explicitly accepted (journaled on apply)"""

    @property
    def changes(self) -> list[Change]:
        return [self.change] if self.change else []

    @property
    def name(self) -> str:
        return str(self.wanted["metadata"]["name"])


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": obj["metadata"]["name"]},
        "spec": obj.get("spec") or {},
    }


def prepare(
    ctx: Context,
    *,
    scope: str = "repository",
    name: str = DEFAULT_NAME,
    during_update: bool = False,
    guard: bool = True,
) -> MirrorConfigPlan:
    """Build the mirror set for this cluster and compare it with what the cluster has.

    With ``guard`` (to apply it), a change is refused while the update or a pool's rollout is in progress unless
    ``during_update``; ``guard=False`` only shows it."""
    cluster = ctx.cluster
    emit = ctx.emit
    version = current_version(cluster.cluster_version())
    kind, why = choose_kind(version)
    emit.info(f"{kind.kind}: {why}.")
    entries = entries_for(ctx.plan, scope)
    if ctx.plan.release.digest:
        from engine.mirror.ocmirror import IDMS_FILE, journaled_layout

        layout = journaled_layout(ctx, ctx.plan.release.digest)
        if layout and layout.get("mirror_entries"):
            # oc-mirror v2 put the release in <repo>/openshift/release-images and the components in
            # <repo>/openshift/release: map the sources to where it actually wrote them
            entries = sorted(
                ({"mirrors": list(e["mirrors"]), "source": e["source"]} for e in layout["mirror_entries"]),
                key=lambda e: str(e["source"]),
            )
            emit.info(f"Mirror entries taken from oc-mirror's {IDMS_FILE} (its own repository layout).")
    wanted = build_object(kind, entries, name)
    existing: list[dict[str, Any]] = []
    for res in (IDMS, ICSP):
        emit.command(["oc", *cluster.oc_args(), "get", res.oc_name, "-o", "yaml"])
        try:
            existing += cluster.list(res)
        except NotFound:
            continue  # the kind does not exist on this cluster (IDMS before 4.13)
    covered = covered_by(existing, entries)
    current = next(
        (o for o in existing if o.get("kind") == kind.kind and o["metadata"]["name"] == name), None
    )
    plan = MirrorConfigPlan(kind, why, wanted, existing, covered, None, scope)
    if scope == "registry":
        plan.notes.append(
            "registry scope: the registry-wide entries cover content mirrored with its source paths kept "
            "(oc adm catalog mirror, oc-mirror); the release entries stay repository-scoped because the release "
            "is mirrored into one repository"
        )
    if current is not None and _clean(current)["spec"] == wanted["spec"]:
        plan.notes.append(f"{kind.oc_name}/{name} already holds exactly these entries: nothing to apply")
        return plan
    if current is None and len(covered) == len(entries):
        plan.notes.append(
            "every source is already mirrored by "
            + ", ".join(sorted(set(covered.values())))
            + ": nothing to apply (a new object would only cause a rollout)"
        )
        return plan
    if guard:
        plan.override = refuse_during_update(
            ctx,
            step=STEP,
            action=f"applying the {kind.kind} {name}",
            consequence=CONSEQUENCES["mirror-config"],
            flag=NODE_CHANGE_FLAG,
            override=during_update,
        )
    plan.manifest_path = str(ctx.journal.path.parent / "manifests" / f"{name}.yaml")
    plan.change = Change(
        title=f"{'Create' if current is None else 'Update'} {kind.kind} {name}",
        resource=f"{kind.oc_name}/{name}",
        before=_clean(current) if current is not None else None,
        after=wanted,
        command=["oc", *cluster.oc_args(), "apply", "-f", plan.manifest_path],
    )
    return plan


def _pool_state(cluster: Cluster) -> dict[str, dict[str, Any]]:
    out = {}
    for mcp in cluster.list(MCP):
        st = mcp.get("status") or {}
        out[mcp["metadata"]["name"]] = {
            "config": ((mcp.get("spec") or {}).get("configuration") or {}).get("name", ""),
            "machines": int(st.get("machineCount", 0) or 0),
            "updated": int(st.get("updatedMachineCount", 0) or 0),
            "ready": int(st.get("readyMachineCount", 0) or 0),
            "updating": (condition(mcp, "Updating") or {}).get("status", "") == "True",
            "paused": bool((mcp.get("spec") or {}).get("paused")),
        }
    return out


@locked("mirror-config apply")
def apply(ctx: Context, plan: MirrorConfigPlan) -> dict[str, Any]:
    """Create or update the mirror set (after the caller's confirmation) and journal it."""
    cluster = ctx.cluster
    emit = ctx.emit
    journal = ctx.journal
    if plan.change is None:
        return {"applied": False, "name": plan.name, "kind": plan.kind.kind}
    if plan.override is not None:
        plan.override.record(ctx)
    journal.step_started(STEP, kind=plan.kind.kind, name=plan.name)
    atomic_write_text(
        Path(plan.manifest_path),
        yaml.safe_dump(plan.wanted, sort_keys=False, default_flow_style=False),
        mode=0o644,
    )
    emit.command(plan.change.command)
    before_pools = _pool_state(cluster)

    def attempt() -> str:
        current = cluster.get_or_none(plan.kind, plan.name)
        if current is None:
            cluster.create(plan.kind, plan.wanted)
            return "created"
        body = copy.deepcopy(plan.wanted)
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion", "")
        cluster.replace(plan.kind, body)
        return "configured"

    action = retry_on_conflict(attempt)
    journal.change(
        STEP,
        "create" if plan.change.before is None else "update",
        plan.change.resource,
        before=plan.change.before,
        after=plan.wanted,
        command=shlex.join(plan.change.command),
        pools_before={k: v["config"] for k, v in before_pools.items()},
    )
    emit.info(f"{plan.kind.oc_name}.{plan.kind.group}/{plan.name} {action}")
    journal.step_finished(STEP, "succeeded", f"{plan.kind.kind} {plan.name} {action}", kind=plan.kind.kind)
    return {
        "applied": True,
        "action": action,
        "name": plan.name,
        "kind": plan.kind.kind,
        "pools": before_pools,
    }


def watch_rollout(
    ctx: Context,
    before: dict[str, dict[str, Any]],
    *,
    timeout: float = 1800.0,
    settle: float = 60.0,
    interval: float = 2.0,
) -> dict[str, Any]:
    """Follow the MachineConfigPools after a mirror-set change until every pool is updated again.

    A rollout shows as a new rendered configuration or ``Updating=True``. If none starts within ``settle`` seconds
    the pools are reported as they are (the MCO may have nothing to render, or may not have reacted yet)."""
    cluster = ctx.cluster
    emit = ctx.emit
    emit.command(
        ["oc", *cluster.oc_args(), "get", "mcp", "-w"], note="the pools rolling out the new registries.conf"
    )
    start = time.monotonic()
    started = False
    last: dict[str, dict[str, Any]] = {}
    while True:
        ctx.check_cancel()
        pools = _pool_state(cluster)
        if pools != last:
            for name, p in sorted(pools.items()):
                emit.progress(p["updated"], p["machines"] or None, "machines", f"pool {name} updated")
            last = pools
        changed = any(
            p["updating"] or p["config"] != before.get(name, {}).get("config") for name, p in pools.items()
        )
        started = started or changed
        done = all(
            p["paused"]
            or (not p["updating"] and p["updated"] == p["machines"] and p["ready"] == p["machines"])
            for p in pools.values()
        )
        elapsed = time.monotonic() - start
        if started and done:
            emit.info("Every MachineConfigPool has rolled out the new configuration.")
            return {"rollout": "completed", "pools": pools, "seconds": round(elapsed, 1)}
        if not started and elapsed >= settle:
            emit.warning(
                f"No MachineConfigPool started a rollout within {settle:.0f} s; the pools are "
                + ", ".join(f"{n} {p['updated']}/{p['machines']} updated" for n, p in sorted(pools.items()))
                + ". Check 'oc get mcp' later."
            )
            return {"rollout": "not-observed", "pools": pools, "seconds": round(elapsed, 1)}
        if elapsed >= timeout:
            raise NotReady(
                "the MachineConfigPools have not finished rolling out the mirror configuration",
                fix="Watch 'oc get mcp'; a Degraded pool names the node and the reason.",
            )
        ctx.cancel.wait(interval)
