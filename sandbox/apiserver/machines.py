"""Simulated machine-config, machine-health-check and machine-set controllers.

- Machine config: when a pool's ``spec.configuration`` changes (the CVO does this when it reaches the
  machine-config operator), the pool rolls its nodes one at a time (``maxUnavailable`` 1): cordon, drain
  (evictions honour PodDisruptionBudgets; a blocked drain marks the pool degraded after an hour), reboot
  (node NotReady for :data:`REBOOT_SECONDS`), back Ready with the new kubelet. A paused pool does not roll.
- Image mirror configuration: a change of the ImageContentSourcePolicies / ImageDigestMirrorSets /
  ImageTagMirrorSets that changes the content of ``/etc/containers/registries.conf`` renders a new
  MachineConfig for every pool (``rendered-<pool>-<hash>``). A node whose only difference from its new
  config is registries.conf applies it live (OpenShift 4.7+): no cordon, no drain, no reboot, the node stays
  Ready; it takes :data:`LIVE_APPLY_SECONDS`, still one node at a time per pool.
- Machine health check: an MHC *without* the ``cluster.x-k8s.io/paused`` annotation remediates a selected
  machine whose node matches an unhealthy condition for longer than its timeout by deleting the Machine
  (respecting ``maxUnhealthy``); remediations are recorded as Events.
- Machine sets (and the control plane): a missing machine is replaced; the new machine provisions and its
  node joins at the pool's current configuration.
All durations are simulated seconds."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import SimClock
from .config import ClusterConfig
from .initial import (
    EVENT,
    ICSP,
    IDMS,
    ITMS,
    MACHINE,
    MACHINE_API_NS,
    MACHINESET,
    MCP,
    MHC,
    MHC_PAUSED,
    NODE,
    POD,
    ZONES,
    cond,
    machine_api_enabled,
    machine_object,
    node_object,
    node_status,
    pod_running_status,
    rendered_config,
    short_hash,
)
from .resources import condition
from .store import ApiError, Store, labels_match, now_iso, selector_from_match_labels

log = logging.getLogger("sandbox.apiserver.machines")
Obj = dict[str, Any]

DRAIN_SECONDS = 60.0
REBOOT_SECONDS = 420.0  # longer than the 300 s MHC timeout: an unpaused MHC remediates a rebooting node
DRAIN_DEGRADED_AFTER = 3600.0
PROVISION_SECONDS = 240.0
JOIN_SECONDS = 90.0
DRAIN_RETRY_SECONDS = 20.0
LIVE_APPLY_SECONDS = 120.0  # a registries.conf-only change: write the file, reload CRI-O, no reboot


def _duration(text: str | None, default: float) -> float:
    if not text:
        return default
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total or default


def _ready(node: Obj) -> bool:
    return condition(node, "Ready").get("status") == "True"


def registries_conf(store: Store) -> str:
    """The content the MCO's container runtime config controller writes to ``/etc/containers/registries.conf``
    from the mirror objects, as canonical JSON: mirrors merged per source (digest-only for ICSP/IDMS, tag-only
    for ITMS, ``NeverContactSource`` blocking the source). Object names do not matter: two objects with the
    same entries give the same file, hence the same rendered config and no rollout."""
    tables: dict[str, dict[str, list[str]]] = {"digest": {}, "tag": {}}
    blocked: set[str] = set()
    sources = (
        (ICSP, "repositoryDigestMirrors", "digest"),
        (IDMS, "imageDigestMirrors", "digest"),
        (ITMS, "imageTagMirrors", "tag"),
    )
    for rt, key, table in sources:
        for obj in store.list(rt)[0]:
            for rule in (obj.get("spec") or {}).get(key) or []:
                source = str(rule.get("source") or "")
                if not source:
                    continue
                have = tables[table].setdefault(source, [])
                for mirror in rule.get("mirrors") or []:
                    if mirror and str(mirror) not in have:
                        have.append(str(mirror))
                if rule.get("mirrorSourcePolicy") == "NeverContactSource":
                    blocked.add(f"{table}:{source}")
    return json.dumps({**tables, "blocked": sorted(blocked)}, sort_keys=True)


@dataclass
class NodeUpdate:
    node: str
    target: str
    phase: str  # "drain" | "reboot" | "live" (registries.conf only: no drain, no reboot)
    since: float
    drain_started: float
    last_drain_attempt: float = -1e9
    blocked_by: str = ""


@dataclass
class Provisioning:
    machine: str
    role: str
    zone: str
    machineset: str | None
    started: float
    node_created: bool = False


@dataclass
class MachineControllers:
    store: Store
    cluster: ClusterConfig
    clock: SimClock
    updates: dict[str, NodeUpdate] = field(default_factory=dict)
    config_versions: dict[str, str] = field(default_factory=dict)
    """rendered config name -> release version it carries"""
    config_registries: dict[str, str] = field(default_factory=dict)
    """rendered config name -> mirror configuration it carries ('' = the install-time one)"""
    rendered_version: str = ""
    """the release version the MCO renders configs for (the CVO moves it with :meth:`begin_rollout`)"""
    registries: str = ""
    """the mirror configuration rendered now: '' while the install-time one, else a hash of the content"""
    _install_registries: str = ""
    _seen_registries: str = ""
    unhealthy_since: dict[tuple[str, str, str], float] = field(default_factory=dict)
    provisioning: dict[str, Provisioning] = field(default_factory=dict)
    remediated: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rendered_version = self.cluster.current_version
        self._install_registries = self._seen_registries = registries_conf(self.store)
        for pool in ("master", "worker"):
            self.render(pool, self.cluster.current_version)

    def render(self, pool: str, version: str) -> str:
        """The rendered config name of ``pool`` for ``version`` with the current mirror configuration."""
        name = rendered_config(pool, version, self.registries)
        self.config_versions[name] = version
        self.config_registries[name] = self.registries
        return name

    # ------------------------------------------------------------------ API used by the CVO
    def begin_rollout(self, version: str) -> None:
        """Point every pool at the rendered config of ``version`` (what the MCO does once updated)."""
        self.rendered_version = version
        self._retarget(self.clock.now())

    def pool_done(self, pool: str, version: str) -> bool:
        mcp = self.store.find(MCP, None, pool)
        if mcp is None:
            return True
        st = mcp.get("status") or {}
        return (st.get("configuration") or {}).get("name") == self.render(pool, version) and st.get(
            "updatedMachineCount"
        ) == st.get("machineCount")

    def pool_progress(self, pool: str, version: str) -> tuple[int, int]:
        """(nodes of ``pool`` already running ``version``'s config, nodes in the pool)."""
        mcp = self.store.find(MCP, None, pool)
        if mcp is None:
            return 0, 0
        target = self.render(pool, version)
        nodes = self._pool_nodes(mcp)
        return sum(1 for n in nodes if self._current_config(n) == target), len(nodes)

    # ------------------------------------------------------------------ rendering
    def _retarget(self, now: float) -> None:
        """Point every pool's ``spec.configuration`` at its config rendered for :attr:`rendered_version` and the
        current mirror configuration. The status is recomputed in the same write, so no reader or watcher sees a
        new spec with the old ``Updated=True`` (a pool "done" before it started)."""
        for pool in self.store.list(MCP)[0]:
            name = pool["metadata"]["name"]
            spec = pool.get("spec") or {}
            target = self.render(name, self.rendered_version)
            if (spec.get("configuration") or {}).get("name") == target:
                continue
            status = self._status_writer(pool, self._pool_nodes(pool), target, bool(spec.get("paused")), now)

            def apply(o: Obj, target: str = target, status: Callable[[Obj], None] = status) -> None:
                o.setdefault("spec", {})["configuration"] = {"name": target}
                status(o)

            self.store.mutate(MCP, None, name, apply)
            log.info("machine-config: pool %s now targets %s", name, target)

    def _mirror_sets(self, now: float) -> None:
        """Re-render when the mirror objects change registries.conf (the container runtime config controller)."""
        content = registries_conf(self.store)
        if content == self._seen_registries:
            return
        self._seen_registries = content
        self.registries = "" if content == self._install_registries else short_hash(content, n=16)
        log.info(
            "machine-config: image mirror configuration changed: rendering a new registries.conf for every pool"
        )
        self._retarget(now)

    def _live(self, current: str, target: str) -> bool:
        """True when ``current`` -> ``target`` changes registries.conf only (applied without drain or reboot)."""
        known = current in self.config_registries and target in self.config_registries
        return (
            known
            and self.config_versions.get(current) == self.config_versions.get(target)
            and self.config_registries[current] != self.config_registries[target]
        )

    # ------------------------------------------------------------------ tick
    def reconcile(self, now: float) -> None:
        self._mirror_sets(now)
        self._pools(now)
        if machine_api_enabled(self.cluster):
            # without the MachineAPI capability there is no machine-api operator, control plane machine set or
            # machine health check controller at all
            self._health_checks(now)
            self._machine_sets(now)
        self._pending_pods()

    # ------------------------------------------------------------------ pools
    def _pool_nodes(self, pool: Obj) -> list[Obj]:
        reqs = selector_from_match_labels((pool.get("spec") or {}).get("nodeSelector"))
        nodes = [n for n in self.store.list(NODE)[0] if labels_match(reqs, n)]
        if pool["metadata"]["name"] == "worker":
            nodes = [
                n
                for n in nodes
                if "node-role.kubernetes.io/master" not in (n["metadata"].get("labels") or {})
            ]
        return sorted(
            nodes,
            key=lambda n: (
                (n["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone", ""),
                n["metadata"]["name"],
            ),
        )

    def _pools(self, now: float) -> None:
        for pool in self.store.list(MCP)[0]:
            name = pool["metadata"]["name"]
            spec = pool.get("spec") or {}
            target = (spec.get("configuration") or {}).get("name", "")
            paused = bool(spec.get("paused"))
            nodes = self._pool_nodes(pool)
            names = {n["metadata"]["name"] for n in nodes}
            for n in [k for k, u in self.updates.items() if k not in names and u.target]:
                # node went away (remediated or deleted) while updating
                if self._node_pool(n) in (None, name):
                    self.updates.pop(n, None)
            # a paused pool only has its status synced: no node of it gets the new config (machine-config-operator
            # pkg/controller/node/node_controller.go syncMachineConfigPool: "if pool.Spec.Paused { ... return
            # ctrl.syncStatusOnly(pool) }"); the operator waits only for the required (master) pool, so a release
            # update completes with the worker pool paused (pkg/operator/sync.go syncRequiredMachineConfigPools)
            if not paused and target:
                self._roll(pool, nodes, target, now)
            self._pool_status(pool, self._pool_nodes(pool), target, paused, now)

    def _node_pool(self, node_name: str) -> str | None:
        node = self.store.find(NODE, None, node_name)
        if node is None:
            return None
        labels = node["metadata"].get("labels") or {}
        return "master" if "node-role.kubernetes.io/master" in labels else "worker"

    def _current_config(self, node: Obj) -> str:
        ann = node["metadata"].get("annotations") or {}
        return str(ann.get("machineconfiguration.openshift.io/currentConfig", ""))

    def _roll(self, pool: Obj, nodes: list[Obj], target: str, now: float) -> None:
        in_flight = [
            self.updates[n["metadata"]["name"]] for n in nodes if n["metadata"]["name"] in self.updates
        ]
        for upd in in_flight:
            self._advance(upd, now)
        in_flight = [u for u in in_flight if u.node in self.updates]
        # as the advances left them: a node that just finished must not be picked again from a stale copy
        fresh = (self.store.find(NODE, None, n["metadata"]["name"]) for n in nodes)
        nodes = [n for n in fresh if n is not None]
        max_unavailable = int((pool.get("spec") or {}).get("maxUnavailable") or 1)
        unavailable = len(in_flight)
        for node in nodes:
            if unavailable >= max_unavailable:
                break
            nname = node["metadata"]["name"]
            if nname in self.updates or self._current_config(node) == target or not _ready(node):
                continue
            if nname in self.provisioning_nodes():
                continue
            unavailable += 1
            if self._live(self._current_config(node), target):
                self.updates[nname] = NodeUpdate(nname, target, "live", now, now)
                self.store.mutate(NODE, None, nname, functools.partial(_set_config, desired=target))
                log.info("machine-config: %s applying %s live (registries.conf only)", nname, target)
                continue
            self.updates[nname] = NodeUpdate(nname, target, "drain", now, now)

            def start(o: Obj, target: str = target) -> None:
                o.setdefault("spec", {})["unschedulable"] = True
                _set_config(o, desired=target)
                o["spec"]["taints"] = [
                    t
                    for t in o["spec"].get("taints") or []
                    if t.get("key") != "node.kubernetes.io/unschedulable"
                ] + [
                    {
                        "key": "node.kubernetes.io/unschedulable",
                        "effect": "NoSchedule",
                        "timeAdded": now_iso(),
                    }
                ]

            self.store.mutate(NODE, None, nname, start)
            log.info("machine-config: cordoned %s, draining for %s", nname, target)
            self._advance(self.updates[nname], now)

    def provisioning_nodes(self) -> set[str]:
        return {p.machine for p in self.provisioning.values()}

    def _advance(self, upd: NodeUpdate, now: float) -> None:
        node = self.store.find(NODE, None, upd.node)
        if node is None:
            self.updates.pop(upd.node, None)
            return
        if upd.phase == "live":
            if now - upd.since >= LIVE_APPLY_SECONDS:
                self.store.mutate(NODE, None, upd.node, lambda o: _set_config(o, upd.target, upd.target))
                self.updates.pop(upd.node, None)
                log.info("machine-config: %s updated to %s without a reboot", upd.node, upd.target)
        elif upd.phase == "drain":
            if now - upd.last_drain_attempt >= DRAIN_RETRY_SECONDS:
                upd.last_drain_attempt = now
                was = upd.blocked_by
                upd.blocked_by = self._drain(upd.node)
                if upd.blocked_by and upd.blocked_by != was:
                    log.info(
                        "machine-config: drain of %s blocked: cannot evict a pod protected by "
                        "PodDisruptionBudget %s; retrying",
                        upd.node,
                        upd.blocked_by,
                    )
            if not upd.blocked_by and now - upd.drain_started >= DRAIN_SECONDS:
                upd.phase = "reboot"
                upd.since = now
                version = self.config_versions.get(upd.target, self.cluster.current_version)

                def reboot(o: Obj) -> None:
                    boot_id = ((o.get("status") or {}).get("nodeInfo") or {}).get("bootID", "")
                    o["status"] = node_status(
                        upd.node, self._node_version(o), ready=False, index=_node_index(o)
                    )
                    # the kubelet stopped posting: the node keeps the boot ID it last reported
                    o["status"]["nodeInfo"]["bootID"] = boot_id
                    o["metadata"]["annotations"]["machineconfiguration.openshift.io/state"] = "Working"

                self.store.mutate(NODE, None, upd.node, reboot)
                log.info("machine-config: %s rebooting into %s (%s)", upd.node, upd.target, version)
        elif upd.phase == "reboot" and now - upd.since >= REBOOT_SECONDS:
            version = self.config_versions.get(upd.target, self.cluster.current_version)

            def back(o: Obj) -> None:
                o["status"] = node_status(upd.node, version, ready=True, index=_node_index(o))
                _set_config(o, upd.target, upd.target)
                o["spec"].pop("unschedulable", None)
                o["spec"]["taints"] = [
                    t
                    for t in o["spec"].get("taints") or []
                    if t.get("key") != "node.kubernetes.io/unschedulable"
                ]
                if not o["spec"]["taints"]:
                    o["spec"].pop("taints")

            self.store.mutate(NODE, None, upd.node, back)
            self._rebooted(upd.node)
            self.updates.pop(upd.node, None)
            log.info("machine-config: %s updated to %s", upd.node, upd.target)

    def _rebooted(self, node_name: str) -> None:
        """The kubelet back after a reboot reports a new ``status.nodeInfo.bootID`` and, because it differs from
        the one the node had, records a Warning event ``Rebooted`` ("Node <name> has been rebooted, boot id:
        <id>") about the Node (kubernetes/kubernetes ``pkg/kubelet/nodestatus/setters.go`` ``MachineInfo``,
        ``events.NodeRebooted``). Tests count a node's reboots from these events."""
        node = self.store.find(NODE, None, node_name)
        if node is None:
            return
        boot_id = ((node.get("status") or {}).get("nodeInfo") or {}).get("bootID", "")
        now = now_iso()
        self.store.upsert(
            EVENT,
            {
                "metadata": {"name": f"{node_name}.{uuid.uuid4().hex[:16]}", "namespace": "default"},
                "involvedObject": {"kind": "Node", "name": node_name, "uid": node_name, "apiVersion": "v1"},
                "reason": "Rebooted",
                "message": f"Node {node_name} has been rebooted, boot id: {boot_id}",
                "type": "Warning",
                "source": {"component": "kubelet", "host": node_name},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    def _node_version(self, node: Obj) -> str:
        cur = self._current_config(node)
        return self.config_versions.get(cur, self.cluster.current_version)

    def _drain(self, node_name: str) -> str:
        """Evict the node's pods (DaemonSet pods stay); returns the name of a blocking PDB, or ''."""
        from .controllers import pdb_matching, pdb_status

        blocked = ""
        for pod in self.store.list(POD, None, None, f"spec.nodeName={node_name}")[0]:
            owners = pod["metadata"].get("ownerReferences") or []
            if any(o.get("kind") == "DaemonSet" for o in owners):
                continue
            pdbs = pdb_matching(self.store, pod)
            stop = next((p for p in pdbs if pdb_status(self.store, p)["disruptionsAllowed"] < 1), None)
            if stop is not None:
                blocked = f"{stop['metadata']['namespace']}/{stop['metadata']['name']}"
                continue
            self.reschedule_pod(pod)
        return blocked

    def reschedule_pod(self, pod: Obj) -> None:
        """Delete ``pod``; a ReplicaSet-owned pod comes back on another schedulable node (or Pending)."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        try:
            self.store.delete(POD, ns, name)
        except ApiError:
            return
        owners = pod["metadata"].get("ownerReferences") or []
        rs = next((o for o in owners if o.get("kind") == "ReplicaSet"), None)
        if rs is None:
            return
        new = {
            "metadata": {
                "name": f"{rs['name']}-{uuid.uuid4().hex[:5]}",
                "namespace": ns,
                "labels": pod["metadata"].get("labels") or {},
                "ownerReferences": owners,
            },
            "spec": {**{k: v for k, v in pod["spec"].items() if k != "nodeName"}},
            "status": {"phase": "Pending", "conditions": [cond("PodScheduled", "False", "Unschedulable")]},
        }
        self.store.upsert(POD, new)
        self._pending_pods()

    def _schedulable_workers(self) -> list[str]:
        out = []
        for n in self.store.list(NODE, None, "node-role.kubernetes.io/worker")[0]:
            if _ready(n) and not (n.get("spec") or {}).get("unschedulable"):
                out.append(n["metadata"]["name"])
        return sorted(out)

    def _pending_pods(self) -> None:
        workers = self._schedulable_workers()
        if not workers:
            return
        for pod in self.store.list(POD, None, None, "status.phase=Pending")[0]:
            if (pod.get("spec") or {}).get("nodeName"):
                continue
            node = workers[int(short_hash(pod["metadata"]["name"], n=6), 16) % len(workers)]
            created = now_iso()

            def run(o: Obj, node: str = node, created: str = created) -> None:
                o["spec"]["nodeName"] = node
                image = (o["spec"].get("containers") or [{}])[0].get("image", "")
                cname = (o["spec"].get("containers") or [{}])[0].get("name", "app")
                o["status"] = pod_running_status(cname, image, created)

            self.store.mutate(POD, pod["metadata"]["namespace"], pod["metadata"]["name"], run)

    def _pool_status(self, pool: Obj, nodes: list[Obj], target: str, paused: bool, now: float) -> None:
        self.store.mutate(
            MCP, None, pool["metadata"]["name"], self._status_writer(pool, nodes, target, paused, now)
        )

    def _status_writer(
        self, pool: Obj, nodes: list[Obj], target: str, paused: bool, now: float
    ) -> Callable[[Obj], None]:
        """What the MCO writes to the status of ``pool`` (observed before this write) for its ``nodes``."""
        total = len(nodes)
        updated = [
            n
            for n in nodes
            if self._current_config(n) == target
            and (n["metadata"].get("annotations") or {}).get("machineconfiguration.openshift.io/state")
            == "Done"
        ]
        ready = [n for n in updated if _ready(n) and not (n.get("spec") or {}).get("unschedulable")]
        # as the MCO counts them: not Ready, cordoned, or its machine-config daemon still working
        unavailable = [
            n
            for n in nodes
            if not _ready(n)
            or (n.get("spec") or {}).get("unschedulable")
            or (n["metadata"].get("annotations") or {}).get("machineconfiguration.openshift.io/state")
            == "Working"
        ]
        degraded_msgs = []
        names = {n["metadata"]["name"] for n in nodes}
        for upd in self.updates.values():
            blocked = upd.node in names and upd.phase == "drain" and bool(upd.blocked_by)
            if blocked and now - upd.drain_started >= DRAIN_DEGRADED_AFTER:
                degraded_msgs.append(
                    f'Node {upd.node} is reporting: "failed to drain node: {upd.node} after 1 hour. Please see '
                    f'machine-config-controller logs for more information"'
                )
        # an empty pool (single-node OpenShift's worker pool) is updated as soon as its config is rendered:
        # machine-config-operator pkg/controller/node/status.go calculateStatus compares the counts (0 == 0)
        all_updated = len(updated) == total
        status_config = (
            target if all_updated else ((pool.get("status") or {}).get("configuration") or {}).get("name", "")
        )

        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            conds = {c["type"]: c for c in st.get("conditions") or []}

            def setc(ctype: str, status: str, reason: str = "", message: str = "") -> None:
                prev = conds.get(ctype)
                if prev and prev.get("status") == status and prev.get("message", "") == message:
                    return
                conds[ctype] = cond(ctype, status, reason, message)

            if all_updated:
                setc("Updated", "True", "", f"All nodes are updated with MachineConfig {target}")
                setc("Updating", "False")
            elif paused:
                setc("Updated", "False")
                setc("Updating", "False")
            else:
                setc("Updated", "False")
                setc("Updating", "True", "", f"All nodes are updating to MachineConfig {target}")
            if degraded_msgs:
                msg = "; ".join(degraded_msgs)
                setc("NodeDegraded", "True", "1 nodes are reporting degraded status on sync", msg)
                setc("Degraded", "True", "", msg)
            else:
                setc("NodeDegraded", "False")
                setc("Degraded", "False")
            st["conditions"] = [
                conds[t]
                for t in ("RenderDegraded", "NodeDegraded", "Degraded", "Updated", "Updating")
                if t in conds
            ]
            st["configuration"] = {"name": status_config}
            st["machineCount"] = total
            st["updatedMachineCount"] = len(updated)
            st["readyMachineCount"] = len(ready)
            st["unavailableMachineCount"] = len(unavailable)
            st["degradedMachineCount"] = len(degraded_msgs)
            st["observedGeneration"] = o["metadata"].get("generation", 1)

        return apply

    # ------------------------------------------------------------------ machine health checks
    def _health_checks(self, now: float) -> None:
        nodes = {n["metadata"]["name"]: n for n in self.store.list(NODE)[0]}
        seen: set[tuple[str, str, str]] = set()
        for mhc in self.store.list(MHC)[0]:
            meta = mhc["metadata"]
            if MHC_PAUSED in (meta.get("annotations") or {}):
                continue  # paused: no evaluation, no remediation, no status update
            spec = mhc.get("spec") or {}
            reqs = selector_from_match_labels(spec.get("selector"))
            machines = [m for m in self.store.list(MACHINE, meta["namespace"])[0] if labels_match(reqs, m)]
            unhealthy: list[tuple[Obj, str]] = []
            for m in machines:
                node_name = ((m.get("status") or {}).get("nodeRef") or {}).get("name")
                node = nodes.get(node_name or "")
                if node is None:
                    continue  # still provisioning (nodeStartupTimeout is not simulated)
                for uc in spec.get("unhealthyConditions") or []:
                    c = condition(node, uc.get("type", ""))
                    if c.get("status") != uc.get("status"):
                        continue
                    key = (meta["name"], node_name or "", f"{uc.get('type')}={uc.get('status')}")
                    seen.add(key)
                    since = self.unhealthy_since.setdefault(key, now)
                    timeout = _duration(uc.get("timeout"), 300.0)
                    if now - since > timeout:
                        unhealthy.append((m, f"{uc.get('type')}={uc.get('status')}"))
                        break
            expected = len(machines)
            max_unhealthy = _max_unhealthy(spec.get("maxUnhealthy"), expected)
            allowed = len(unhealthy) <= max_unhealthy
            healthy = expected - len(unhealthy)
            if allowed:
                for m, why in unhealthy:
                    self._remediate(mhc, m, why)

            def status(
                o: Obj,
                expected: int = expected,
                healthy: int = healthy,
                allowed: bool = allowed,
                max_unhealthy: int = max_unhealthy,
                n_unhealthy: int = len(unhealthy),
            ) -> None:
                st = o.setdefault("status", {})
                st["expectedMachines"] = expected
                st["currentHealthy"] = healthy
                st["remediationsAllowed"] = max(0, max_unhealthy - n_unhealthy)
                prev = condition(o, "RemediationAllowed")
                want = "True" if allowed else "False"
                if prev.get("status") != want:
                    c = cond("RemediationAllowed", want)
                    if not allowed:
                        c["reason"] = "TooManyUnhealthy"
                        c["severity"] = "Warning"
                        c["message"] = (
                            "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy"
                        )
                    st["conditions"] = [
                        x for x in st.get("conditions") or [] if x.get("type") != "RemediationAllowed"
                    ] + [c]

            self.store.mutate(MHC, meta["namespace"], meta["name"], status)
        for key in [k for k in self.unhealthy_since if k not in seen]:
            del self.unhealthy_since[key]

    def _remediate(self, mhc: Obj, machine: Obj, why: str) -> None:
        ns, name = machine["metadata"]["namespace"], machine["metadata"]["name"]
        node_name = ((machine.get("status") or {}).get("nodeRef") or {}).get("name", "")
        try:
            self.store.delete(MACHINE, ns, name)
        except ApiError:
            return
        log.warning(
            "machine health check %s: remediating machine %s (node %s: %s)",
            mhc["metadata"]["name"],
            name,
            node_name,
            why,
        )
        self.remediated.append(name)
        if node_name:
            for pod in self.store.list(POD, None, None, f"spec.nodeName={node_name}")[0]:
                owners = pod["metadata"].get("ownerReferences") or []
                if any(o.get("kind") == "DaemonSet" for o in owners):
                    self.store.delete(POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
                else:
                    self.reschedule_pod(pod)
            try:
                self.store.delete(NODE, None, node_name)
            except ApiError:
                pass
            self.updates.pop(node_name, None)
        now = now_iso()
        self.store.upsert(
            EVENT,
            {
                "metadata": {"name": f"{mhc['metadata']['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns},
                "involvedObject": {
                    "kind": "Machine",
                    "namespace": ns,
                    "name": name,
                    "apiVersion": "machine.openshift.io/v1beta1",
                },
                "reason": "MachineDeleted",
                "message": f"Machine {ns}/{name} has been remediated by requesting to delete Machine object "
                f"(unhealthy condition {why} on node {node_name})",
                "type": "Normal",
                "source": {"component": "machinehealthcheck-controller"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "reportingComponent": "machinehealthcheck-controller",
            },
        )

        def record(o: Obj) -> None:
            ann = o["metadata"].setdefault("annotations", {})
            count = int(ann.get("sandbox.openshift.io/remediations", "0")) + 1
            ann["sandbox.openshift.io/remediations"] = str(count)
            ann["sandbox.openshift.io/last-remediated-machine"] = name

        self.store.mutate(MHC, mhc["metadata"]["namespace"], mhc["metadata"]["name"], record)

    # ------------------------------------------------------------------ machine sets and the control plane
    def _machine_sets(self, now: float) -> None:
        infra = self.cluster.infrastructure_name
        machines = self.store.list(MACHINE, MACHINE_API_NS)[0]
        for ms in self.store.list(MACHINESET, MACHINE_API_NS)[0]:
            msname = ms["metadata"]["name"]
            owned = [
                m
                for m in machines
                if (m["metadata"].get("labels") or {}).get("machine.openshift.io/cluster-api-machineset")
                == msname
            ]
            want = int((ms.get("spec") or {}).get("replicas") or 0)
            zone = msname.rsplit("-worker-", 1)[-1] if "-worker-" in msname else ZONES[0]
            if len(owned) < want:
                for _ in range(want - len(owned)):
                    self._provision(f"{msname}-{uuid.uuid4().hex[:5]}", "worker", zone, msname, now)
            elif len(owned) > want:
                for m in sorted(owned, key=lambda m: m["metadata"].get("creationTimestamp", ""))[want:]:
                    self._delete_machine(m)
            running = [m for m in owned if (m.get("status") or {}).get("phase") == "Running"]

            def ms_status(o: Obj, total: int = len(owned), ready: int = len(running)) -> None:
                o["status"] = {
                    **(o.get("status") or {}),
                    "replicas": total,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "fullyLabeledReplicas": total,
                    "observedGeneration": o["metadata"].get("generation", 1),
                }

            self.store.mutate(MACHINESET, MACHINE_API_NS, msname, ms_status)
        # control plane: one master machine per zone (what the control plane machine set does)
        masters = [
            m
            for m in machines
            if (m["metadata"].get("labels") or {}).get("machine.openshift.io/cluster-api-machine-role")
            == "master"
        ]
        zones = {(m["metadata"].get("labels") or {}).get("machine.openshift.io/zone") for m in masters}
        for i, zone in enumerate(ZONES):
            if zone not in zones:
                self._provision(f"{infra}-master-{uuid.uuid4().hex[:5]}-{i}", "master", zone, None, now)
        self._advance_provisioning(now)

    def _provision(self, name: str, role: str, zone: str, machineset: str | None, now: float) -> None:
        obj = machine_object(name, role, zone, machineset, self.cluster.infrastructure_name, now_iso(), None)
        obj["status"] = {"phase": "Provisioning", "lastUpdated": now_iso()}
        obj["spec"].pop("providerID", None)
        self.store.upsert(MACHINE, obj)
        self.provisioning[name] = Provisioning(name, role, zone, machineset, now)
        log.info("machine-api: provisioning machine %s (%s, %s)", name, role, zone)

    def _advance_provisioning(self, now: float) -> None:
        for p in list(self.provisioning.values()):
            self._provision_step(p, now)

    def _provision_step(self, p: Provisioning, now: float) -> None:
        machine = self.store.find(MACHINE, MACHINE_API_NS, p.machine)
        if machine is None:
            self.provisioning.pop(p.machine, None)
            return
        if not p.node_created and now - p.started >= PROVISION_SECONDS:
            pool = self.store.find(MCP, None, p.role)
            config = ((pool or {}).get("spec") or {}).get("configuration", {}).get("name") or rendered_config(
                p.role, self.cluster.current_version
            )
            version = self.config_versions.get(config, self.cluster.current_version)
            index = int(short_hash(p.machine, n=2), 16) % 200 + 20
            node = node_object(p.machine, p.role, p.zone, version, now_iso(), machine=p.machine, index=index)
            node["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"] = config
            node["metadata"]["annotations"]["machineconfiguration.openshift.io/desiredConfig"] = config
            node["status"] = node_status(p.machine, version, ready=False, index=index)
            node["status"]["conditions"][-1] = cond(
                "Ready",
                "False",
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false",
            )
            self.store.upsert(NODE, node)
            p.node_created = True

            def provisioned(o: Obj) -> None:
                o["status"]["phase"] = "Provisioned"
                o["status"]["nodeRef"] = {
                    "kind": "Node",
                    "name": p.machine,
                    "uid": short_hash("node", p.machine),
                }
                o["spec"]["providerID"] = f"aws:///{p.zone}/i-0{short_hash(p.machine, n=16)}"

            self.store.mutate(MACHINE, MACHINE_API_NS, p.machine, provisioned)
        elif p.node_created and now - p.started >= PROVISION_SECONDS + JOIN_SECONDS:
            joined = self.store.find(NODE, None, p.machine)
            if joined is not None:
                version = self._node_version(joined)

                def ready(o: Obj) -> None:
                    o["status"] = node_status(p.machine, version, ready=True, index=_node_index(o))

                self.store.mutate(NODE, None, p.machine, ready)
            self.store.mutate(
                MACHINE,
                MACHINE_API_NS,
                p.machine,
                lambda o: o["status"].update({"phase": "Running", "lastUpdated": now_iso()}),
            )
            self.provisioning.pop(p.machine, None)
            log.info("machine-api: machine %s is Running", p.machine)

    def _delete_machine(self, machine: Obj) -> None:
        name = machine["metadata"]["name"]
        node_name = ((machine.get("status") or {}).get("nodeRef") or {}).get("name")
        try:
            self.store.delete(MACHINE, MACHINE_API_NS, name)
        except ApiError:
            return
        if node_name:
            try:
                self.store.delete(NODE, None, node_name)
            except ApiError:
                pass


def _set_config(node: Obj, current: str | None = None, desired: str | None = None) -> None:
    """The machine-config daemon's node annotations: ``desired`` alone starts an update (``Working``),
    ``current`` == ``desired`` ends it (``Done``)."""
    ann = node["metadata"].setdefault("annotations", {})
    if current is not None:
        ann["machineconfiguration.openshift.io/currentConfig"] = current
    if desired is not None:
        ann["machineconfiguration.openshift.io/desiredConfig"] = desired
    done = ann.get("machineconfiguration.openshift.io/currentConfig") == ann.get(
        "machineconfiguration.openshift.io/desiredConfig"
    )
    ann["machineconfiguration.openshift.io/state"] = "Done" if done else "Working"


def _node_index(node: Obj) -> int:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            try:
                return int(a["address"].split(".")[3]) - 10
            except (ValueError, KeyError):
                break
    return 0


def _max_unhealthy(value: Any, expected: int) -> int:
    if value is None:
        return expected
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(expected * int(value[:-1]) / 100)
    try:
        return int(value)
    except (TypeError, ValueError):
        return expected


__all__ = ["LIVE_APPLY_SECONDS", "MachineControllers", "REBOOT_SECONDS", "registries_conf"]
