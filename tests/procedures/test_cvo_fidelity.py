"""The CVO as it really behaves, against a private lab with 4.16.18 (current), 4.17.3 and 4.18.2:

- preflight refuses a target two minors ahead before anything is changed and names the release to update to
  first; ``upgrade start`` refuses it without writing; the lab's CVO itself refuses it with the real GiantHop
  precondition message when somebody writes it by hand;
- after the admin fixes the cloud-credential annotation, ``upgrade watch`` does not declare the update blocked
  while the CVO (which re-evaluates Upgradeable at most every 2 minutes) would still go on by itself; the lab's
  CVO really does go on."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cluster import CLOUD_CREDENTIAL, CLUSTER_OPERATOR, CLUSTER_VERSION
from engine.context import Context
from engine.errors import NotReady
from engine.events import Emitter, Recorder
from engine.plan import Plan
from engine.upgrade import watch
from tests.helpers import wait_until
from tests.procedures.test_upgrade import (
    admin,
    cv_condition,
    json_events,
    lab_plan,
    relax_drain_blocker,
    run_cli,
    skopeo_mirror,
)

pytestmark = [
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("docker-registry", "skopeo")),
        reason="the lab needs docker-registry and skopeo",
    ),
    pytest.mark.xdist_group("test_cvo_fidelity"),
]

VERSIONS = ("4.16.18", "4.17.3", "4.18.2")
SPEED = 60.0
"""slow enough that the CVO's 2-minute Upgradeable cadence (2 s here) is still running when the watch looks"""
ANNOTATION = "cloudcredential.openshift.io/upgradeable-to"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.lab import down, up

    directory = tmp_path_factory.mktemp("cvo-fidelity-lab")
    try:
        info = up(directory, speed=SPEED, versions=VERSIONS, components=4, size_mb=1)
    except BaseException:
        down(directory)
        raise
    try:
        relax_drain_blocker(admin(info))
        yield info
    finally:
        down(directory)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cvo-fidelity-work")
    return {"dir": d, "state": d / "state"}


def _reason(cluster: Any) -> tuple[str, str, str]:
    c = cv_condition(cluster, "ReleaseAccepted")
    return c.get("status", ""), c.get("reason", ""), c.get("message", "")


def test_01_a_giant_hop_is_refused_before_anything_changes(lab: Any, work: dict[str, Path]) -> None:
    cluster = admin(lab)
    generation = cluster.cluster_version()["metadata"]["generation"]
    plan = lab_plan(lab, work["dir"], "4.18.2", release__channel="stable-4.18")
    res = run_cli("preflight", "--plan", str(plan), "--etcd-backup-at", "now", "--json", state=work["state"])
    path = next(
        e for e in json_events(res.stdout) if e.get("kind") == "CheckResult" and e["name"] == "update path"
    )
    assert path["status"] == "fail", path
    assert "4.18.2 is more than one minor version beyond the current 4.16.18" in path["detail"]
    assert "ClusterVersionGiantHop" in path["detail"]
    via = re.search(r"update to (4\.17\.\d+) first, then to 4\.18\.2", path["detail"])
    assert via, path["detail"]
    assert via.group(1) in VERSIONS or via.group(1).startswith("4.17.")
    assert "--next-hop" in path["fix"]

    res = run_cli("upgrade", "start", "--plan", str(plan), "--yes", state=work["state"])
    assert res.returncode == 3, res.stdout + res.stderr
    assert "more than one minor version beyond the current 4.16.18" in res.stderr
    cv = cluster.cluster_version()
    assert cv["metadata"]["generation"] == generation and "desiredUpdate" not in cv["spec"]


