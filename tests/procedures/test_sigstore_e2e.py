"""OpenShift 4.20 → 4.21 with Sigstore, headless, on the lab profile ``ocp-4.20-to-4.21``.

The lab's cluster has the ``openshift`` ClusterImagePolicy (the lab's cosign key), the MCO's
``ack-4.20-sigstore-in-4.21`` admin gate appears once mirror configuration exists, and the simulated node
refuses a release pulled through a mirror without a valid ``sha256-<hex>.sig`` there (the version pod pending
with ``SignatureValidationFailed``). Every release in the upstream registry carries a cosign signature image made
by the lab with its own ECDSA key (sandbox/cosign.py); the engine verifies it with its own code.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from engine.cluster import CLUSTER_VERSION, CONFIGMAP, POD
from engine.mirror.media import CHECKSUMS_JSON
from tests.helpers import wait_until
from tests.procedures.test_upgrade import admin, cv_condition, json_events, relax_drain_blocker, run_cli

PROFILE = "ocp-4.20-to-4.21"
GATE = "ack-4.20-sigstore-in-4.21"


def _ok(res: Any, step: str) -> str:
    assert res.returncode == 0, (
        f"{step} failed ({res.returncode}):\n{res.stdout[-5000:]}\n{res.stderr[-2000:]}"
    )
    return str(res.stdout)


def _plan(info: Any, tmp_path: Path, **release: Any) -> Path:
    doc = yaml.safe_load(Path(info.plan).read_text())
    doc["release"]["version"] = info.target_version
    doc["release"].update(release)
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    return plan


def _checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in json_events(stdout) if e.get("kind") == "CheckResult"}


def _common_prep(info: Any, plan: Path, state: Path) -> tuple[str, ...]:
    P = ("--plan", str(plan))
    _ok(run_cli("release", *P, "--write-plan", state=state), "release")
    relax_drain_blocker(admin(info))
    _ok(run_cli("credentials", "merge", *P, "--update-cluster", "--yes", state=state), "creds")
    _ok(run_cli("credentials", "trust-ca", *P, "--cluster-only", "--yes", state=state), "ca")
    return P


def _gate_present(info: Any) -> bool:
    cm = admin(info).get(CONFIGMAP, "admin-gates", "openshift-config-managed")
    return GATE in (cm.get("data") or {})


def test_headless_420_to_421_with_sigstore(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(profile=PROFILE, components=6, size_mb=2)
    assert (info.current_version, info.target_version) == ("4.20.8", "4.21.3")
    state = tmp_path / "state"
    plan = _plan(info, tmp_path)
    P = _common_prep(info, plan, state)

    # the release step stored the path 4.20.8 -> 4.20.12 -> 4.21.3; this test is about the target alone
    out = _ok(run_cli("mirror", *P, "--hop-only", "--json", state=state, timeout=600), "mirror")
    result = json_events(out)[-1]["data"]
    sig_tag = "sha256-" + info.release("4.21.3").digest.split(":", 1)[1] + ".sig"
    assert result["sigstore"]["tag"] == sig_tag and not result["sigstore"]["problems"]
    assert result["images_total"] == 6 + 2  # components, release, its Sigstore signature
    assert any(
        e.get("kind") == "Command"
        and e["argv"][:3] == ["oc", "image", "mirror"]
        and sig_tag in " ".join(e["argv"])
        for e in json_events(out)
    ), "the equivalent oc command for the signature tag is shown"
    out = _ok(run_cli("mirror", "verify", *P, state=state), "mirror verify")
    assert "Sigstore signature image present" in out

    # the mirror set makes the MCO add the Sigstore gate; the CVO reports it as Upgradeable=False
    _ok(run_cli("mirror-config", "apply", *P, "--yes", "--no-watch", state=state), "mirror-config apply")
    wait_until(lambda: _gate_present(info), timeout=30, what="the MCO's admin gate")
    wait_until(
        lambda: (
            cv_condition(admin(info), "Upgradeable").get("reason") in ("AdminAckRequired", "MultipleReasons")
        ),
        timeout=30,
        what="Upgradeable=False from the admin gate",
    )

    res = run_cli("preflight", *P, "--etcd-backup-at", "now", "--json", state=state)
    checks = _checks(res.stdout)
    sig = checks["Sigstore signature"]
    assert sig["status"] == "pass", sig
    assert sig_tag in sig["detail"] and "ClusterImagePolicy/openshift" in sig["detail"]
    assert "identity " + info.upstream.release_repository in sig["detail"]
    gate = checks["Admin-ack gates"]
    assert (
        gate["status"] == "fail"
        and GATE in gate["detail"]
        and "4.21 will require Sigstore signatures" in gate["detail"]
    )
    assert f"fix apply adminack/{GATE} --acknowledge" in gate["fix"]

    # the fixes: the gate needs the admin's statement (exit 3 without it), then it is set and journaled
    res = run_cli("fix", "apply", f"adminack/{GATE}", *P, "--yes", state=state)
    assert res.returncode == 3, res.stdout + res.stderr
    _ok(run_cli("fix", "apply", f"adminack/{GATE}", *P, "--yes", "--acknowledge", state=state), "ack")
    acks = admin(info).get(CONFIGMAP, "admin-acks", "openshift-config")
    assert acks["data"][GATE] == "true"
    _ok(
        run_cli("fix", "apply", "cloudcredential/upgradeable-to", *P, "--yes", "--acknowledge", state=state),
        "cco",
    )
    wait_until(
        lambda: cv_condition(admin(info), "Upgradeable").get("status") != "False",
        timeout=30,
        what="Upgradeable no longer False",
    )
    decisions = json_events(run_cli("status", *P, "--json", state=state).stdout)[-1]["data"]["decisions"]
    assert any(d["key"] == f"admin-ack:{GATE}" for d in decisions)

    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    # 4.20.8 -> 4.21.3 is a conditional edge of the lab's graph (only the newest 4.20 has recommended ones): the
    # edge actually requested is judged, so its risk is accepted explicitly (journaled)
    _ok(run_cli("upgrade", "start", *P, "--yes", "--accept-not-recommended", state=state), "upgrade start")
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "240", "--json", state=state)
    _ok(res, "upgrade watch")
    head = admin(info).cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"], head["verified"]) == ("Completed", "4.21.3", True)


def test_withheld_signature_fails_early_and_the_node_refuses_it(sandbox_factory: Any, tmp_path: Path) -> None:
    """The upstream has no .sig for 4.21.3 (feature sigstore_unsigned): the mirror says so, preflight fails
    before anything is changed, and a cluster asked to pull it through the mirror anyway refuses it the way a
    real one does — which upgrade watch explains in plain words."""
    info = sandbox_factory(
        profile=PROFILE, components=6, size_mb=2, features={"sigstore_unsigned": ["4.21.3"]}
    )
    state = tmp_path / "state"
    plan = _plan(info, tmp_path)
    P = _common_prep(info, plan, state)
    out = _ok(run_cli("mirror", *P, state=state, timeout=600), "mirror")
    assert "has no Sigstore signature" in out
    res = run_cli("mirror", "verify", *P, state=state)
    assert res.returncode != 0 and "Sigstore signature image is missing" in res.stdout
    res = run_cli("preflight", *P, "--etcd-backup-at", "now", "--json", state=state)
    sig = _checks(res.stdout)["Sigstore signature"]
    assert sig["status"] == "fail" and "is missing" in sig["detail"] and "ocp-airgap mirror" in sig["fix"]
    assert res.returncode != 0

    # the cluster pulls the release by its upstream name through the mirror set (as an update from the update
    # service's availableUpdates does): the node runtime refuses it
    _ok(run_cli("mirror-config", "apply", *P, "--yes", "--no-watch", state=state), "mirror-config apply")
    _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")  # the OpenPGP one is fine
    digest = info.release("4.21.3").digest
    upstream_image = f"{info.upstream.release_repository}@{digest}"
    admin(info).merge_patch(
        CLUSTER_VERSION,
        "version",
        {"spec": {"desiredUpdate": {"image": upstream_image, "version": "", "force": False}}},
    )
    wait_until(
        lambda: (
            "SignatureValidationFailed" in cv_condition(admin(info), "ReleaseAccepted").get("message", "")
        ),
        timeout=60,
        what="ReleaseAccepted=False from the payload pod",
    )
    ra = cv_condition(admin(info), "ReleaseAccepted")
    assert ra["reason"] == "RetrievePayload"
    assert "A signature was required, but no signature exists" in ra["message"]
    pods = admin(info).list(
        POD, "openshift-cluster-version", label_selector="k8s-app=retrieve-openshift-release"
    )
    (pod,) = pods
    assert pod["metadata"]["name"].startswith("version--") and pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["initContainerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "SignatureValidationFailed"

    res = run_cli(
        "upgrade", "watch", *P, "--interval", "0.1", "--timeout", "20", "--fail-after", "1", state=state
    )
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "refuse to run the release image pulled from the mirror: its Sigstore signature" in out
    assert "ocp-airgap mirror --plan P" in out

    # the publisher's signature reaches the mirror (signed with the lab's key, pushed with skopeo): the CVO's
    # next attempt pulls the release, the pending pod is pruned, and the release is accepted
    from sandbox.cosign import add_signature_image, load_cosign_key
    from sandbox.releases import OciLayout

    layout = OciLayout(tmp_path / "oci-sig")
    tag = add_signature_image(
        layout,
        digest,
        info.upstream.release_repository,
        load_cosign_key(info.signing_key.sigstore_private_key),
    )
    layout.write_index()
    push = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-authfile",
            info.auth_file,
            "--dest-cert-dir",
            info.mirror.cert_dir,
            f"oci:{layout.root}:{tag}",
            f"docker://{info.mirror.registry}/{info.mirror.repository}:{tag}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert push.returncode == 0, push.stderr
    wait_until(
        lambda: (
            cv_condition(admin(info), "ReleaseAccepted").get("status") == "True"
            or "Precondition" in cv_condition(admin(info), "ReleaseAccepted").get("message", "")
        ),
        timeout=90,
        what="the release pulled once its signature is in the mirror",
    )
    assert not admin(info).list(
        POD, "openshift-cluster-version", label_selector="k8s-app=retrieve-openshift-release"
    )


def test_signature_through_removable_media(sandbox_factory: Any, tmp_path: Path) -> None:
    """to-media carries the .sig (in the checksum manifest); from-media on a fresh state uploads it and
    preflight verifies it in the mirror against the cluster's policy."""
    info = sandbox_factory(profile=PROFILE, components=6, size_mb=2)
    plan = _plan(info, tmp_path)
    media = tmp_path / "usb"
    near = tmp_path / "state-connected"
    _ok(run_cli("release", "--plan", str(plan), "--write-plan", state=near), "release")
    out = _ok(
        run_cli(
            "mirror",
            "--plan",
            str(plan),
            "--to-dir",
            str(media),
            "--hop-only",
            "--json",
            state=near,
            timeout=600,
        ),
        "to",
    )
    sig_tag = "sha256-" + info.release("4.21.3").digest.split(":", 1)[1] + ".sig"
    sums = json.loads((media / CHECKSUMS_JSON).read_text())
    written = json_events(out)[-1]["data"]["sigstore"]
    assert written["tag"] == sig_tag
    # the checksum manifest covers the signature: its tag link and the manifest it names (content-addressed)
    link = next(x for x in sums["symlinks"] if x["path"].endswith(f"/manifests/{sig_tag}"))
    assert link["target"].endswith(written["signature_manifest"])
    assert any(f["path"].endswith(f"/manifests/{written['signature_manifest']}") for f in sums["files"])

    far = tmp_path / "state-disconnected"
    far_plan = media / "ocp-airgap" / "plan.yaml"
    doc = yaml.safe_load(far_plan.read_text())
    doc["cluster"] = yaml.safe_load(plan.read_text())["cluster"]
    doc["mirror"] = yaml.safe_load(plan.read_text())["mirror"]
    doc["auth_file"] = yaml.safe_load(plan.read_text())["auth_file"]
    p2 = tmp_path / "far-plan.yaml"
    p2.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = _ok(
        run_cli("mirror", "--plan", str(p2), "--from-dir", str(media), "--hop-only", state=far, timeout=600),
        "from",
    )
    assert sig_tag in out
    out = _ok(run_cli("mirror", "verify", "--plan", str(p2), state=far), "verify")
    assert "Sigstore signature image present" in out
    res = run_cli("preflight", "--plan", str(p2), "--etcd-backup-at", "now", "--json", state=far)
    sig = _checks(res.stdout)["Sigstore signature"]
    assert sig["status"] == "pass" and sig_tag in sig["detail"], sig
    # skopeo, the reference peer, reads the signature image back from the mirror
    sk = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--authfile",
            info.auth_file,
            "--cert-dir",
            info.mirror.cert_dir,
            f"docker://{info.mirror.registry}/{info.mirror.repository}:{sig_tag}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sk.returncode == 0, sk.stderr
    assert (
        json.loads(sk.stdout)["layers"][0]["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    )
