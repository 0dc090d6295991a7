"""The simulated machine-config operator and a change of the image mirror configuration.

A create, update or delete of an ImageContentSourcePolicy / ImageDigestMirrorSet / ImageTagMirrorSet that changes
registries.conf renders a new config for both pools (Updating True, Updated False), then the nodes take it one at
a time per pool *live*: never cordoned, never NotReady, no pod evicted; a paused pool does not roll; a release
rollout still drains and reboots. The controllers are first stepped in-process on chosen simulated times (every
intermediate state checked), then the same rollout is observed through the HTTP API with the kubernetes client
(a watch replayed from before the change sees every intermediate object)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from sandbox.apiserver import initial
from sandbox.apiserver.clock import SimClock
from sandbox.apiserver.config import ClusterConfig
from sandbox.apiserver.initial import ICSP, IDMS, ITMS, MCP, NODE, POD, rendered_config
from sandbox.apiserver.machines import LIVE_APPLY_SECONDS, MachineControllers, registries_conf
from sandbox.apiserver.store import Store
from tests.helpers import wait_until
from tests.sandbox.test_apiserver import ApiServer, start_api_server

VERSION = "4.16.18"
RELEASE_SOURCE = "quay.io/openshift-release-dev/ocp-release"
COMPONENT_SOURCE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
MIRROR = "mirror.example:8443/ocp4/openshift4"
CURRENT_CONFIG = "machineconfiguration.openshift.io/currentConfig"
DESIRED_CONFIG = "machineconfiguration.openshift.io/desiredConfig"
STATE = "machineconfiguration.openshift.io/state"
MCP_API = ("machineconfiguration.openshift.io", "v1", "machineconfigpools")
IDMS_API = ("config.openshift.io", "v1", "imagedigestmirrorsets")


def idms(name: str, *sources: str, mirror: str = MIRROR) -> dict[str, Any]:
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": {"name": name},
        "spec": {"imageDigestMirrors": [{"source": s, "mirrors": [mirror]} for s in sources]},
    }


def cond(obj: dict[str, Any], ctype: str) -> str:
    return next(
        (c["status"] for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype), ""
    )


def role(node: dict[str, Any]) -> str:
    return "master" if "node-role.kubernetes.io/master" in node["metadata"]["labels"] else "worker"


def ready(node: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def assert_live(nodes: list[dict[str, Any]]) -> None:
    """Every node Ready and schedulable; at most one node per pool working on a config."""
    for n in nodes:
        name = n["metadata"]["name"]
        assert ready(n), f"{name} went NotReady"
        assert not (n.get("spec") or {}).get("unschedulable"), f"{name} was cordoned"
        assert not [
            t
            for t in (n.get("spec") or {}).get("taints") or []
            if t["key"] == "node.kubernetes.io/unschedulable"
        ], f"{name} got the unschedulable taint"
    for pool in ("master", "worker"):
        working = [
            n["metadata"]["name"]
            for n in nodes
            if role(n) == pool and n["metadata"]["annotations"][STATE] == "Working"
        ]
        assert len(working) <= 1, f"pool {pool} updates {working} at once"


# ----------------------------------------------------------------------------------------------- in-process


class Sim:
    """The machine controllers on a store, stepped by hand on simulated time."""

    def __init__(self, mirrors: tuple[dict[str, Any], ...] = ()) -> None:
        self.store = Store()
        image = "quay.io/openshift-release-dev/ocp-release@sha256:" + "a" * 64
        self.cluster = ClusterConfig(VERSION, image, image_digest_mirrors=mirrors)
        initial.build(self.store, self.cluster)
        self.mco = MachineControllers(self.store, self.cluster, SimClock(1.0))
        self.now = 0.0

    def pool(self, name: str) -> dict[str, Any]:
        obj = self.store.find(MCP, None, name)
        assert obj is not None
        return obj

    def nodes(self) -> list[dict[str, Any]]:
        return self.store.list(NODE)[0]

    def step(self, seconds: float = 10.0) -> None:
        self.now += seconds
        self.mco.reconcile(self.now)

    def roll(self, pools: tuple[str, ...] = ("master", "worker"), limit: float = 3600.0) -> float:
        """Step until ``pools`` are updated, checking every intermediate state; returns the simulated seconds."""
        start = self.now
        counts: dict[str, list[int]] = {p: [] for p in pools}
        while not all(cond(self.pool(p), "Updated") == "True" for p in pools):
            assert self.now - start < limit, "the pools did not finish"
            self.step()
            assert_live(self.nodes())
            for p in pools:
                counts[p].append(self.pool(p)["status"]["updatedMachineCount"])
        for p in pools:
            assert counts[p] == sorted(counts[p]), f"pool {p} updatedMachineCount went back: {counts[p]}"
            assert set(counts[p]) >= {0, 1, 2, 3}, counts[p]
        return self.now - start


def test_mirror_set_changes_roll_the_pools_live_one_node_at_a_time() -> None:
    sim = Sim()
    initial_config = {p: rendered_config(p, VERSION) for p in ("master", "worker")}
    assert {p: sim.pool(p)["spec"]["configuration"]["name"] for p in initial_config} == initial_config
    pods = {(p["metadata"]["name"], p["spec"].get("nodeName")) for p in sim.store.list(POD)[0]}
    assert len(pods) > 6
    kubelet = {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in sim.nodes()}
    sim.step()
    assert all(cond(sim.pool(p), "Updated") == "True" for p in initial_config), "nothing to roll at start"

    # create: both pools get a new rendered config and report Updating at once (same write)
    sim.store.upsert(IDMS, idms("release", RELEASE_SOURCE, COMPONENT_SOURCE))
    sim.step()
    created = {}
    for p in ("master", "worker"):
        pool = sim.pool(p)
        created[p] = pool["spec"]["configuration"]["name"]
        assert created[p].startswith(f"rendered-{p}-") and created[p] != initial_config[p]
        assert pool["status"]["configuration"]["name"] == initial_config[p]
        assert cond(pool, "Updating") == "True" and cond(pool, "Updated") == "False"
        assert pool["status"]["updatedMachineCount"] == 0 and pool["status"]["machineCount"] == 3
    working = [n for n in sim.nodes() if n["metadata"]["annotations"][STATE] == "Working"]
    assert sorted(role(n) for n in working) == ["master", "worker"]
    for n in working:
        ann = n["metadata"]["annotations"]
        assert ann[DESIRED_CONFIG] == created[role(n)] and ann[CURRENT_CONFIG] == initial_config[role(n)]

    took = sim.roll()
    assert 3 * LIVE_APPLY_SECONDS <= took <= 3 * LIVE_APPLY_SECONDS + 60, took
    for p in ("master", "worker"):
        st = sim.pool(p)["status"]
        assert st["configuration"]["name"] == created[p] and cond(sim.pool(p), "Updating") == "False"
        assert (
            st["updatedMachineCount"] == st["readyMachineCount"] == 3 and st["unavailableMachineCount"] == 0
        )
    for n in sim.nodes():
        ann = n["metadata"]["annotations"]
        assert ann[CURRENT_CONFIG] == ann[DESIRED_CONFIG] == created[role(n)] and ann[STATE] == "Done"
        assert n["status"]["nodeInfo"]["kubeletVersion"] == kubelet[n["metadata"]["name"]]
    # no drain: every pod is where it was
    assert {(p["metadata"]["name"], p["spec"].get("nodeName")) for p in sim.store.list(POD)[0]} == pods

    # update: another source in the same object -> another config; the paused worker pool does not roll
    sim.store.mutate(MCP, None, "worker", lambda o: o["spec"].__setitem__("paused", True))
    sim.store.upsert(IDMS, idms("release", RELEASE_SOURCE, COMPONENT_SOURCE, "quay.io/extra/repo"))
    sim.step()
    updated = {p: sim.pool(p)["spec"]["configuration"]["name"] for p in ("master", "worker")}
    assert updated["master"] not in (created["master"], initial_config["master"])
    assert updated["worker"] not in (created["worker"], initial_config["worker"])
    sim.roll(("master",))
    for _ in range(int(3 * LIVE_APPLY_SECONDS / 10) + 5):
        sim.step()
        worker = sim.pool("worker")
        assert cond(worker, "Updating") == "False" and cond(worker, "Updated") == "False"
        assert worker["status"]["configuration"]["name"] == created["worker"]
        assert worker["status"]["updatedMachineCount"] == 0
    workers = [n for n in sim.nodes() if role(n) == "worker"]
    assert {n["metadata"]["annotations"][CURRENT_CONFIG] for n in workers} == {created["worker"]}
    assert {n["metadata"]["annotations"][STATE] for n in workers} == {"Done"}
    sim.store.mutate(MCP, None, "worker", lambda o: o["spec"].__setitem__("paused", False))
    sim.roll(("worker",))
    assert sim.pool("worker")["status"]["configuration"]["name"] == updated["worker"]

    # delete: back to the install-time registries.conf, hence the install-time rendered configs
    sim.store.delete(IDMS, None, "release")
    sim.step()
    assert {p: sim.pool(p)["spec"]["configuration"]["name"] for p in initial_config} == initial_config
    sim.roll()
    assert {p: sim.pool(p)["status"]["configuration"]["name"] for p in initial_config} == initial_config


def test_only_a_registries_conf_change_rolls_and_icsp_itms_count() -> None:
    sim = Sim(({"source": RELEASE_SOURCE, "mirrors": [MIRROR]},))
    base = registries_conf(sim.store)
    # an ImageContentSourcePolicy with the entries already there: same registries.conf, no new rendered config
    sim.store.upsert(
        ICSP,
        {
            "metadata": {"name": "same"},
            "spec": {"repositoryDigestMirrors": [{"source": RELEASE_SOURCE, "mirrors": [MIRROR]}]},
        },
    )
    assert registries_conf(sim.store) == base
    sim.step()
    assert sim.pool("worker")["spec"]["configuration"]["name"] == rendered_config("worker", VERSION)
    assert cond(sim.pool("worker"), "Updating") == "False"
    # an ImageContentSourcePolicy with a new source does roll
    sim.store.upsert(
        ICSP,
        {
            "metadata": {"name": "same"},
            "spec": {"repositoryDigestMirrors": [{"source": COMPONENT_SOURCE, "mirrors": [MIRROR]}]},
        },
    )
    sim.step()
    after_icsp = sim.pool("worker")["spec"]["configuration"]["name"]
    assert after_icsp != rendered_config("worker", VERSION) and cond(sim.pool("worker"), "Updating") == "True"
    sim.roll()
    # an ImageTagMirrorSet (tag-only mirrors) rolls too
    sim.store.upsert(
        ITMS,
        {
            "metadata": {"name": "tags"},
            "spec": {"imageTagMirrors": [{"source": "registry.example/team/app", "mirrors": [MIRROR]}]},
        },
    )
    sim.step()
    assert sim.pool("worker")["spec"]["configuration"]["name"] not in (
        after_icsp,
        rendered_config("worker", VERSION),
    )
    sim.roll()


def test_a_release_rollout_after_a_mirror_change_still_drains_and_reboots() -> None:
    sim = Sim()
    sim.store.upsert(IDMS, idms("release", RELEASE_SOURCE))
    sim.step()
    sim.roll()
    sim.mco.begin_rollout("4.16.20")
    target = sim.pool("worker")["spec"]["configuration"]["name"]
    assert target.startswith("rendered-worker-") and target != rendered_config("worker", "4.16.20")
    assert cond(sim.pool("worker"), "Updating") == "True"
    sim.step()
    # the new kubelet needs a reboot: the first master (no budget in the way) is cordoned, drained, rebooted
    masters = [n for n in sim.nodes() if role(n) == "master"]
    cordoned = [n for n in masters if (n.get("spec") or {}).get("unschedulable")]
    assert len(cordoned) == 1
    name = cordoned[0]["metadata"]["name"]
    seen_not_ready = False
    for _ in range(200):
        sim.step()
        node = sim.store.find(NODE, None, name)
        assert node is not None
        seen_not_ready = seen_not_ready or not ready(node)
        if (
            node["metadata"]["annotations"][CURRENT_CONFIG]
            == sim.pool("master")["spec"]["configuration"]["name"]
        ):
            break
    assert seen_not_ready, "a release update reboots the node"
    assert sim.store.find(NODE, None, name)["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.29.11")  # type: ignore[index]


# ----------------------------------------------------------------------------------------------- over HTTP


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    server = start_api_server(tmp_path / "api", speed=600)
    try:
        yield server
    finally:
        server.stop()


def test_an_idms_created_over_the_api_rolls_the_pools_without_reboot(api: ApiServer) -> None:
    c = api.client()
    try:
        co = client.CustomObjectsApi(c)
        core = client.CoreV1Api(c)
        before = {p: co.get_cluster_custom_object(*MCP_API, p) for p in ("master", "worker")}
        nodes_list = core.list_node()
        since = nodes_list.metadata.resource_version
        ready_since = {
            n.metadata.name: next(x.last_transition_time for x in n.status.conditions if x.type == "Ready")
            for n in nodes_list.items
        }
        co.create_cluster_custom_object(*IDMS_API, idms("ocp-release", RELEASE_SOURCE))

        def rolled() -> bool:
            pools = [co.get_cluster_custom_object(*MCP_API, p) for p in ("master", "worker")]
            return all(
                p["status"]["configuration"]["name"]
                != before[p["metadata"]["name"]]["status"]["configuration"]["name"]
                and cond(p, "Updated") == "True"
                and p["status"]["updatedMachineCount"] == p["status"]["machineCount"] == 3
                for p in pools
            )

        wait_until(rolled, 30, 0.05, "both pools to roll out the new registries.conf")

        # replay every change since the create: pools and nodes, in order
        def replay(fn: Any, *args: Any) -> list[dict[str, Any]]:
            w = watch.Watch()
            out = []
            for ev in w.stream(fn, *args, resource_version=since, timeout_seconds=1, _request_timeout=10):
                obj = ev["object"]
                out.append(obj if isinstance(obj, dict) else c.sanitize_for_serialization(obj))
            return out

        pool_events = replay(co.list_cluster_custom_object, *MCP_API)
        for name in ("master", "worker"):
            seq = [p for p in pool_events if p["metadata"]["name"] == name]
            new = seq[-1]["spec"]["configuration"]["name"]
            first = next(p for p in seq if p["spec"]["configuration"]["name"] == new)
            assert cond(first, "Updating") == "True" and cond(first, "Updated") == "False", first["status"]
            counts = [
                p["status"]["updatedMachineCount"] for p in seq if p["spec"]["configuration"]["name"] == new
            ]
            assert counts == sorted(counts) and {0, 1, 2, 3} <= set(counts), counts
        node_events = replay(core.list_node)
        state: dict[str, dict[str, Any]] = {}
        working_seen = set()
        for n in node_events:
            state[n["metadata"]["name"]] = n
            assert_live(list(state.values()))
            if n["metadata"]["annotations"][STATE] == "Working":
                working_seen.add(n["metadata"]["name"])
        assert len(working_seen) == 6, working_seen
        for node in core.list_node().items:
            ready_cond = next(x for x in node.status.conditions if x.type == "Ready")
            assert (
                ready_cond.status == "True"
                and ready_cond.last_transition_time == ready_since[node.metadata.name]
            )
            assert node.metadata.annotations[STATE] == "Done"
    finally:
        c.close()
