"""Operator catalogs end to end against the lab (profile ``operators``: cluster-logging 5.8.1 installed, its CSV
declaring olm.maxOpenShiftVersion 4.16, target 4.17):

- the lab's OLM reports Upgradeable=False with OLM's message; preflight names the operator and the channel to
  update it through; the update step refuses to start;
- broken catalogs (two channel heads, a missing dependency) are refused before anything is mirrored;
- the marketplace operator resets an edited default CatalogSource, and 'catalog set' refuses to edit one;
- the filtered catalog is mirrored (direct, or to media and from media), applied (OperatorHub, same-named
  CatalogSource by digest, IDMS, ITMS), the operator is moved to the compatible channel and updated by the lab's
  OLM from the mirrored content; the minor update then passes headless, direct and across the air gap (two
  hosts, one media folder); revert undoes the catalog changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.catalogs.apply import CLUSTER_CATALOG, ITMS, OPERATORHUB
from engine.catalogs.installed import SUBSCRIPTION
from engine.cluster import CATALOG_SOURCE, CLUSTER_OPERATOR, IDMS, MHC
from engine.context import Context
from engine.events import CheckStatus, Emitter, Recorder
from engine.plan import Plan
from engine.preflight import run_preflight
from tests.helpers import wait_until
from tests.procedures.test_handoff import _side
from tests.procedures.test_upgrade import admin, json_events, lab_plan, relax_drain_blocker, run_cli, skopeo

NS = "openshift-marketplace"
VERSIONS = ("4.16.18", "4.17.3")


def _ok(res: Any, what: str) -> str:
    assert res.returncode == 0, (
        f"{what} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-3000:]}"
    )
    return str(res.stdout)


def _olm_upgradeable(info: Any) -> dict[str, Any]:
    co = admin(info).get(CLUSTER_OPERATOR, "operator-lifecycle-manager")
    return next(c for c in co["status"]["conditions"] if c["type"] == "Upgradeable")


def _preflight_check(plan: Path, name: str) -> Any:
    col = Recorder()
    ctx = Context(Plan.load(plan), Emitter("preflight", col))
    results = run_preflight(ctx)
    return next(r for r in results if r.name == name)


def _tags(info: Any, repo: str) -> list[str]:
    try:
        out = skopeo(
            "list-tags",
            "--authfile",
            info.auth_file,
            "--cert-dir",
            info.mirror.cert_dir,
            f"docker://{info.mirror.registry}/{repo}",
        )
    except Exception:  # noqa: BLE001 - skopeo fails on a repository that does not exist
        return []
    return list(json.loads(out)["Tags"])


def test_broken_catalogs_refused_before_anything_is_mirrored(sandbox: Any, tmp_path: Path) -> None:
    plan, state = lab_plan(sandbox, tmp_path), tmp_path / "state"
    P = ("--plan", str(plan))
    heads = run_cli(
        "catalog",
        "mirror",
        *P,
        "--index",
        sandbox.operator_index_variants["heads"],
        "--package",
        "cluster-logging",
        "--channel",
        "cluster-logging=stable-5.9",
        state=state,
    )
    assert heads.returncode == 3, heads.stdout + heads.stderr
    assert (
        "the filtered catalog is not valid, nothing was mirrored: package 'cluster-logging', channel "
        "'stable-5.9': multiple channel heads found in graph: cluster-logging.v5.8.0, cluster-logging.v5.9.1"
    ) in heads.stderr
    deps = run_cli(
        "catalog",
        "mirror",
        *P,
        "--index",
        sandbox.operator_index_variants["deps"],
        "--package",
        "cluster-logging",
        "--channel",
        "cluster-logging=stable-5.9",
        state=state,
    )
    assert deps.returncode == 3, deps.stdout + deps.stderr
    assert "missing dependency: package 'loki-operator' >=5.9.0 <6.0.0 is not in the catalog" in deps.stderr
    assert "fix: " in deps.stderr
    assert _tags(sandbox, "olm/redhat/redhat-operator-index") == []
    assert _tags(sandbox, "olm/sandbox-operators/cluster-logging-operator-bundle") == []
    # an unknown channel is bad input
    bad = run_cli(
        "catalog",
        "mirror",
        *P,
        "--package",
        "cluster-logging",
        "--channel",
        "cluster-logging=fast",
        "--dry-run",
        state=state,
    )
    assert bad.returncode == 2 and "has no channel 'fast'" in bad.stderr, bad.stderr


def test_marketplace_resets_an_edited_default_source_and_catalog_set_refuses_it(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1)
    cluster = admin(info)
    default = cluster.get(CATALOG_SOURCE, "redhat-operators", NS)["spec"]["image"]
    assert default.startswith("registry.redhat.io/redhat/redhat-operator-index:v4.16")
    cluster.merge_patch(
        CATALOG_SOURCE,
        "redhat-operators",
        {"spec": {"image": f"{info.mirror.registry}/x@sha256:" + "0" * 64}},
        NS,
    )
    wait_until(
        lambda: cluster.get(CATALOG_SOURCE, "redhat-operators", NS)["spec"]["image"] == default,
        20,
        what="the marketplace operator to reset redhat-operators",
    )
    plan, state = lab_plan(info, tmp_path), tmp_path / "state"
    res = run_cli(
        "catalog",
        "set",
        "--plan",
        str(plan),
        "redhat-operators",
        f"{info.mirror.registry}/x@sha256:" + "1" * 64,
        "--yes",
        state=state,
    )
    assert res.returncode == 3 and "managed by the marketplace operator" in res.stderr, res.stderr
    # deleting it does not help either: it comes back
    cluster.delete(CATALOG_SOURCE, "redhat-operators", NS)
    wait_until(
        lambda: cluster.get_or_none(CATALOG_SOURCE, "redhat-operators", NS) is not None,
        20,
        what="redhat-operators to be recreated",
    )


def test_operator_blocks_then_updated_through_mirrored_catalog_then_minor_update(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=6, size_mb=2, profile="operators")
    cluster = admin(info)
    plan, state = lab_plan(info, tmp_path), tmp_path / "state"
    P = ("--plan", str(plan))

    # --- the lab's OLM blocks the next minor with OLM's own words
    wait_until(lambda: _olm_upgradeable(info).get("status") == "False", 20, what="OLM Upgradeable=False")
    cond = _olm_upgradeable(info)
    assert cond["reason"] == "IncompatibleOperatorsInstalled"
    assert cond["message"] == (
        "ClusterServiceVersions blocking cluster upgrade: openshift-logging/cluster-logging.v5.8.1 is incompatible "
        "with OpenShift minor versions greater than 4.16"
    )

    # --- what is installed, and what to update to
    res = run_cli("catalog", "operators", *P, "--json", state=state)
    assert res.returncode == 3, res.stdout + res.stderr
    data = json_events(res.stdout)[-1]["data"]
    assert data["blocking"] == ["cluster-logging"]
    logging = next(o for o in data["operators"] if o["package"] == "cluster-logging")
    assert logging["update_to"] == {
        "channel": "stable-5.9",
        "version": "5.9.1",
        "bundle": "cluster-logging.v5.9.1",
    }

    # --- preflight names it, with the channel to update through; the update step refuses
    check = _preflight_check(plan, "Installed operators")
    assert check.status == CheckStatus.FAIL
    assert "openshift-logging/cluster-logging (cluster-logging 5.8.1)" in check.detail
    assert "olm.maxOpenShiftVersion 4.16, below 4.17" in check.detail
    assert "update cluster-logging to 5.9.1 in channel stable-5.9 first" in check.fix

    # --- mirror (dry run writes nothing), then for real
    dry = run_cli("catalog", "mirror", *P, "--dry-run", "--json", state=state)
    _ok(dry, "catalog mirror --dry-run")
    assert _tags(info, "olm/redhat/redhat-operator-index") == []
    res = run_cli("catalog", "mirror", *P, "--json", state=state, timeout=300)
    _ok(res, "catalog mirror")
    result = json_events(res.stdout)[-1]["data"]
    assert [p["package"] for p in result["packages"]] == [
        "cluster-logging",
        "loki-operator",
        "openshift-pipelines-operator-rh",
    ]
    assert set(result["sizes"]) == {
        "(index)",
        "cluster-logging",
        "loki-operator",
        "openshift-pipelines-operator-rh",
    }
    assert all(n > 0 for n in result["sizes"].values())
    assert result["verified"] is True
    assert any("pipelines-console-plugin-rhel9" in e["source"] for e in result["itms"])
    assert _tags(info, "olm/redhat/redhat-operator-index") == ["v4.17"]
    # a second run copies nothing (resume)
    again = json_events(_ok(run_cli("catalog", "mirror", *P, "--json", state=state), "mirror again"))[-1][
        "data"
    ]
    assert again["images_copied"] == 0 and again["filtered_digest"] == result["filtered_digest"]

    # --- point the cluster at it
    res = run_cli("catalog", "apply", *P, "--yes", "--interval", "0.1", "--timeout", "90", state=state)
    out = _ok(res, "catalog apply")
    assert 'patch operatorhub cluster --type merge -p \'{"spec":{"disableAllDefaultSources":true}}\'' in out
    cs = cluster.get(CATALOG_SOURCE, "redhat-operators", NS)
    assert cs["spec"]["image"] == result["mirrored_index"]
    assert "operatorframework.io/managed-by" not in (cs["metadata"].get("annotations") or {})
    assert cluster.get(OPERATORHUB, "cluster")["spec"]["disableAllDefaultSources"] is True
    assert cluster.get_or_none(CATALOG_SOURCE, "certified-operators", NS) is None
    assert cluster.get_or_none(IDMS, "ocp-airgap-operators") is not None
    assert cluster.get_or_none(ITMS, "ocp-airgap-operators") is not None

    # --- the operator is updated through the mirrored catalog
    out = _ok(
        run_cli(
            "catalog",
            "channel",
            *P,
            "openshift-logging/cluster-logging",
            "stable-5.9",
            "--yes",
            "--interval",
            "0.1",
            "--timeout",
            "120",
            state=state,
        ),
        "catalog channel",
    )
    assert "cluster-logging.v5.9.1 installed" in out
    wait_until(lambda: _olm_upgradeable(info).get("status") == "True", 20, what="OLM Upgradeable=True")
    assert _preflight_check(plan, "Installed operators").status == CheckStatus.PASS

    # --- the minor update now passes headless
    relax_drain_blocker(cluster)
    _ok(run_cli("credentials", "merge", *P, "--update-cluster", "--yes", state=state), "credentials")
    _ok(run_cli("credentials", "trust-ca", *P, "--cluster-only", "--yes", state=state), "trust-ca")
    _ok(run_cli("mirror", *P, state=state, timeout=600), "mirror")
    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    _ok(
        run_cli("fix", "apply", "cloudcredential/upgradeable-to", *P, "--yes", "--acknowledge", state=state),
        "cco",
    )
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    out = _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    assert "installed operators compatible" in out
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "240", "--json", state=state)
    _ok(res, "upgrade watch")
    head = cluster.cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", "4.17.3")

    # --- revert undoes the catalog changes; the marketplace brings its default source back
    out = _ok(run_cli("catalog", "revert", *P, "--yes", state=state), "catalog revert")
    assert cluster.get(OPERATORHUB, "cluster")["spec"]["disableAllDefaultSources"] is False
    assert cluster.get_or_none(IDMS, "ocp-airgap-operators") is None
    wait_until(
        lambda: (
            (c := cluster.get_or_none(CATALOG_SOURCE, "redhat-operators", NS)) is not None
            and c["spec"]["image"].startswith("registry.redhat.io/")
        ),
        20,
        what="the default redhat-operators",
    )


def test_update_step_refuses_while_an_operator_blocks_unless_accepted(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1, profile="operators")
    plan, state = lab_plan(info, tmp_path), tmp_path / "state"
    P = ("--plan", str(plan))
    res = run_cli("upgrade", "start", *P, "--yes", state=state)
    assert res.returncode == 3, res.stdout + res.stderr
    assert (
        "installed operators compatible: openshift-logging/cluster-logging: its CSV cluster-logging.v5.8.1 "
        "declares olm.maxOpenShiftVersion 4.16, below 4.17"
    ) in res.stdout + res.stderr
    _ok(
        run_cli("catalog", "accept-blocking", *P, "--reason", "vendor says it works", "--yes", state=state),
        "accept",
    )
    res = run_cli("upgrade", "start", *P, "--yes", "--dry-run", state=state)
    assert "cluster-logging.v5.8.1 block 4.17.3, accepted by the admin's journaled decision" in res.stdout, (
        res.stdout + res.stderr
    )


def test_olm_v1_cluster_catalog_on_4_18(sandbox_factory: Any, tmp_path: Path) -> None:
    """On 4.18 the mirrored index is also given to OLM v1 as a ClusterCatalog (by digest), which the lab's
    catalogd serves once it can pull it; revert deletes it."""
    info = sandbox_factory(versions=("4.18.1", "4.18.5"), components=4, size_mb=1)
    cluster = admin(info)
    plan, state = lab_plan(info, tmp_path), tmp_path / "state"
    P = ("--plan", str(plan))
    result = json_events(_ok(run_cli("catalog", "mirror", *P, "--json", state=state, timeout=300), "mirror"))[
        -1
    ]
    image = result["data"]["mirrored_index"]
    assert image.endswith(result["data"]["filtered_digest"]) and "/olm/redhat/redhat-operator-index@" in image
    out = _ok(
        run_cli("catalog", "apply", *P, "--yes", "--interval", "0.1", "--timeout", "90", state=state), "apply"
    )
    assert "Create ClusterCatalog ocp-airgap-operators (OLM v1)" in out
    cc = cluster.get(CLUSTER_CATALOG, "ocp-airgap-operators")
    assert cc["spec"]["source"] == {"type": "Image", "image": {"ref": image}}
    serving = {c["type"]: c for c in cc["status"]["conditions"]}["Serving"]
    assert (serving["status"], serving["reason"]) == ("True", "Available")
    _ok(run_cli("catalog", "revert", *P, "--yes", state=state), "revert")
    assert cluster.get_or_none(CLUSTER_CATALOG, "ocp-airgap-operators") is None


def test_minor_update_through_media_with_the_catalog(sandbox_factory: Any, tmp_path: Path) -> None:
    """The whole air gap, headless: the connected host writes the release and the filtered catalog onto one media
    folder (the plan's mirroring.mode decides where); the disconnected host — its own plan, state and records —
    uploads both, its preflight fails naming the blocking operator and the version to update it to, the catalog
    is applied and the operator moved from that host's own record, preflight passes, and the minor update
    completes with the MachineHealthChecks paused and resumed."""
    info = sandbox_factory(versions=VERSIONS, components=4, size_mb=1, profile="operators")
    cluster = admin(info)
    media = tmp_path / "usb"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    near, far = tmp_path / "near-host", tmp_path / "far-host"  # each host's own records
    C, D = ("--plan", str(connected)), ("--plan", str(disconnected))

    # --- connected side: release and catalog onto the media
    _ok(run_cli("mirror", *C, state=near, timeout=600), "release to media")
    # this host does not reach the cluster: the admin names the package from the version installed (as 'catalog
    # operators' shows it on the disconnected side), its channel and the one to update through
    res = run_cli("catalog", "mirror", *C, "--json", state=near, timeout=300)
    assert res.returncode == 2 and "Give the packages to mirror with --package NAME" in res.stderr, res.stderr
    pick = ["--package", "cluster-logging>=5.8.1", "--channel", "cluster-logging=stable-5.8"]
    pick += ["--channel", "cluster-logging=stable-5.9"]
    res = run_cli("catalog", "mirror", *C, *pick, "--json", state=near, timeout=300)
    written = json_events(_ok(res, "catalog to media"))[-1]["data"]
    assert written["mode"] == "to-media" and written["target"] == f"file://{media / 'catalog'}"
    assert (media / "catalog" / "ocp-airgap" / "catalog.json").is_file()
    assert (media / "mirror" / "v2").is_dir()
    assert _tags(info, "olm/redhat/redhat-operator-index") == []  # nothing reached the mirror registry

    # --- disconnected side: uploads both
    _ok(run_cli("mirror", *D, state=far, timeout=600), "release from media")
    res = run_cli("catalog", "mirror", *D, "--json", state=far, timeout=300)
    uploaded = json_events(_ok(res, "catalog from media"))[-1]["data"]
    assert uploaded["mode"] == "from-media" and uploaded["verified"] is True
    assert uploaded["filtered_digest"] == written["filtered_digest"]
    assert _tags(info, "olm/redhat/redhat-operator-index") == ["v4.17"]
    # damaged media is refused (after the upload here, so the rest goes on)
    blob = next(
        p for p in (media / "catalog" / "v2").rglob("sha256:*") if p.is_file() and p.stat().st_size > 1000
    )
    blob.write_bytes(b"x" + blob.read_bytes()[1:])
    bad = run_cli("catalog", "mirror", *D, state=far)
    assert bad.returncode == 2 and "is damaged" in bad.stderr, bad.stderr

    # --- its preflight fails, naming the operator and what to update it to (from the catalog on the media)
    res = run_cli("preflight", *D, "--etcd-backup-at", "now", state=far)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "Installed operators" in res.stdout
    assert "openshift-logging/cluster-logging (cluster-logging 5.8.1)" in res.stdout, res.stdout
    assert "update cluster-logging to 5.9.1 in channel stable-5.9 first" in res.stdout, res.stdout
    _ok(run_cli("signature", "apply", *D, "--yes", state=far), "signature apply")
    _ok(
        run_cli("fix", "apply", "cloudcredential/upgradeable-to", *D, "--yes", "--acknowledge", state=far),
        "cco",
    )
    relax_drain_blocker(cluster)
    _ok(run_cli("mhc", "pause", *D, "--yes", state=far), "mhc pause")
    refused = run_cli("upgrade", "start", *D, "--yes", state=far)
    assert refused.returncode == 3 and "cluster-logging.v5.8.1" in refused.stdout + refused.stderr, (
        refused.stdout
    )

    # --- the catalog applied and the operator moved, from this host's record of the upload
    out = _ok(
        run_cli("catalog", "apply", *D, "--yes", "--interval", "0.1", "--timeout", "90", state=far), "apply"
    )
    assert uploaded["mirrored_index"] in out
    out = _ok(
        run_cli(
            "catalog",
            "channel",
            *D,
            "openshift-logging/cluster-logging",
            "stable-5.9",
            "--yes",
            "--interval",
            "0.1",
            "--timeout",
            "120",
            state=far,
        ),
        "channel",
    )
    assert "cluster-logging.v5.9.1 installed" in out
    wait_until(lambda: _olm_upgradeable(info).get("status") == "True", 20, what="OLM Upgradeable=True")
    subs = {s["metadata"]["name"]: s["status"]["installedCSV"] for s in cluster.list(SUBSCRIPTION)}
    assert subs["cluster-logging"] == "cluster-logging.v5.9.1"
    # its dependency came from the mirrored catalog too (OLM resolved it there)
    assert subs["loki-operator-stable-5.9-redhat-operators-openshift-marketplace"] == "loki-operator.v5.9.1"
    res = run_cli("preflight", *D, "--etcd-backup-at", "now", "--json", state=far)
    checks = {c["name"]: c for c in json_events(res.stdout)[-1]["data"]["checks"]}
    assert checks["Installed operators"]["status"] == "pass", checks["Installed operators"]

    # --- the minor update
    out = _ok(run_cli("upgrade", "start", *D, "--yes", state=far), "upgrade start")
    assert "installed operators compatible" in out
    _ok(run_cli("upgrade", "watch", *D, "--interval", "0.1", "--timeout", "240", state=far), "watch")
    _ok(run_cli("mhc", "resume", *D, "--yes", state=far), "mhc resume")
    head = cluster.cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", VERSIONS[1])
    paused = [
        m["metadata"]["name"]
        for m in cluster.list(MHC, "openshift-machine-api")
        if "cluster.x-k8s.io/paused" in (m["metadata"].get("annotations") or {})
    ]
    assert "worker-mhc" not in paused, paused
