"""The lab CVO's Upgradeable cadence and payload preconditions, driven tick by tick on chosen simulated times
(no processes): the real CVO re-evaluates Upgradeable at most every 2 minutes, every 15 s during the 2 minutes
after a precondition failure (cluster-version-operator pkg/cvo/upgradeable.go), and runs Rollback, GiantHop,
Upgradeable and RecommendedUpdate before it accepts a payload (pkg/payload/precondition/clusterversion)."""

from __future__ import annotations

import threading
from typing import Any

from sandbox.apiserver import initial
from sandbox.apiserver.clock import SimClock
from sandbox.apiserver.config import ClusterConfig
from sandbox.apiserver.cvo import ClusterVersionOperator, SmallOperators
from sandbox.apiserver.initial import CLOUDCREDENTIAL, CLUSTEROPERATOR, CLUSTERVERSION, UPGRADEABLE_ANNOTATION
from sandbox.apiserver.machines import MachineControllers
from sandbox.apiserver.resources import condition
from sandbox.apiserver.store import Store

IMAGE = "quay.io/openshift-release-dev/ocp-release@sha256:" + "12" * 32


def _cluster() -> tuple[Store, ClusterConfig]:
    store = Store()
    cluster = ClusterConfig("4.16.18", IMAGE)
    initial.build(store, cluster)
    return store, cluster


def _cv_upgradeable(store: Store) -> str:
    cv = store.find(CLUSTERVERSION, None, "version")
    assert cv is not None
    return str(condition(cv, "Upgradeable").get("status", "absent"))


def _co_upgradeable(store: Store) -> str:
    co = store.find(CLUSTEROPERATOR, None, "cloud-credential")
    assert co is not None
    return str(condition(co, "Upgradeable").get("status"))


def _annotate(store: Store, value: str = "4.17") -> None:
    """What the documents tell the admin to set (the CCO reads its major.minor: 4.17, v4.17 and 4.17.3 alike)."""
    store.mutate(
        CLOUDCREDENTIAL,
        None,
        "cluster",
        lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(UPGRADEABLE_ANNOTATION, value),
    )


def _release_accepted(store: Store, status: str, reason: str) -> None:
    def apply(o: dict[str, Any]) -> None:
        conds = [c for c in o["status"]["conditions"] if c["type"] != "ReleaseAccepted"]
        conds.append({"type": "ReleaseAccepted", "status": status, "reason": reason, "message": "m"})
        o["status"]["conditions"] = conds

    store.mutate(CLUSTERVERSION, None, "version", apply)


def test_upgradeable_is_re_evaluated_at_most_every_two_minutes() -> None:
    store, cluster = _cluster()
    ops = SmallOperators(store, cluster, SimClock(1.0))
    ops.reconcile(0.0)
    assert _cv_upgradeable(store) == "False"
    _annotate(store)
    ops.reconcile(10.0)
    assert _co_upgradeable(store) == "True"  # the cloud-credential operator reacts at once
    assert _cv_upgradeable(store) == "False"  # the CVO has not looked again yet
    ops.reconcile(119.0)
    assert _cv_upgradeable(store) == "False"
    ops.reconcile(120.5)
    assert _cv_upgradeable(store) == "absent"  # nothing blocks: the CVO removes the condition


def test_upgradeable_is_re_evaluated_every_15_s_shortly_after_a_precondition_failure() -> None:
    store, cluster = _cluster()
    ops = SmallOperators(store, cluster, SimClock(1.0))
    ops.reconcile(0.0)
    _release_accepted(store, "False", "PreconditionChecks")
    ops.reconcile(5.0)
    _annotate(store)
    ops.reconcile(14.0)
    assert _co_upgradeable(store) == "True" and _cv_upgradeable(store) == "False"
    ops.reconcile(15.5)
    assert _cv_upgradeable(store) == "absent"


def test_the_short_cadence_ends_two_minutes_after_the_failure() -> None:
    store, cluster = _cluster()
    ops = SmallOperators(store, cluster, SimClock(1.0))
    _release_accepted(store, "False", "PreconditionChecks")
    ops.reconcile(0.0)  # the failure is seen at 0; the last evaluation is at 0
    ops.reconcile(130.0)  # 2 minutes passed: evaluated again (nothing changed)
    _annotate(store)
    ops.reconcile(150.0)  # the failure is older than 2 minutes: back to the 2-minute cadence
    assert _co_upgradeable(store) == "True" and _cv_upgradeable(store) == "False"
    ops.reconcile(251.0)
    assert _cv_upgradeable(store) == "absent"


def test_the_cloud_credential_operator_reads_the_annotation_as_major_minor() -> None:
    for value, upgradeable in (("4.17", "True"), ("v4.17", "True"), ("4.17.3", "True"), ("4.16", "False")):
        store, cluster = _cluster()
        ops = SmallOperators(store, cluster, SimClock(1.0))
        _annotate(store, value)
        ops.reconcile(0.0)
        assert _co_upgradeable(store) == upgradeable, value


def _cvo(store: Store, cluster: ClusterConfig) -> ClusterVersionOperator:
    clock = SimClock(1.0)
    return ClusterVersionOperator(
        store, cluster, clock, MachineControllers(store, cluster, clock), threading.Event()
    )


def test_preconditions_as_the_cvo_summarizes_them() -> None:
    store, cluster = _cluster()
    cvo = _cvo(store, cluster)
    # a z-stream update: only the RecommendedUpdate warning (the disconnected cluster has no recommendations)
    block, msg = cvo._preconditions("4.16.20", force=False)
    assert not block
    assert msg == (
        'Precondition "ClusterVersionRecommendedUpdate" failed because of "UnknownUpdate": RetrievedUpdates=False '
        "(RemoteFailed), so the recommended status of updating from 4.16.18 to 4.16.20 is unknown."
    )
    # two minors ahead: GiantHop blocks (and Upgradeable, since the cloud credentials are not annotated)
    block, msg = cvo._preconditions("4.18.2", force=False)
    assert block and msg.startswith("Multiple precondition checks failed:\n* ")
    assert (
        '* Precondition "ClusterVersionGiantHop" failed because of "MultipleMinorVersionsUpdate": 4.18.2 is more '
        "than one minor version beyond the current target 4.16.18 (4.18 > 4.(16+1)), and only updates within the "
        "current minor version or to the next minor version are supported." in msg
    )
    assert (
        '* Precondition "ClusterVersionUpgradeable" failed because of "MissingUpgradeableAnnotation"' in msg
    )
    # force turns blocking failures into a warning the update goes through
    block, msg = cvo._preconditions("4.18.2", force=True)
    assert not block and msg.startswith(
        "Forced through blocking failures: Multiple precondition checks failed"
    )
    # a rollback to a version the cluster never ran
    block, msg = cvo._preconditions("4.16.10", force=False)
    assert block
    assert (
        'Precondition "ClusterVersionRollback" failed because of "LowDesiredVersion": 4.16.10 is less than the '
        "current target 4.16.18, and the cluster has no previous Semantic Version" in msg
    )
    # listed in availableUpdates: no RecommendedUpdate warning at all
    store.mutate(
        CLUSTERVERSION,
        None,
        "version",
        lambda o: o["status"].__setitem__("availableUpdates", [{"version": "4.16.20", "image": IMAGE}]),
    )
    assert cvo._preconditions("4.16.20", force=False) == (False, "")
