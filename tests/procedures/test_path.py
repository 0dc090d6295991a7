"""The whole update path in one trip across the air gap, on the lab's ``eus`` profile (4.16.20 → 4.17.5 →
4.18.2, eus-4.18 channel, a conditional edge 4.17.3 → 4.18.2 the path avoids).

The connected side stores the path (``release --write-plan``) and writes every release of it onto one medium in
one run; the disconnected side — a fresh state of its own — uploads them all in one run and updates hop by hop,
headless, in the EUS-to-EUS control-plane-only mode: a gate (the CloudCredential ``upgradeable-to``
annotation) stops it with exit 4 and the reason, the rerun continues at the right hop; MachineHealthChecks are
paused once and resumed once; every worker reboots once (counted from the kubelet's ``Rebooted`` events)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from engine.cluster import CLOUD_CREDENTIAL, CONFIGMAP, MCP, Resource
from engine.journal import Journal
from engine.plan import Plan
from engine.workflow import path_run
from tests.helpers import wait_until
from tests.procedures.test_handoff import _ok, _side
from tests.procedures.test_upgrade import admin, cv_condition, json_events, relax_drain_blocker, run_cli

CURRENT, MIDDLE, TARGET = "4.16.20", "4.17.5", "4.18.2"
EVENT = Resource("", "v1", "events", "Event", True, "event")


def _reboots(info: Any) -> Counter[str]:
    """Reboots per node, from the kubelet's ``Rebooted`` events about each Node."""
    events = admin(info).list(EVENT, "default")
    return Counter(
        str(e["involvedObject"]["name"])
        for e in events
        if e.get("reason") == "Rebooted" and e["involvedObject"].get("kind") == "Node"
    )


def _roles(info: Any) -> dict[str, str]:
    from engine.cluster import NODE

    return {
        n["metadata"]["name"]: "master"
        if "node-role.kubernetes.io/master" in n["metadata"]["labels"]
        else "worker"
        for n in admin(info).list(NODE)
    }


def test_release_step_stores_the_path_with_digests_and_channels(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(profile="eus", components=4, size_mb=1, api=False)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    plan = _side(info, tmp_path, "connected", "to-media", media)
    doc = yaml.safe_load(plan.read_text())
    doc["release"]["channel"] = "eus-4.18"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = _ok(
        run_cli("release", "--plan", str(plan), "--current", CURRENT, "--write-plan", state=state), "release"
    )
    stored = Plan.load(plan)
    assert stored.release.target == TARGET
    assert stored.path_versions == [MIDDLE, TARGET], out
    assert [h["digest"] for h in stored.release.path] == [info.release(v).digest for v in (MIDDLE, TARGET)]
    assert {h["channel"] for h in stored.release.path} == {"eus-4.18"}
    assert all(h["risks"] == [] for h in stored.release.path), "the recommended path avoids 4.17.3"
    # a dry run reports the size per hop and in all, and writes nothing
    res = run_cli("mirror", "--plan", str(plan), "--dry-run", "--json", state=state)
    _ok(res, "mirror --dry-run")
    data = json_events(res.stdout)[-1]["data"]
    assert [h["version"] for h in data["hops"]] == [MIDDLE, TARGET] and data["dry_run"]
    assert all(h["bytes_needed"] > 0 for h in data["hops"])
    assert "dry run of the path" in res.stdout and "in all at most" in res.stdout
    assert not media.exists(), "a dry run writes nothing"
    # a damaged path is refused with its line and column
    text = plan.read_text().replace(info.release(MIDDLE).digest, "sha256:broken")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    res = run_cli("status", "--plan", str(bad), "--offline", state=state)
    assert res.returncode == 2
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "sha256:broken" in t)
    assert (
        f"bad.yaml:{line}:" in res.stderr + res.stdout and "release.path[0].digest" in res.stderr + res.stdout
    )


