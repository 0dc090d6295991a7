"""The whole disconnected update, headless, against a private lab, as a script would run it:

preflight → release → credentials → mirror → signature apply → mhc pause → upgrade start → upgrade watch → mhc
resume. Afterwards the cluster reports the new version Completed, the MachineHealthCheck the admin had paused is
still paused, the other is not, and no Machine was remediated. The second run skips the pause (a journaled
decision) and shows why the documents ask for it: a rebooting worker is remediated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cluster import MACHINE, MCP, MHC, NODE
from tests.crdschema import served_problems
from tests.procedures.test_upgrade import (
    LAB_VERSIONS,
    admin,
    json_events,
    mirror_step,
    relax_drain_blocker,
    run_cli,
)

PAUSED = "cluster.x-k8s.io/paused"


def _machines(info: Any) -> dict[str, str]:
    return {
        m["metadata"]["name"]: m["metadata"]["uid"]
        for m in admin(info).list(MACHINE, "openshift-machine-api")
    }


def _paused(info: Any) -> dict[str, bool]:
    return {
        m["metadata"]["name"]: PAUSED in (m["metadata"].get("annotations") or {})
        for m in admin(info).list(MHC, "openshift-machine-api")
    }


def _ok(res: Any, step: str) -> str:
    assert res.returncode == 0, (
        f"{step} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}"
    )
    return str(res.stdout)


def _prepare(info: Any, tmp_path: Path, log: list[str]) -> tuple[Path, Path]:
    """preflight, release, credentials and mirror: the steps before the ones this module owns."""
    state = tmp_path / "state"
    plan = Path(info.plan)
    doc = yaml.safe_load(plan.read_text())
    doc["release"]["version"] = info.target_version
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    _ok(run_cli("release", "--plan", str(plan), "--write-plan", state=state), "release")
    assert yaml.safe_load(plan.read_text())["release"]["digest"] == info.release(info.target_version).digest
    log.append("release")
    res = run_cli("preflight", "--plan", str(plan), "--etcd-backup-at", "now", state=state)
    assert res.returncode in (0, 4), res.stdout + res.stderr
    assert "PodDisruptionBudgets" in res.stdout
    log.append("preflight")
    # the admin acts on preflight's finding: the payments PDB allows no disruption and would block the drain
    relax_drain_blocker(admin(info))
    _ok(
        run_cli("credentials", "merge", "--plan", str(plan), "--update-cluster", "--yes", state=state),
        "creds",
    )
    _ok(
        run_cli("credentials", "trust-ca", "--plan", str(plan), "--cluster-only", "--yes", state=state),
        "ca",
    )
    log.append("credentials")
    log.append(mirror_step(info, plan, state))
    return plan, state


def test_headless_update_with_machine_health_checks_paused(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}  # master-mhc: paused by the admin
    machines_before = _machines(info)
    log: list[str] = []
    plan, state = _prepare(info, tmp_path, log)
    P = ("--plan", str(plan))

    out = _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    assert f"configmap/release-image-{info.target_version} created" in out
    out = _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    assert "annotate mhc worker-mhc cluster.x-k8s.io/paused=" in out
    assert _paused(info) == {"master-mhc": True, "worker-mhc": True}
    out = _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    assert "adm upgrade --allow-explicit-upgrade --to-image" in out
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "180", "--json", state=state)
    _ok(res, "upgrade watch")
    events = json_events(res.stdout)
    assert events[-1]["data"]["complete"] is True
    texts = "\n".join(e.get("text", "") for e in events)
    assert (
        "resume the MachineHealthChecks ocp-airgap paused (machinehealthcheck/openshift-machine-api/worker-mhc)"
        in texts
    )
    assert "was deleted during the update" not in texts
    out = _ok(run_cli("mhc", "resume", *P, "--yes", state=state), "mhc resume")
    assert "annotate mhc worker-mhc cluster.x-k8s.io/paused-" in out
    assert "master-mhc: paused by an administrator, not by ocp-airgap: left paused" in out

    cv = admin(info).cluster_version()
    head = cv["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", info.target_version)
    assert head["verified"] is True
    assert {c["type"]: c["status"] for c in cv["status"]["conditions"]}["Progressing"] == "False"
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}
    assert _machines(info) == machines_before, "a Machine was remediated during the update"
    steps = {
        s["step"]: s["status"]
        for s in json_events(run_cli("status", *P, "--json", state=state).stdout)[-1]["data"]["steps"]
    }
    assert steps["signature"] == steps["mhc-pause"] == steps["upgrade"] == steps["mhc-resume"] == "succeeded"
    # what the lab holds after the engine's writes still has the shapes a real cluster accepts
    checked, problems = served_problems(admin(info))
    assert checked > 20 and problems == []
    # every headless command journaled its own outcome: status is right after a purely headless run
    assert steps["release"] == steps["credentials"] == steps["mirror"] == "succeeded"
    assert steps["preflight"] in ("succeeded", "failed")
    out = _ok(run_cli("status", *P, state=state), "status")
    assert "Next: nothing; the update is complete." in out
    print("steps run:", ", ".join(log))


def test_headless_update_without_pause_shows_remediation(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    machines_before = _machines(info)
    log: list[str] = []
    plan, state = _prepare(info, tmp_path, log)
    P = ("--plan", str(plan))
    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    # without pausing and without the decision, the update is refused
    res = run_cli("upgrade", "start", *P, "--yes", state=state)
    assert res.returncode == 3 and "MachineHealthChecks paused: active: worker-mhc" in res.stdout
    _ok(run_cli("mhc", "skip", *P, "--reason", "show the remediation", "--yes", state=state), "mhc skip")
    _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "240", state=state)
    out = _ok(res, "upgrade watch")
    assert "was deleted during the update: a MachineHealthCheck may have remediated it" in out
    after = _machines(info)
    gone = set(machines_before) - set(after)
    assert gone and all("worker" in name for name in gone), (machines_before, after)
    assert _paused(info) == {"master-mhc": True, "worker-mhc": False}
    journal = json_events(run_cli("status", *P, "--json", state=state).stdout)[-1]["data"]
    assert {"step": "mhc", "key": "skip-pause", "value": True} in [
        {k: d[k] for k in ("step", "key", "value")} for d in journal["decisions"]
    ]


@pytest.mark.parametrize("profile", ["no-machine-api", "sno"])
def test_headless_update_on_a_cluster_without_the_machine_api(
    sandbox_factory: Any, tmp_path: Path, profile: str
) -> None:
    """A cluster installed with baselineCapabilitySet None and without MachineAPI (bare-metal UPI; single-node
    OpenShift): no machine.openshift.io API at all. The MHC steps are journaled as not applicable, and the update
    and the watch work without Machines."""
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2, profile=profile)
    cluster = admin(info)
    if profile == "sno":
        (node,) = cluster.list(NODE)
        roles = {k.rsplit("/", 1)[1] for k in node["metadata"]["labels"] if k.startswith("node-role.")}
        assert roles == {"master", "control-plane", "worker"} and not node["spec"].get("taints")
        counts = {p["metadata"]["name"]: p["status"]["machineCount"] for p in cluster.list(MCP)}
        assert counts == {"master": 1, "worker": 0}
    cv = cluster.cluster_version()
    assert cv["spec"]["capabilities"]["baselineCapabilitySet"] == "None"
    assert "MachineAPI" not in cv["status"]["capabilities"]["enabledCapabilities"]
    groups = {g["name"] for g in cluster.request("GET", "/apis")["groups"]}
    assert "machine.openshift.io" not in groups and "config.openshift.io" in groups
    from engine.errors import NotFound

    with pytest.raises(NotFound):
        cluster.list(MHC, "openshift-machine-api")
    nodes_before = sorted(n["metadata"]["name"] for n in cluster.list(NODE))
    log: list[str] = []
    plan, state = _prepare(info, tmp_path, log)
    P = ("--plan", str(plan))
    res = run_cli("preflight", *P, "--etcd-backup-at", "now", "--json", state=state)
    rights = next(
        e for e in json_events(res.stdout) if e.get("kind") == "CheckResult" and e["name"] == "rights"
    )
    assert rights["status"] == "pass", rights

    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    out = _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    assert "not applicable on this cluster: the Machine API capability is disabled" in out
    out = _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    assert "MachineHealthChecks paused" in out and "not applicable on this cluster" in out
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "180", "--json", state=state)
    _ok(res, "upgrade watch")
    assert json_events(res.stdout)[-1]["data"]["complete"] is True
    out = _ok(run_cli("mhc", "resume", *P, "--yes", state=state), "mhc resume")
    assert "not applicable on this cluster" in out

    head = cluster.cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", info.target_version)
    # no machine-api controller replaced or added a node (there is none on such a cluster)
    assert sorted(n["metadata"]["name"] for n in cluster.list(NODE)) == nodes_before
    for node in cluster.list(NODE):  # every node rebooted into the new release
        annotations = node["metadata"]["annotations"]
        assert (
            annotations["machineconfiguration.openshift.io/currentConfig"]
            == annotations["machineconfiguration.openshift.io/desiredConfig"]
        )
    status = json_events(run_cli("status", *P, "--json", state=state).stdout)[-1]["data"]
    steps = {s["step"]: s for s in status["steps"]}
    assert steps["upgrade"]["status"] == "succeeded"
    for step in ("mhc-pause", "mhc-resume"):
        assert steps[step]["status"] == "skipped", steps[step]
        assert "the Machine API capability is disabled" in steps[step]["summary"]
    checked, problems = served_problems(cluster)
    assert checked > 20 and problems == []


OCP412_VERSIONS = ("4.12.45", "4.12.49")
"""a z-stream update inside the ocp-4.12 profile"""


def test_headless_update_on_a_4_12_cluster(sandbox_factory: Any, tmp_path: Path) -> None:
    """The same update on the ``ocp-4.12`` profile: the release key as 4.12's cluster-update-keys shipped it
    (SHA-1 self-signature), signatures framed as Go wrote them, and an API without ImageDigestMirrorSet, so the
    mirror configuration is an ImageContentSourcePolicy."""
    from engine.cluster import ICSP, IDMS
    from engine.errors import AirgapError

    info = sandbox_factory(profile="ocp-4.12", versions=OCP412_VERSIONS, components=6, size_mb=2)
    cluster = admin(info)
    with pytest.raises(AirgapError):
        cluster.list(IDMS)  # not served before 4.13
    log: list[str] = []
    plan, state = _prepare(info, tmp_path, log)
    P = ("--plan", str(plan))

    out = _ok(
        run_cli("mirror-config", "apply", *P, "--yes", "--no-watch", state=state), "mirror-config apply"
    )
    assert "imagecontentsourcepolic" in out.lower()
    assert [o["metadata"]["name"] for o in cluster.list(ICSP)]
    res = run_cli("signature", "apply", *P, "--yes", "--json", state=state)
    _ok(res, "signature apply")
    events = json_events(res.stdout)
    warns = [e["text"] for e in events if e.get("level") == "warning"]
    assert any("SHA1 self-signature" in w and "accepted" in w for w in warns), warns
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "180", "--json", state=state)
    _ok(res, "upgrade watch")
    cv = cluster.cluster_version()
    head = cv["status"]["history"][0]
    assert (head["state"], head["version"], head["verified"]) == ("Completed", info.target_version, True)
    checked, problems = served_problems(cluster)
    assert checked > 20 and problems == []
