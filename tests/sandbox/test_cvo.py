"""The simulated Cluster Version Operator against real registries (the sandbox lab): it refuses a by-tag
image, a missing signature, a signature made with the wrong key, an image absent from the mirror and a minor
update blocked by Upgradeable=False; it accepts a correctly mirrored and signed release, completes the update,
and an unpaused MachineHealthCheck remediates a rebooting worker while the paused one leaves the masters alone.

Releases are copied to the mirror with ``skopeo`` (not the engine) and the signature ConfigMap is built from
the lab's signature store."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pysequoia as ps
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.helpers import wait_until

pytestmark = [
    pytest.mark.skipif(
        shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
        reason="the sandbox lab needs docker-registry and skopeo",
    ),
    # the tests share a module-scoped lab: keep them on one xdist worker
    pytest.mark.xdist_group("test_cvo"),
]

SPEED = 1200.0
CV = ("config.openshift.io", "v1", "clusterversions", "version")
MHC_NS = "openshift-machine-api"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sandbox.lab import down, status, up

    directory = tmp_path_factory.mktemp("cvo-lab")
    try:
        info = up(directory, speed=SPEED)
    except BaseException:
        down(directory)
        raise
    try:
        yield info
    finally:
        down(directory)
        assert not [n for n, s in status(directory).items() if s["alive"]]


@pytest.fixture(scope="module")
def kube(lab: Any) -> Iterator[Any]:
    api = config.new_client_from_config(config_file=lab.kubeconfig, context="admin")
    yield api
    api.close()


# ----------------------------------------------------------------------------------------------- helpers


def mirror_release(lab: Any, version: str, repository: str | None = None) -> str:
    """skopeo-copy a release from the upstream registry to the mirror; returns the mirror pull spec by digest."""
    rel = lab.release(version)
    repo = repository or lab.mirror.repository
    dest = f"{lab.mirror.registry}/{repo}:{version}-x86_64"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--all",
            "--authfile",
            lab.auth_file,
            "--src-cert-dir",
            lab.upstream.cert_dir,
            "--dest-cert-dir",
            lab.mirror.cert_dir,
            f"docker://{rel.pullspec}",
            f"docker://{dest}",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return f"{lab.mirror.registry}/{repo}@{rel.digest}"


def store_signature(lab: Any, version: str) -> bytes:
    rel = lab.release(version)
    r = httpx.get(rel.signature_url, timeout=10)
    r.raise_for_status()
    return r.content


def apply_signature(kube: Any, digest: str, blob: bytes, name: str | None = None) -> str:
    """The ConfigMap ``oc adm release mirror --release-image-signature-to-dir`` writes, applied to the cluster."""
    hexd = digest.split(":", 1)[1]
    name = name or f"sha256-{hexd}"
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "openshift-config-managed",
            "labels": {"release.openshift.io/verification-signatures": ""},
        },
        "binaryData": {f"sha256-{hexd}-1": base64.b64encode(blob).decode()},
    }
    core = client.CoreV1Api(kube)
    try:
        core.create_namespaced_config_map("openshift-config-managed", body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_config_map(name, "openshift-config-managed", body)
    return name


def request_update(kube: Any, image: str, *, force: bool = False, version: str = "") -> None:
    """What ``oc adm upgrade --allow-explicit-upgrade --to-image`` writes (a merge patch)."""
    client.CustomObjectsApi(kube).patch_cluster_custom_object(
        *CV,
        {"spec": {"desiredUpdate": {"architecture": "", "version": version, "image": image, "force": force}}},
        _content_type="application/merge-patch+json",
    )


def cv(kube: Any) -> dict[str, Any]:
    obj: dict[str, Any] = client.CustomObjectsApi(kube).get_cluster_custom_object(*CV)
    return obj


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in obj["status"]["conditions"] if c["type"] == ctype), {})


def wait_release_accepted(kube: Any, image: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        c = condition(cv(kube), "ReleaseAccepted")
        return c if c.get("status") == status and f'image="{image}"' in c.get("message", "") else None

    result: dict[str, Any] = wait_until(check, timeout, 0.05, f"ReleaseAccepted={status} for {image}")
    return result


# ----------------------------------------------------------------------------------------------- refusals


def test_cvo_refuses_what_the_real_one_refuses(lab: Any, kube: Any) -> None:
    before = cv(kube)
    # 1. by tag: cannot be verified, never proceeds
    mirrored = mirror_release(lab, "4.17.3")
    by_tag = f"{lab.mirror.registry}/{lab.mirror.repository}:4.17.3-x86_64"
    request_update(kube, by_tag)
    c = wait_release_accepted(kube, by_tag, "False")
    assert c["reason"] == "RetrievePayload"
    assert c["message"] == (
        f'Retrieving payload failed version="" image="{by_tag}" failure=The update cannot be '
        "verified: release images that are not accessed via digest cannot be verified"
    )

    # 2. mirrored by digest but no signature ConfigMap
    request_update(kube, mirrored)
    c = wait_release_accepted(kube, mirrored, "False")
    digest = lab.release("4.17.3").digest
    assert c["reason"] == "RetrievePayload"
    assert c["message"].startswith(
        f'Retrieving payload failed version="" image="{mirrored}" failure=The update cannot be verified: '
        f"unable to verify {digest} against keyrings: verifier-public-key-sandbox"
    )

    # 3. a signature made with another key: seen (named in the message) and still refused
    other = ps.Tsk.generate("Someone Else <someone@example.invalid>")
    from sandbox.sigstore import sign_release

    bad = sign_release(other, digest, lab.release("4.17.3").tag_pullspec)
    name = apply_signature(kube, digest, bad, name="wrong-key-signature")
    wait_until(
        lambda: f"in config map {name}" in condition(cv(kube), "ReleaseAccepted").get("message", ""),
        30,
        0.05,
        "the CVO to read the wrong-key signature ConfigMap",
    )
    c = condition(cv(kube), "ReleaseAccepted")
    assert c["status"] == "False" and "against keyrings: verifier-public-key-sandbox" in c["message"]

    # 4. correctly signed, but not in the mirror (the cluster cannot reach the upstream registry)
    d2 = lab.release("4.16.20").digest
    apply_signature(kube, d2, store_signature(lab, "4.16.20"))
    absent = f"{lab.mirror.registry}/{lab.mirror.repository}-not-mirrored@{d2}"
    request_update(kube, absent)
    c = wait_release_accepted(kube, absent, "False")
    assert c["reason"] == "RetrievePayload"
    assert "Unable to download and prepare the update" in c["message"] and "manifest unknown" in c["message"]
    upstream_ref = lab.release("4.16.20").pullspec
    request_update(kube, upstream_ref)  # no ImageContentSourcePolicy: the upstream registry is unreachable
    c = wait_release_accepted(kube, upstream_ref, "False")
    assert "i/o timeout" in c["message"]

    # 5. signed and mirrored 4.17.3, but Upgradeable=False blocks a minor update unless forced
    apply_signature(kube, digest, store_signature(lab, "4.17.3"))
    request_update(kube, mirrored)
    c = wait_release_accepted(kube, mirrored, "False")
    assert c["reason"] == "PreconditionChecks"
    assert c["message"].startswith(
        f'Preconditions failed for payload loaded version="4.17.3" image="{mirrored}": '
        "Multiple precondition checks failed:\n* "
    )
    # blocking: Upgradeable; a warning only (the disconnected cluster has no recommendations): RecommendedUpdate
    assert (
        '* Precondition "ClusterVersionUpgradeable" failed because of "MissingUpgradeableAnnotation"'
        in c["message"]
    )
    assert (
        '* Precondition "ClusterVersionRecommendedUpdate" failed because of "UnknownUpdate": '
        "RetrievedUpdates=False (RemoteFailed), so the recommended status of updating from 4.16.18 to 4.17.3 "
        "is unknown." in c["message"]
    )

    # nothing of this started an update
    after = cv(kube)
    assert after["status"]["history"] == before["status"]["history"]
    assert condition(after, "Progressing")["message"] == condition(before, "Progressing")["message"]
    assert condition(after, "Progressing")["status"] == "False"
    assert condition(after, "Failing")["status"] == "False"
    # clearing desiredUpdate returns ReleaseAccepted to the running payload
    client.CustomObjectsApi(kube).patch_cluster_custom_object(*CV, {"spec": {"desiredUpdate": None}})
    wait_release_accepted(kube, before["status"]["desired"]["image"], "True")


# ----------------------------------------------------------------------------------------------- acceptance


def test_cvo_accepts_a_mirrored_signed_release_and_completes_it(lab: Any, kube: Any) -> None:
    co_api = client.CustomObjectsApi(kube)
    core = client.CoreV1Api(kube)
    rel = lab.release("4.16.20")
    mirror_release(lab, "4.16.20")
    apply_signature(kube, rel.digest, store_signature(lab, "4.16.20"))
    # the cluster pulls the upstream name through the mirror (what oc adm release mirror prints)
    upstream_repo = rel.pullspec.split("@")[0]
    icsp = {
        "apiVersion": "operator.openshift.io/v1alpha1",
        "kind": "ImageContentSourcePolicy",
        "metadata": {"name": "release-mirror"},
        "spec": {
            "repositoryDigestMirrors": [
                {"source": upstream_repo, "mirrors": [f"{lab.mirror.registry}/{lab.mirror.repository}"]}
            ]
        },
    }
    try:
        co_api.create_cluster_custom_object(
            "operator.openshift.io", "v1alpha1", "imagecontentsourcepolicies", icsp
        )
    except ApiException as exc:
        assert exc.status == 409
    # let the drain through: the lab's PDB allows no disruption
    client.PolicyV1Api(kube).patch_namespaced_pod_disruption_budget(
        "payments-api-pdb", "payments", {"spec": {"minAvailable": 0}}
    )
    masters_before = {
        m["metadata"]["name"]
        for m in co_api.list_namespaced_custom_object(
            "machine.openshift.io",
            "v1beta1",
            MHC_NS,
            "machines",
            label_selector="machine.openshift.io/cluster-api-machine-role=master",
        )["items"]
    }
    workers_before = {
        m["metadata"]["name"]
        for m in co_api.list_namespaced_custom_object(
            "machine.openshift.io",
            "v1beta1",
            MHC_NS,
            "machines",
            label_selector="machine.openshift.io/cluster-api-machine-role=worker",
        )["items"]
    }

    request_update(kube, rel.pullspec)
    c = wait_release_accepted(kube, rel.pullspec, "True")
    assert c["reason"] == "PayloadLoaded"
    assert c["message"] == f'Payload loaded version="4.16.20" image="{rel.pullspec}" architecture="amd64"'
    obj = cv(kube)
    head = obj["status"]["history"][0]
    assert head["version"] == "4.16.20" and head["verified"] is True
    assert obj["status"]["desired"]["version"] == "4.16.20"
    messages: set[str] = set()

    def completed() -> bool:
        o = cv(kube)
        p = condition(o, "Progressing")
        messages.add(p.get("message", ""))
        return o["status"]["history"][0]["state"] == "Completed" and p["status"] == "False"

    wait_until(completed, 60, 0.05, "the update to complete")
    obj = cv(kube)
    assert condition(obj, "Progressing")["message"] == "Cluster version is 4.16.20"
    assert condition(obj, "Available")["message"] == "Done applying 4.16.20"
    assert obj["status"]["history"][0]["completionTime"]
    assert obj["status"]["history"][1]["version"] == "4.16.18"
    working = [m for m in messages if m.startswith("Working towards 4.16.20: ")]
    assert working and all(" of 903 done (" in m and "% complete)" in m for m in working)
    assert any(m.endswith(", waiting on machine-config") for m in working)
    cos = co_api.list_cluster_custom_object("config.openshift.io", "v1", "clusteroperators")["items"]
    assert all(
        next(v["version"] for v in co["status"]["versions"] if v["name"] == "operator") == "4.16.20"
        for co in cos
    )
    masters = core.list_node(label_selector="node-role.kubernetes.io/master").items
    assert all(n.status.node_info.kubelet_version.startswith("v1.29.11") for n in masters)

    # the unpaused worker MHC remediates a rebooting worker; the paused master MHC does not
    def worker_remediated() -> bool:
        names = {
            m["metadata"]["name"]
            for m in co_api.list_namespaced_custom_object(
                "machine.openshift.io",
                "v1beta1",
                MHC_NS,
                "machines",
                label_selector="machine.openshift.io/cluster-api-machine-role=worker",
            )["items"]
        }
        return bool(workers_before - names)

    wait_until(worker_remediated, 60, 0.05, "worker-mhc to remediate a worker machine")
    events = core.list_namespaced_event(MHC_NS).items
    assert any(e.reason == "MachineDeleted" and "remediated" in e.message for e in events)
    masters_after = {
        m["metadata"]["name"]
        for m in co_api.list_namespaced_custom_object(
            "machine.openshift.io",
            "v1beta1",
            MHC_NS,
            "machines",
            label_selector="machine.openshift.io/cluster-api-machine-role=master",
        )["items"]
    }
    assert masters_after == masters_before
    mhc = co_api.get_namespaced_custom_object(
        "machine.openshift.io", "v1beta1", MHC_NS, "machinehealthchecks", "worker-mhc"
    )
    assert int(mhc["metadata"]["annotations"]["sandbox.openshift.io/remediations"]) >= 1

    # the worker pool finishes with replacement machines at the new version
    def pool_done() -> bool:
        mcp = co_api.get_cluster_custom_object(
            "machineconfiguration.openshift.io", "v1", "machineconfigpools", "worker"
        )
        st = mcp["status"]
        return st["machineCount"] == 3 and st["updatedMachineCount"] == 3 and st["readyMachineCount"] == 3

    wait_until(pool_done, 60, 0.05, "the worker pool to finish")
    workers = core.list_node(label_selector="node-role.kubernetes.io/worker").items
    assert all(n.status.node_info.kubelet_version.startswith("v1.29.11") for n in workers)


def test_catalog_source_connects_only_to_an_image_the_cluster_can_pull(lab: Any, kube: Any) -> None:
    co_api = client.CustomObjectsApi(kube)
    cs = (
        "operators.coreos.com",
        "v1alpha1",
        "openshift-marketplace",
        "catalogsources",
        "my-operator-catalog",
    )
    mirrored = mirror_release(lab, "4.16.20")

    def state() -> str:
        obj = co_api.get_namespaced_custom_object(*cs)
        return str(obj["status"]["connectionState"]["lastObservedState"])

    co_api.patch_namespaced_custom_object(*cs, {"spec": {"image": mirrored}})
    wait_until(lambda: state() == "READY", 30, 0.05, "the catalog to connect")
    absent = f"{lab.mirror.registry}/olm/not-mirrored-index:v4.16"
    co_api.patch_namespaced_custom_object(*cs, {"spec": {"image": absent}})
    wait_until(lambda: state() == "TRANSIENT_FAILURE", 30, 0.05, "the catalog to fail")
    # the disconnected cluster cannot reach the upstream registry (no mirror rule covers this repository)
    upstream = f"{lab.upstream.registry}/olm/redhat-operator-index:v4.16"
    patched = co_api.patch_namespaced_custom_object(*cs, {"spec": {"image": upstream}})
    patched_rv = int(patched["metadata"]["resourceVersion"])

    def rechecked_and_failed() -> bool:
        # A new image is checked again: CONNECTING (often too brief to observe), then the result. Seeing the
        # failure on a version newer than our patch proves both transitions happened after it.
        obj = co_api.get_namespaced_custom_object(*cs)
        return (
            int(obj["metadata"]["resourceVersion"]) > patched_rv
            and obj["status"]["connectionState"]["lastObservedState"] == "TRANSIENT_FAILURE"
        )

    wait_until(rechecked_and_failed, 30, 0.05, "the catalog to fail on the upstream image")