def test_02_the_lab_cvo_refuses_a_giant_hop_written_by_hand(lab: Any, work: dict[str, Path]) -> None:
    cluster = admin(lab)
    skopeo_mirror(lab, "4.18.2")
    plan = lab_plan(lab, work["dir"], "4.18.2", release__channel="stable-4.18")
    res = run_cli("signature", "apply", "--plan", str(plan), "--yes", state=work["state"])
    assert res.returncode == 0, res.stdout + res.stderr
    image = f"{lab.mirror.registry}/{lab.mirror.repository}@{lab.release('4.18.2').digest}"
    cluster.merge_patch(
        CLUSTER_VERSION,
        "version",
        {"spec": {"desiredUpdate": {"architecture": "", "version": "", "image": image, "force": False}}},
    )
    try:
        wait_until(lambda: _reason(cluster)[1] == "PreconditionChecks", 60, 0.05, "the CVO to refuse 4.18.2")
        _, _, message = _reason(cluster)
        assert (
            'Precondition "ClusterVersionGiantHop" failed because of "MultipleMinorVersionsUpdate": 4.18.2 is more '
            "than one minor version beyond the current target 4.16.18 (4.18 > 4.(16+1)), and only updates within "
            "the current minor version or to the next minor version are supported." in message
        )
        assert cluster.cluster_version()["status"]["history"][0]["version"] == "4.16.18"
    finally:
        cluster.merge_patch(CLUSTER_VERSION, "version", {"spec": {"desiredUpdate": None}})
        wait_until(lambda: _reason(cluster)[0] == "True", 60, 0.05, "the CVO back on its payload")


def test_03_watch_waits_for_the_cvo_once_the_cause_is_fixed(lab: Any, work: dict[str, Path]) -> None:
    cluster = admin(lab)
    skopeo_mirror(lab, "4.17.3")
    plan = lab_plan(lab, work["dir"], "4.17.3", release__channel="stable-4.17")
    P = ("--plan", str(plan))
    for args in (("signature", "apply", "--yes"), ("mhc", "skip", "--reason", "test", "--yes")):
        res = run_cli(*args, *P, state=work["state"])
        assert res.returncode == 0, res.stdout + res.stderr
    res = run_cli("upgrade", "start", *P, "--yes", state=work["state"])
    assert res.returncode == 0, res.stdout + res.stderr
    wait_until(lambda: _reason(cluster)[1] == "PreconditionChecks", 60, 0.05, "the CVO to refuse 4.17.3")
    assert (
        '"ClusterVersionUpgradeable" failed because of "MissingUpgradeableAnnotation"' in _reason(cluster)[2]
    )

    # while the cause is there, the watch gives up with the fix
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--fail-after", "0.5", state=work["state"])
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{ANNOTATION}=4.17.3" in res.stderr

    # the admin annotates; the cloud-credential operator reacts at once, the CVO only at its next evaluation
    cluster.merge_patch(CLOUD_CREDENTIAL, "cluster", {"metadata": {"annotations": {ANNOTATION: "4.17"}}})

    def cco_upgradeable() -> bool:
        co = cluster.get(CLUSTER_OPERATOR, "cloud-credential")
        return any(c["type"] == "Upgradeable" and c["status"] == "True" for c in co["status"]["conditions"])

    wait_until(cco_upgradeable, 10, 0.01, "co/cloud-credential Upgradeable=True")
    stale = _reason(cluster)[1] == "PreconditionChecks"
    rec = Recorder()
    ctx = Context(Plan.load(plan), Emitter("upgrade", rec))
    # problem_grace 0: before this change the watch declared the update blocked at its first look
    try:
        snap = watch(ctx, timeout=6, interval=0.05, problem_grace=0, wait_pools=False)
        assert snap.complete
    except NotReady:
        pass  # still rolling out: not blocked, which is the point
    texts = "\n".join(rec.texts())
    if stale:
        assert "The cause of the refusal is gone" in texts, texts
    status, reason, message = _reason(cluster)
    assert (status, reason) == ("True", "PayloadLoaded") and 'version="4.17.3"' in message
    head = cluster.cluster_version()["status"]["history"][0]
    assert head["version"] == "4.17.3"
