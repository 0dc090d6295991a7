"""Mirror sets: ICSP vs IDMS by cluster version, the entries from the plan (both scopes), the diff against the
cluster (already covered → nothing applied), apply + journal, and the pool watch following the rollout the
machine-config operator starts for the new registries.conf until every pool is updated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cluster import ICSP, IDMS, MCP, Cluster
from engine.errors import InputError
from engine.mirrorconfig import build_object, choose_kind, covered_by, entries_for
from engine.plan import Plan
from tests.helpers import wait_until
from tests.procedures.test_upgrade import admin, json_events, lab_plan, run_cli


@pytest.mark.parametrize(
    ("version", "kind"),
    [("4.12.45", ICSP), ("4.10.3", ICSP), ("4.13.0", IDMS), ("4.17.3", IDMS), ("5.0.1", IDMS)],
)
def test_kind_chosen_by_cluster_version(version: str, kind: Any) -> None:
    chosen, why = choose_kind(version)
    assert chosen == kind and version in why and "4.13" in why


def _plan() -> Plan:
    plan = Plan()
    plan.mirror.registry = "mirror.example:8443"
    plan.mirror.repository = "ocp4/openshift4"
    return plan


def test_entries_and_objects() -> None:
    entries = entries_for(_plan())
    assert entries == [
        {
            "mirrors": ["mirror.example:8443/ocp4/openshift4"],
            "source": "quay.io/openshift-release-dev/ocp-release",
        },
        {
            "mirrors": ["mirror.example:8443/ocp4/openshift4"],
            "source": "quay.io/openshift-release-dev/ocp-v4.0-art-dev",
        },
    ]
    wide = entries_for(_plan(), "registry")
    assert wide[:2] == entries and wide[2:] == [{"mirrors": ["mirror.example:8443"], "source": "quay.io"}]
    idms = build_object(IDMS, entries)
    assert idms["apiVersion"] == "config.openshift.io/v1" and idms["spec"]["imageDigestMirrors"] == entries
    icsp = build_object(ICSP, entries)
    assert (
        icsp["apiVersion"] == "operator.openshift.io/v1alpha1"
        and icsp["spec"]["repositoryDigestMirrors"] == entries
    )
    assert covered_by([{**icsp, "metadata": {"name": "old"}}], entries) == {
        e["source"]: "imagecontentsourcepolicy/old" for e in entries
    }
    with pytest.raises(InputError):
        entries_for(_plan(), "galaxy")


def pools(cluster: Cluster) -> dict[str, dict[str, Any]]:
    out = {}
    for mcp in cluster.list(MCP):
        st = mcp.get("status") or {}
        conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
        out[mcp["metadata"]["name"]] = {
            "spec": mcp["spec"]["configuration"]["name"],
            "status": st["configuration"]["name"],
            "updated": st.get("updatedMachineCount"),
            "machines": st.get("machineCount"),
            "Updated": conds.get("Updated"),
        }
    return out


def settled(cluster: Cluster) -> dict[str, dict[str, Any]] | None:
    now = pools(cluster)
    done = all(
        p["spec"] == p["status"] and p["Updated"] == "True" and p["updated"] == p["machines"]
        for p in now.values()
    )
    return now if done else None


def test_apply_diff_and_already_covered(sandbox: Any, tmp_path: Path) -> None:
    plan, state = lab_plan(sandbox, tmp_path), tmp_path / "state"
    cluster = admin(sandbox)
    P = ("--plan", str(plan))
    before = wait_until(lambda: settled(cluster), 60, 0.1, "the pools to be updated before the test")
    try:
        res = run_cli("mirror-config", "show", *P, state=state)
        assert res.returncode == 0, res.stderr
        assert (
            "ImageDigestMirrorSet: the cluster runs 4.16.18: from 4.13 ImageDigestMirrorSet replaces"
            in res.stdout
        )
        assert "+    source: " + sandbox.upstream.component_repository in res.stdout
        res = run_cli(
            "mirror-config",
            "apply",
            *P,
            "--yes",
            "--settle",
            "20",
            "--interval",
            "0.1",
            "--json",
            state=state,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        events = json_events(res.stdout)
        assert events[-1]["data"]["action"] == "created"
        # the new registries.conf is rendered for both pools and rolled out: the watch follows it to the end
        rollout = events[-1]["data"]["rollout"]
        assert rollout["rollout"] == "completed", rollout
        for name, pool in rollout["pools"].items():
            assert pool["config"] != before[name]["spec"], f"pool {name} kept its rendered config"
            assert pool["updated"] == pool["ready"] == pool["machines"] == 3 and not pool["updating"]
        progress = [e for e in events if e["kind"] == "Progress" and e["unit"] == "machines"]
        for name in ("master", "worker"):
            seen = [e["done"] for e in progress if e["label"] == f"pool {name} updated"]
            assert 0 in seen and seen[-1] == 3, (name, seen)
        assert any(
            e["kind"] == "LogLine"
            and e["text"] == "Every MachineConfigPool has rolled out the new configuration."
            for e in events
        )
        after = pools(cluster)
        assert all(after[n]["status"] == rollout["pools"][n]["config"] for n in after)
        idms = cluster.get(IDMS, "ocp-airgap-release")
        assert idms["spec"]["imageDigestMirrors"][0] == {
            "mirrors": [f"{sandbox.mirror.registry}/{sandbox.mirror.repository}"],
            "source": sandbox.upstream.release_repository,
        }
        again = run_cli("mirror-config", "apply", *P, "--yes", state=state)
        assert (
            again.returncode == 0 and "already holds exactly these entries: nothing to apply" in again.stdout
        )
        # another object covering the same sources: a new one would only cause a rollout
        other = run_cli("mirror-config", "show", *P, "--name", "something-else", state=state)
        assert "every source is already mirrored by imagedigestmirrorset/ocp-airgap-release" in other.stdout
        # registry scope adds the registry-wide entry: an update of the object
        wide = run_cli(
            "mirror-config", "apply", *P, "--scope", "registry", "--yes", "--no-watch", state=state
        )
        assert wide.returncode == 0 and "Update ImageDigestMirrorSet ocp-airgap-release" in wide.stdout
        assert cluster.get(IDMS, "ocp-airgap-release")["spec"]["imageDigestMirrors"][-1] == {
            "mirrors": [sandbox.mirror.registry],
            "source": sandbox.upstream.registry,
        }
    finally:
        if cluster.get_or_none(IDMS, "ocp-airgap-release"):
            cluster.delete(IDMS, "ocp-airgap-release")
        # the install-time registries.conf again: the pools roll back to their first rendered configs
        back = wait_until(lambda: settled(cluster), 60, 0.1, "the pools to roll back")
        assert {n: p["spec"] for n, p in back.items()} == {n: p["spec"] for n, p in before.items()}