def test_three_minors_in_one_media_trip_control_plane_only(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(profile="eus", components=6, size_mb=2)
    assert info.current_version == CURRENT
    media, state = tmp_path / "usb", tmp_path / "xdg"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    C, D = ("--plan", str(connected)), ("--plan", str(disconnected))
    for p in (connected, disconnected):
        doc = yaml.safe_load(p.read_text())
        doc["release"]["channel"] = "eus-4.18"
        doc["release"]["version"] = TARGET
        doc["release"]["digest"] = ""
        p.write_text(yaml.safe_dump(doc, sort_keys=False))

    # connected side: the path, then every release on it onto one medium, in one run
    _ok(run_cli("release", *C, "--current", CURRENT, "--write-plan", state=state), "release")
    res = run_cli("mirror", *C, "--json", state=state, timeout=900)
    _ok(res, "mirror to media")
    result = json_events(res.stdout)[-1]["data"]
    assert result["path"] == [MIDDLE, TARGET]
    assert result["stored_bytes"] < result["separate_bytes"], result
    assert result["saved_bytes"] > 0
    for v in (MIDDLE, TARGET):
        hexd = info.release(v).digest.split(":", 1)[1][:16]
        assert list((media / "mirror" / "config").glob(f"signature-sha256-{hexd}*")), f"no signature of {v}"

    # disconnected side: the plan the media carries holds the path; one upload of everything
    doc = yaml.safe_load(disconnected.read_text())
    doc["release"] = yaml.safe_load(connected.read_text())["release"]
    disconnected.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = run_cli("mirror", *D, "--json", state=state, timeout=900)
    _ok(res, "mirror from media")
    assert json_events(res.stdout)[-1]["data"]["path"] == [MIDDLE, TARGET]

    cluster = admin(info)
    relax_drain_blocker(cluster)
    before = _reboots(info)
    assert not before, "no node rebooted yet"

    # first run: signatures, MHC pause, worker pools paused; then the gate of the minor update stops it
    res = run_cli(
        "upgrade", "run-path", *D, "--control-plane-only", "--yes", "--interval", "0.1", state=state
    )
    assert res.returncode == 4, res.stdout + res.stderr
    assert (
        "upgradeable-to" in res.stdout + res.stderr
        and "run the same command again" in res.stdout + res.stderr
    )
    pools = {p["metadata"]["name"]: p["spec"].get("paused") for p in cluster.list(MCP)}
    assert pools == {"master": False, "worker": True}, pools

    # the admin updates the credentials for 4.18 and marks it
    cluster.merge_patch(
        CLOUD_CREDENTIAL,
        "cluster",
        {"metadata": {"annotations": {"cloudcredential.openshift.io/upgradeable-to": TARGET}}},
    )
    wait_until(lambda: cv_condition(cluster, "Upgradeable").get("status") != "False", timeout=30)
    # interrupted mid-hop (the watch gives up after 3 s): exit 4, the journal keeps the path run open
    res = run_cli("upgrade", "run-path", *D, "--yes", "--interval", "0.1", "--timeout", "3", state=state)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "is not complete yet" in res.stdout + res.stderr
    status = run_cli("status", *D, "--offline", state=state).stdout
    assert f"update path: path {MIDDLE} -> {TARGET}: 0 of 2 done, now {MIDDLE}" in status, status
    assert "worker MachineConfigPools paused by ocp-airgap" in status, status
    # the rerun (without the flag: the run began in control-plane-only mode and keeps it) follows that hop on
    res = run_cli(
        "upgrade", "run-path", *D, "--yes", "--interval", "0.1", "--timeout", "600", state=state, timeout=900
    )
    # 4.17 ships an admin gate: the run stops before hop 2 with the gate's text and the command to ack it
    assert res.returncode == 4, res.stdout + res.stderr
    first = res.stdout + res.stderr
    assert f"hop 2 of 2 ({MIDDLE} -> {TARGET}) cannot start" in first, first[-3000:]
    assert "ack-4.17-kube-1.31-api-removals-in-4.18" in first and "remove several APIs" in first
    assert "oc -n openshift-config patch cm admin-acks" in first
    assert cluster.cluster_version()["status"]["history"][0]["version"] == MIDDLE
    status = run_cli("status", *D, "--offline", state=state).stdout
    assert "1 of 2 done; waiting for the admin" in status, status
    cluster.merge_patch(
        CONFIGMAP,
        "admin-acks",
        {"data": {"ack-4.17-kube-1.31-api-removals-in-4.18": "true"}},
        "openshift-config",
    )
    wait_until(lambda: cv_condition(cluster, "Upgradeable").get("status") != "False", timeout=30)
    res = run_cli(
        "upgrade", "run-path", *D, "--yes", "--interval", "0.1", "--timeout", "600", state=state, timeout=900
    )
    out = first + _ok(res, "run-path")
    cv = cluster.cluster_version()
    history = [(h["version"], h["state"]) for h in cv["status"]["history"]]
    assert history[:3] == [(TARGET, "Completed"), (MIDDLE, "Completed"), (CURRENT, "Completed")], history
    assert cv["spec"]["channel"] == "eus-4.18"
    pools = {p["metadata"]["name"]: p["spec"].get("paused") for p in cluster.list(MCP)}
    assert pools == {"master": False, "worker": False}, "the worker pool is unpaused at the end"

    # one reboot per worker (straight into 4.18), one per master and hop
    reboots = _reboots(info)
    roles = _roles(info)
    workers = [n for n, r in roles.items() if r == "worker"]
    masters = [n for n, r in roles.items() if r == "master"]
    assert workers and all(reboots[n] == 1 for n in workers), (reboots, out[-3000:])
    assert all(reboots[n] == 2 for n in masters), reboots

    assert "This path run began in control-plane-only mode" in out
    # the rerun continued where the cluster was (following hop 1, or hop 2 when hop 1 finished meanwhile):
    # each hop was requested exactly once
    assert (
        f"Hop 1 of 2 to {MIDDLE} is in progress: following it." in out
        or f"hop 2 of 2 (next: {TARGET})" in out
    )
    # MHCs paused once and resumed once for the whole path
    journal = Journal(tmp_path / "disconnected" / "state" / "disconnected" / "journal.json")
    requested = [
        r.data.get("image")
        for r in journal.records
        if r.kind == "change" and r.data.get("action") == "update"
    ]
    assert [str(i).rsplit("@", 1)[1] for i in requested] == [info.release(v).digest for v in (MIDDLE, TARGET)]
    mhc = [r.data.get("action") for r in journal.records if r.step == "mhc" and r.kind == "step-finished"]
    assert mhc == ["pause", "resume"], mhc
    steps = {
        s["step"]: s
        for s in json_events(run_cli("status", *D, "--offline", "--json", state=state).stdout)[-1]["data"][
            "steps"
        ]
    }
    assert steps["upgrade"]["status"] == "succeeded" and TARGET in steps["upgrade"]["summary"]


async def test_the_wizard_mirrors_the_whole_path_to_the_media(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The wizard's mirror step calls the same use case as the CLI: every release of the path, in one run."""
    from tests.procedures.test_handoff import _wizard
    from tests.tui.test_wizard_sandbox import act

    info = sandbox_factory(profile="eus", components=4, size_mb=1, api=False)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    plan = _side(info, tmp_path, "connected", "to-media", media)
    doc = yaml.safe_load(plan.read_text())
    doc["release"].update({"channel": "eus-4.18", "version": TARGET, "digest": ""})
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    _ok(run_cli("release", "--plan", str(plan), "--current", CURRENT, "--write-plan", state=state), "release")
    app = _wizard(plan, monkeypatch, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = await act(pilot, app, "r", limit=300)
        assert app.recorded_status("mirror") == "succeeded", text
        assert f"Path {MIDDLE} -> {TARGET}: 2 releases" in text, text
    tags = {p.name for p in (media / "mirror" / "v2" / "openshift" / "release" / "manifests").iterdir()}
    assert {f"{MIDDLE}-x86_64", f"{TARGET}-x86_64"} <= tags


async def test_the_wizard_updates_along_the_whole_path(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """At 80x24, the Update step of a plan that holds a path runs it hop by hop, each change confirmed in the
    modal (the earlier steps done headless, on the same journal)."""
    from tests.tui.conftest import FIXED_NOW
    from tests.tui.test_wizard_sandbox import act
    from tui.app import WizardApp, open_journal

    info = sandbox_factory(profile="eus", components=6, size_mb=2)
    state = tmp_path / "xdg"
    plan_path, cluster = _path_prepared_headless(info, tmp_path, state)
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(state))
    plan = Plan.load(plan_path)
    app = WizardApp(
        plan, journal=open_journal(plan), clock=lambda: FIXED_NOW, operator="oncall@bastion", cursor_blink=False,
        output_dir=tmp_path, watch_interval=0.1, rollout_settle=5.0, start_step="upgrade",
    )  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = await act(pilot, app, "r", limit=600)
        assert (
            "complete: the cluster is at 4.18.2" in text or app.recorded_status("upgrade") == "succeeded"
        ), text
    history = [(h["version"], h["state"]) for h in cluster.cluster_version()["status"]["history"]]
    assert history[:3] == [(TARGET, "Completed"), (MIDDLE, "Completed"), (CURRENT, "Completed")], history
    journal = Journal(tmp_path / "state" / "direct" / "journal.json")
    wf_run = path_run(journal.records, "upgrade")
    assert wf_run is not None
    assert wf_run["status"] == "succeeded" and wf_run["done"] == [MIDDLE, TARGET]
    mhc = [r.data.get("action") for r in journal.records if r.step == "mhc" and r.kind == "step-finished"]
    assert mhc == ["pause", "resume"], mhc


def _path_prepared_headless(info: Any, tmp_path: Path, state: Path) -> tuple[Path, Any]:
    """A direct-mode plan with the path stored, mirrored, its mirror config, the target's signature and the MHC
    pause done headless; the admin's gates (credentials annotation, admin-ack) handled up front."""
    doc = yaml.safe_load(Path(info.plan).read_text())
    doc["release"].update({"channel": "eus-4.18", "version": TARGET, "digest": ""})
    doc["state_dir"] = "state"
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    P = ("--plan", str(plan_path))
    _ok(run_cli("release", *P, "--write-plan", state=state), "release")
    _ok(run_cli("mirror", *P, state=state, timeout=900), "mirror")
    _ok(run_cli("mirror-config", "apply", *P, "--yes", state=state, timeout=600), "mirror-config")
    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature")
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    cluster = gates_handled(info)
    return plan_path, cluster


def gates_handled(info: Any) -> Any:
    """What the admin does about the path's gates before the update, through the API: the drain blocker relaxed,
    the manual cloud credentials marked ready for 4.18, the 4.17 admin-ack given. Returns the admin client."""
    cluster = admin(info)
    relax_drain_blocker(cluster)
    cluster.merge_patch(
        CLOUD_CREDENTIAL,
        "cluster",
        {"metadata": {"annotations": {"cloudcredential.openshift.io/upgradeable-to": TARGET}}},
    )
    wait_until(lambda: cluster.get_or_none(CONFIGMAP, "admin-acks", "openshift-config"), timeout=30)
    cluster.merge_patch(
        CONFIGMAP,
        "admin-acks",
        {"data": {"ack-4.17-kube-1.31-api-removals-in-4.18": "true"}},
        "openshift-config",
    )
    wait_until(lambda: cv_condition(cluster, "Upgradeable").get("status") != "False", timeout=30)
    return cluster
