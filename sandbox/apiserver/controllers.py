"""The simulated controllers, driven by one tick loop on the simulated clock: the Cluster Version Operator
(:mod:`.cvo`), the machine-config / machine-health-check / machine-set controllers (:mod:`.machines`), and
small operators (cloud-credential upgradeability, PodDisruptionBudget status, catalog sources)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from .clock import SimClock
from .config import ClusterConfig
from .initial import PDB, POD
from .store import ApiError, Store, labels_match, selector_from_match_labels

log = logging.getLogger("sandbox.apiserver.controllers")
Obj = dict[str, Any]

TICK_REAL_SECONDS = 0.05


class Controller(Protocol):
    def reconcile(self, now: float) -> None: ...


def pdb_matching(store: Store, pod: Obj) -> list[Obj]:
    ns = pod["metadata"].get("namespace")
    pdbs, _ = store.list(PDB, ns)
    return [
        p
        for p in pdbs
        if labels_match(selector_from_match_labels((p.get("spec") or {}).get("selector")), pod)
    ]


def pdb_status(store: Store, pdb: Obj) -> Obj:
    """What the disruption controller computes for a PDB: healthy pods vs. minAvailable/maxUnavailable."""
    ns = pdb["metadata"]["namespace"]
    reqs = selector_from_match_labels((pdb.get("spec") or {}).get("selector"))
    pods = [p for p in store.list(POD, ns)[0] if labels_match(reqs, p)]
    healthy = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
    expected = len(pods)
    spec = pdb.get("spec") or {}

    def resolve(v: Any) -> int:
        if isinstance(v, str) and v.endswith("%"):
            import math

            return math.ceil(expected * int(v[:-1]) / 100)
        return int(v)

    if "minAvailable" in spec:
        desired = resolve(spec["minAvailable"])
    elif "maxUnavailable" in spec:
        desired = max(0, expected - resolve(spec["maxUnavailable"]))
    else:
        desired = 0
    allowed = max(0, healthy - desired)
    status = dict(pdb.get("status") or {})
    status.update(
        {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
            "observedGeneration": pdb["metadata"].get("generation", 1),
        }
    )
    return status


class DisruptionController:
    """Keeps ``PodDisruptionBudget.status`` in line with the pods and the spec."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def reconcile(self, now: float) -> None:
        from .initial import pdb_condition

        for pdb in self.store.list(PDB)[0]:
            status = pdb_status(self.store, pdb)

            def apply(o: Obj, status: Obj = status) -> None:
                old = o.get("status") or {}
                allowed = status["disruptionsAllowed"] > 0
                conds = [c for c in old.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
                prev = next(
                    (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None
                )
                want = "True" if allowed else "False"
                if prev and prev.get("status") == want:
                    conds.append(prev)
                else:
                    conds.append(pdb_condition(allowed))
                o["status"] = {**status, "conditions": conds}

            self.store.mutate(PDB, pdb["metadata"]["namespace"], pdb["metadata"]["name"], apply)


class Simulation:
    """Owns the controllers and the thread that drives them."""

    def __init__(self, store: Store, cluster: ClusterConfig, clock: SimClock) -> None:
        from .cvo import ClusterVersionOperator, SmallOperators
        from .machines import MachineControllers
        from .olm import OlmOperators

        self.store = store
        self.cluster = cluster
        self.clock = clock
        self.stop_event = threading.Event()
        self.machines = MachineControllers(store, cluster, clock)
        self.cvo = ClusterVersionOperator(store, cluster, clock, self.machines, self.stop_event)
        self.controllers: list[Controller] = [
            self.cvo,
            SmallOperators(store, cluster, clock),
            self.machines,
            DisruptionController(store),
            OlmOperators(store, cluster),
        ]
        self._thread = threading.Thread(target=self._run, name="simulated-controllers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.cvo.stop()
        self._thread.join(1.5)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            now = self.clock.now()
            for c in self.controllers:
                try:
                    c.reconcile(now)
                except Exception:  # pragma: no cover - a controller bug must not stop the others
                    log.exception("controller %s failed", type(c).__name__)
            elapsed = time.monotonic() - started
            self.stop_event.wait(max(0.005, TICK_REAL_SECONDS - elapsed))

    # ---- pods/eviction (policy/v1 Eviction), used by the HTTP layer
    def evict(self, namespace: str | None, name: str, dry_run: bool) -> None:
        with self.store.lock:
            pod = self.store.get(POD, namespace, name)
            for pdb in pdb_matching(self.store, pod):
                if pdb_status(self.store, pdb)["disruptionsAllowed"] < 1:
                    raise ApiError(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        {
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget {pdb['metadata']['name']} needs "
                                    f"{pdb_status(self.store, pdb)['desiredHealthy']} healthy pods and has "
                                    f"{pdb_status(self.store, pdb)['currentHealthy']} currently",
                                }
                            ]
                        },
                    )
            if not dry_run:
                self.machines.reschedule_pod(pod)
