"""The simulated OpenShift API server, started as a real subprocess and driven with the unmodified
``kubernetes`` client and ``kubectl``: Kubernetes REST semantics (Status objects, 401/403/404/409, patches,
selectors, watch, SSAR), kubectl tables, and prompt exit on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.certs import make_ca, make_server_cert
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "sha256~admin-token-for-tests-0123456789"
RO_TOKEN = "sha256~readonly-token-for-tests-9876543210"
CURRENT_IMAGE = "quay.example:5000/openshift-release-dev/ocp-release@sha256:" + "a" * 64


@dataclass
class ApiServer:
    proc: subprocess.Popen[bytes]
    port: int
    directory: Path
    ca_file: Path
    kubeconfig: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, context: str = "admin") -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig), context=context)

    def kubectl(
        self, *args: str, context: str = "admin", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", context, *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr}")
        return res

    def stop(self) -> float:
        """SIGTERM; returns the seconds the process took to exit."""
        if self.proc.poll() is not None:
            return 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return time.monotonic() - start


def start_api_server(
    directory: Path, *, speed: float = 600.0, cluster: dict[str, Any] | None = None
) -> ApiServer:
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca(directory / "pki", "api-ca")
    cert = make_server_cert(ca, directory / "pki", "api")
    port_file = directory / "port"
    cfg = {
        "listen_host": "127.0.0.1",
        "port": 0,
        "port_file": str(port_file),
        "tls": {"cert": str(cert.cert), "key": str(cert.key)},
        "tokens": {
            ADMIN_TOKEN: {
                "user": "kube:admin",
                "groups": ["system:cluster-admins", "system:authenticated"],
                "admin": True,
            },
            RO_TOKEN: {"user": "auditor", "groups": ["system:authenticated"], "admin": False},
        },
        "log_file": str(directory / "api.log"),
        "cluster": {
            "cluster_id": "0b5c7a52-6b4f-4a43-9d7e-2f8e7b6f5a10",
            "current_version": "4.16.18",
            "current_image": CURRENT_IMAGE,
            "channel": "stable-4.16",
            "upstream_registry": "quay.example:5000",
            "mirror_registry": "127.0.0.1:1",
            "pull_secret": {"auths": {}},
            **(cluster or {}),
        },
        "timing": {"speed": speed},
    }
    config_path = directory / "config.json"
    config_path.write_text(json.dumps(cfg))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.apiserver", "--config", str(config_path)],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "stderr.log", "wb"),  # noqa: SIM115
    )

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"API server exited: {(directory / 'stderr.log').read_text()}")
        return port_file.exists() and port_file.read_text().strip().isdigit()

    try:
        wait_until(ready, 20, what="the API server port file")
    except BaseException:
        proc.kill()
        proc.wait(5)
        raise
    port = int(port_file.read_text())
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "sim",
                        "cluster": {
                            "server": f"https://127.0.0.1:{port}",
                            "certificate-authority": str(ca.cert),
                        },
                    }
                ],
                "users": [
                    {"name": "admin", "user": {"token": ADMIN_TOKEN}},
                    {"name": "auditor", "user": {"token": RO_TOKEN}},
                    {"name": "stranger", "user": {"token": "sha256~not-a-known-token-000000"}},
                ],
                "contexts": [
                    {"name": "admin", "context": {"cluster": "sim", "user": "admin", "namespace": "default"}},
                    {"name": "ro", "context": {"cluster": "sim", "user": "auditor", "namespace": "default"}},
                    {"name": "stranger", "context": {"cluster": "sim", "user": "stranger"}},
                ],
                "current-context": "admin",
            }
        )
    )
    return ApiServer(proc, port, directory, ca.cert, kubeconfig, directory / "api.log")


# ----------------------------------------------------------------------------------------------- fixtures

import shutil  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

# The tests of this module share a module-scoped lab and build on one another: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("test_apiserver")

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
MHC_NS = "openshift-machine-api"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_api_server(tmp_path_factory.mktemp("api"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(api: ApiServer) -> Any:
    c = api.client("admin")
    yield c
    c.close()


@pytest.fixture(scope="module")
def readonly(api: ApiServer) -> Any:
    c = api.client("ro")
    yield c
    c.close()


def status_of(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["metadata"] == {} and body["code"] == exc.status
    return body


# ----------------------------------------------------------------------------------------------- basics


def test_version_is_accepted_by_the_strict_client(admin: Any) -> None:
    info = client.VersionApi(admin).get_code()
    assert info.major == "1" and info.minor == "29"
    assert info.git_version.startswith("v1.29.")


def test_unknown_or_missing_token_gets_401(api: ApiServer) -> None:
    c = api.client("stranger")
    with pytest.raises(ApiException) as ei:
        client.CoreV1Api(c).list_namespace()
    body = status_of(ei.value)
    assert ei.value.status == 401 and body["reason"] == "Unauthorized" and body["message"] == "Unauthorized"
    c.close()


def test_initial_cluster_state(admin: Any) -> None:
    co = client.CustomObjectsApi(admin)
    cv = co.get_cluster_custom_object("config.openshift.io", "v1", "clusterversions", "version")
    conds = {c["type"]: c for c in cv["status"]["conditions"]}
    assert cv["spec"]["channel"] == "stable-4.16"
    assert cv["status"]["desired"]["version"] == "4.16.18"
    assert cv["status"]["history"][0]["state"] == "Completed"
    assert conds["Available"]["message"] == "Done applying 4.16.18"
    assert (
        conds["Progressing"]["status"] == "False"
        and conds["Progressing"]["message"] == "Cluster version is 4.16.18"
    )
    assert conds["RetrievedUpdates"]["reason"] == "RemoteFailed"
    assert conds["Upgradeable"]["status"] == "False"
    assert "cloudcredential.openshift.io/upgradeable-to" in conds["Upgradeable"]["message"]
    cos = co.list_cluster_custom_object("config.openshift.io", "v1", "clusteroperators")["items"]
    assert len(cos) >= 12
    cco = next(c for c in cos if c["metadata"]["name"] == "cloud-credential")
    upg = next(c for c in cco["status"]["conditions"] if c["type"] == "Upgradeable")
    assert upg["status"] == "False" and upg["reason"] == "MissingUpgradeableAnnotation"
    mhcs = {
        m["metadata"]["name"]: m
        for m in co.list_namespaced_custom_object(
            "machine.openshift.io", "v1beta1", MHC_NS, "machinehealthchecks"
        )["items"]
    }
    assert "cluster.x-k8s.io/paused" in mhcs["master-mhc"]["metadata"]["annotations"]
    assert "cluster.x-k8s.io/paused" not in (mhcs["worker-mhc"]["metadata"].get("annotations") or {})
    cc = co.get_cluster_custom_object("operator.openshift.io", "v1", "cloudcredentials", "cluster")
    assert cc["spec"]["credentialsMode"] == "Manual"
    core = client.CoreV1Api(admin)
    assert (
        core.read_namespaced_secret("pull-secret", "openshift-config").type
        == "kubernetes.io/dockerconfigjson"
    )
    rv = core.read_namespaced_config_map("release-verification", "openshift-config-managed")
    assert "release.openshift.io/verification-config-map" in rv.metadata.annotations
    pdbs = client.PolicyV1Api(admin).list_pod_disruption_budget_for_all_namespaces().items
    assert any(p.status.disruptions_allowed == 0 for p in pdbs)
    nodes = core.list_node().items
    assert len(nodes) == 6 and all(n.status.node_info.kubelet_version.startswith("v1.29.") for n in nodes)


# ----------------------------------------------------------------------------------------------- authz


def test_read_only_user_can_read_but_gets_403_on_every_write(readonly: Any) -> None:
    co = client.CustomObjectsApi(readonly)
    core = client.CoreV1Api(readonly)
    assert co.get_cluster_custom_object("config.openshift.io", "v1", "clusterversions", "version")
    with pytest.raises(ApiException) as ei:
        co.patch_cluster_custom_object(
            "config.openshift.io", "v1", "clusterversions", "version", {"spec": {"channel": "stable-4.17"}}
        )
    body = status_of(ei.value)
    assert ei.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'clusterversions.config.openshift.io "version" is forbidden: User "auditor" cannot patch resource '
        '"clusterversions" in API group "config.openshift.io" at the cluster scope'
    )
    assert body["details"] == {"name": "version", "group": "config.openshift.io", "kind": "clusterversions"}
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(
            "machine.openshift.io",
            "v1beta1",
            MHC_NS,
            "machinehealthchecks",
            "worker-mhc",
            {"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}},
        )
    assert status_of(ei.value)["message"].endswith(
        'cannot patch resource "machinehealthchecks" in API group "machine.openshift.io" in the namespace '
        '"openshift-machine-api"'
    )
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_config_map("default", {"metadata": {"name": "nope"}, "data": {"a": "b"}})
    assert ei.value.status == 403
    assert status_of(ei.value)["message"] == (
        'configmaps is forbidden: User "auditor" cannot create resource "configmaps" in API group "" in the '
        'namespace "default"'
    )
    with pytest.raises(ApiException) as ei:
        core.delete_namespaced_secret("pull-secret", "openshift-config")
    assert ei.value.status == 403
    with pytest.raises(ApiException) as ei:
        core.replace_namespaced_config_map(
            "user-ca-bundle",
            "openshift-config",
            core.read_namespaced_config_map("user-ca-bundle", "openshift-config"),
        )
    assert ei.value.status == 403
    # nothing changed
    cv = co.get_cluster_custom_object("config.openshift.io", "v1", "clusterversions", "version")
    assert cv["spec"]["channel"] == "stable-4.16"


def test_self_subject_access_review(admin: Any, readonly: Any) -> None:
    def review(c: Any, verb: str) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "group": "config.openshift.io",
                    "resource": "clusterversions",
                    "verb": verb,
                    "name": "version",
                }
            },
        }
        return bool(client.AuthorizationV1Api(c).create_self_subject_access_review(body).status.allowed)

    assert review(admin, "patch") and review(admin, "get")
    assert review(readonly, "get") and review(readonly, "list") and review(readonly, "watch")
    assert not review(readonly, "patch") and not review(readonly, "delete") and not review(readonly, "create")


def test_who_am_i(api: ApiServer) -> None:
    import ssl

    import httpx

    ctx = ssl.create_default_context(cafile=str(api.ca_file))
    for token, name, groups in (
        (ADMIN_TOKEN, "kube:admin", "system:cluster-admins"),
        (RO_TOKEN, "auditor", None),
    ):
        r = httpx.get(
            api.url + "/apis/user.openshift.io/v1/users/~",
            verify=ctx,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200
        user = r.json()
        assert user["kind"] == "User" and user["metadata"]["name"] == name
        assert groups is None or groups in user["groups"]


# ----------------------------------------------------------------------------------------------- CRUD semantics


def test_create_already_exists_and_not_found(admin: Any) -> None:
    core = client.CoreV1Api(admin)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "crud-1"}, "data": {"k": "v"}})
    assert cm.metadata.uid and cm.metadata.resource_version and cm.metadata.creation_timestamp
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_config_map("default", {"metadata": {"name": "crud-1"}, "data": {"k": "v"}})
    body = status_of(ei.value)
    assert ei.value.status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "crud-1" already exists'
    assert body["details"] == {"name": "crud-1", "kind": "configmaps"}
    core.delete_namespaced_config_map("crud-1", "default")
    with pytest.raises(ApiException) as ei:
        core.read_namespaced_config_map("crud-1", "default")
    body = status_of(ei.value)
    assert (
        ei.value.status == 404
        and body["reason"] == "NotFound"
        and body["message"] == 'configmaps "crud-1" not found'
    )
    with pytest.raises(ApiException) as ei:
        client.CustomObjectsApi(admin).get_cluster_custom_object(
            "config.openshift.io", "v1", "clusterversions", "nope"
        )
    assert status_of(ei.value)["message"] == 'clusterversions.config.openshift.io "nope" not found'


def test_stale_resource_version_gets_409_conflict(admin: Any) -> None:
    co = client.CustomObjectsApi(admin)
    args = ("machine.openshift.io", "v1beta1", MHC_NS, "machinehealthchecks", "worker-mhc")
    first = co.get_namespaced_custom_object(*args)
    second = co.get_namespaced_custom_object(*args)
    first["spec"]["maxUnhealthy"] = "34%"
    updated = co.replace_namespaced_custom_object(*args, first)
    assert int(updated["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert updated["metadata"]["generation"] == first["metadata"]["generation"] + 1
    second["spec"]["maxUnhealthy"] = "100%"
    with pytest.raises(ApiException) as ei:
        co.replace_namespaced_custom_object(*args, second)
    body = status_of(ei.value)
    assert ei.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on machinehealthchecks.machine.openshift.io "worker-mhc": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    # a merge patch carrying a stale resourceVersion is a precondition too
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(
            *args,
            {
                "metadata": {"resourceVersion": second["metadata"]["resourceVersion"]},
                "spec": {"maxUnhealthy": "100%"},
            },
        )
    assert ei.value.status == 409
    assert co.get_namespaced_custom_object(*args)["spec"]["maxUnhealthy"] == "34%"
    updated["spec"]["maxUnhealthy"] = "40%"
    co.replace_namespaced_custom_object(*args, updated)


def test_merge_patch_and_json_patch(admin: Any) -> None:
    co = client.CustomObjectsApi(admin)
    args = ("machine.openshift.io", "v1beta1", MHC_NS, "machinehealthchecks", "master-mhc")
    # JSON patch: remove the pause annotation (~1 escapes the slash), add another
    patched = co.patch_namespaced_custom_object(
        *args,
        [
            {"op": "test", "path": "/metadata/annotations/cluster.x-k8s.io~1paused", "value": ""},
            {"op": "remove", "path": "/metadata/annotations/cluster.x-k8s.io~1paused"},
            {"op": "add", "path": "/metadata/annotations/example.com~1note", "value": "json-patch"},
        ],
        _content_type="application/json-patch+json",
    )
    assert "cluster.x-k8s.io/paused" not in patched["metadata"]["annotations"]
    assert patched["metadata"]["annotations"]["example.com/note"] == "json-patch"
    # a failing test operation changes nothing and reports 422
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(
            *args,
            [{"op": "test", "path": "/spec/maxUnhealthy", "value": "1%"}],
            _content_type="application/json-patch+json",
        )
    assert ei.value.status == 422
    # merge patch: null deletes a key, maps merge
    patched = co.patch_namespaced_custom_object(
        *args,
        {"metadata": {"annotations": {"cluster.x-k8s.io/paused": "", "example.com/note": None}}},
        _content_type="application/merge-patch+json",
    )
    assert patched["metadata"]["annotations"] == {"cluster.x-k8s.io/paused": ""}
    # strategic merge patch on a built-in type (what kubectl cordon sends)
    core = client.CoreV1Api(admin)
    node = core.list_node(label_selector="node-role.kubernetes.io/worker").items[-1].metadata.name
    core.patch_node(node, {"spec": {"unschedulable": True}})
    assert core.read_node(node).spec.unschedulable is True
    core.patch_node(node, {"spec": {"unschedulable": None}})
    assert not core.read_node(node).spec.unschedulable


def test_status_subresource_and_generation(admin: Any) -> None:
    co = client.CustomObjectsApi(admin)
    args = ("config.openshift.io", "v1", "clusteroperators", "console")
    before = co.get_cluster_custom_object(*args)
    # a status write through the main resource is ignored (status subresource)
    co.patch_cluster_custom_object(
        *args, {"status": {"versions": [{"name": "operator", "version": "9.9.9"}]}}
    )
    after = co.get_cluster_custom_object(*args)
    assert after["status"]["versions"] == before["status"]["versions"]
    # ...but goes through /status, without bumping the generation
    st = co.patch_cluster_custom_object_status(*args, {"status": {"extension": {"note": "via status"}}})
    assert st["status"]["extension"] == {"note": "via status"}
    assert st["metadata"]["generation"] == before["metadata"]["generation"]


def test_label_and_field_selectors(admin: Any) -> None:
    core = client.CoreV1Api(admin)

    def names(selector: str) -> set[str]:
        return {n.metadata.name for n in core.list_node(label_selector=selector).items}

    workers = names("node-role.kubernetes.io/worker")
    masters = names("node-role.kubernetes.io/master=")
    assert len(workers) == 3 and len(masters) == 3 and not workers & masters
    assert names("!node-role.kubernetes.io/master") == workers
    assert names("node-role.kubernetes.io/master!=") == workers
    zone_a = names("topology.kubernetes.io/zone=us-east-1a")
    assert len(zone_a) == 2
    assert names(
        "topology.kubernetes.io/zone in (us-east-1a, us-east-1b),node-role.kubernetes.io/worker"
    ) == {n for n in workers if n in names("topology.kubernetes.io/zone notin (us-east-1c)")}
    assert names("kubernetes.io/os=linux") == workers | masters
    with pytest.raises(ApiException) as ei:
        core.list_node(label_selector="a in b)")
    assert ei.value.status == 400
    worker = sorted(workers)[0]
    pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={worker}").items
    assert pods and all(p.spec.node_name == worker for p in pods)


def test_watch_streams_events(admin: Any) -> None:
    core = client.CoreV1Api(admin)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    w = watch.Watch()
    seen: list[tuple[str, str]] = []

    def produce() -> None:
        core.create_namespaced_config_map("default", {"metadata": {"name": "watched"}, "data": {"a": "1"}})
        core.patch_namespaced_config_map("watched", "default", {"data": {"a": "2"}})
        core.delete_namespaced_config_map("watched", "default")

    t = threading.Thread(target=produce)
    t.start()
    for event in w.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    t.join(10)
    assert seen == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_eviction_honours_the_pod_disruption_budget(admin: Any) -> None:
    core = client.CoreV1Api(admin)
    pod = core.list_namespaced_pod("payments").items[0]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod.metadata.name, "namespace": "payments"},
    }
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_pod_eviction(pod.metadata.name, "payments", body)
    assert ei.value.status == 429
    assert (
        status_of(ei.value)["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    )


# ----------------------------------------------------------------------------------------------- kubectl


@needs_kubectl
def test_kubectl_tables(api: ApiServer) -> None:
    out = api.kubectl("get", "clusterversion").stdout.splitlines()
    assert out[0].split() == ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "SINCE", "STATUS"]
    assert out[1].split()[:4] == ["version", "4.16.18", "True", "False"]
    assert out[1].endswith("Cluster version is 4.16.18")
    co = api.kubectl("get", "co").stdout.splitlines()
    assert co[0].split() == ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "DEGRADED", "SINCE", "MESSAGE"]
    assert any(line.split()[:5] == ["etcd", "4.16.18", "True", "False", "False"] for line in co[1:])
    mcp = api.kubectl("get", "mcp").stdout.splitlines()
    assert mcp[0].split() == [
        "NAME",
        "CONFIG",
        "UPDATED",
        "UPDATING",
        "DEGRADED",
        "MACHINECOUNT",
        "READYMACHINECOUNT",
        "UPDATEDMACHINECOUNT",
        "DEGRADEDMACHINECOUNT",
        "AGE",
    ]
    assert {line.split()[0] for line in mcp[1:]} == {"master", "worker"}
    assert all(line.split()[2:9] == ["True", "False", "False", "3", "3", "3", "0"] for line in mcp[1:])
    mhc = api.kubectl("get", "mhc", "-n", MHC_NS).stdout.splitlines()
    assert mhc[0].split() == ["NAME", "MAXUNHEALTHY", "EXPECTEDMACHINES", "CURRENTHEALTHY"]
    assert {line.split()[0] for line in mhc[1:]} == {"master-mhc", "worker-mhc"}
    nodes = api.kubectl("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    machines = api.kubectl("get", "machines", "-n", MHC_NS).stdout.splitlines()
    assert machines[0].split() == ["NAME", "PHASE", "TYPE", "REGION", "ZONE", "AGE"]
    assert (
        api.kubectl("get", "clusterversion", "version", "-o", "jsonpath={.status.desired.version}").stdout
        == "4.16.18"
    )


@needs_kubectl
def test_kubectl_writes_and_errors(api: ApiServer) -> None:
    res = api.kubectl(
        "annotate", "mhc", "-n", MHC_NS, "worker-mhc", "example.com/kubectl=yes", context="ro", check=False
    )
    assert res.returncode != 0 and "Forbidden" in res.stderr and 'User "auditor" cannot patch' in res.stderr
    api.kubectl("annotate", "mhc", "-n", MHC_NS, "worker-mhc", "example.com/kubectl=yes")
    api.kubectl("annotate", "mhc", "-n", MHC_NS, "worker-mhc", "example.com/kubectl-")
    manifest = api.directory / "cm.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "from-file", "namespace": "default"},
                "data": {"x": "y"},
            }
        )
    )
    assert "created" in api.kubectl("apply", "-f", str(manifest)).stdout
    assert api.kubectl("auth", "can-i", "patch", "clusterversions", check=False).stdout.strip() == "yes"
    assert (
        api.kubectl("auth", "can-i", "patch", "clusterversions", context="ro", check=False).stdout.strip()
        == "no"
    )
    assert "User" in api.kubectl("get", "--raw", "/apis/user.openshift.io/v1/users/~").stdout
    res = api.kubectl("get", "cm", "nope", check=False)
    assert 'configmaps "nope" not found' in res.stderr


# ----------------------------------------------------------------------------------------------- lifecycle


def test_sigterm_stops_the_server_promptly(tmp_path: Path) -> None:
    server = start_api_server(tmp_path / "api")
    c = server.client()
    assert client.VersionApi(c).get_code().git_version
    c.close()
    elapsed = server.stop()
    assert server.proc.returncode == 0
    assert elapsed < 2.0, f"took {elapsed:.2f}s to exit"
    log = server.log_file.read_text()
    assert ADMIN_TOKEN not in log and RO_TOKEN not in log


def test_bad_config_is_reported_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "port_file": str(tmp_path / "port"),
                "tls": {"cert": "a", "key": "b"},
                "tokens": {},
                "cluster": {"current_version": "4.16.18", "current_image": "x"},
            }
        )
    )
    res = subprocess.run(
        [sys.executable, "-m", "sandbox.apiserver", "--config", str(cfg)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and "tokens: at least one token is required" in res.stderr
    cfg.write_text('{"port_file": 1,\n  oops}')
    res = subprocess.run(
        [sys.executable, "-m", "sandbox.apiserver", "--config", str(cfg)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and f"{cfg}:2:3: invalid JSON" in res.stderr


# ----------------------------------------------------------------------------------------------- machines


def test_paused_pool_does_not_roll_and_a_pdb_blocks_the_drain(tmp_path: Path) -> None:
    server = start_api_server(tmp_path / "api", speed=1200)
    c = server.client()
    try:
        co = client.CustomObjectsApi(c)
        core = client.CoreV1Api(c)
        mcp = ("machineconfiguration.openshift.io", "v1", "machineconfigpools")
        workers = {
            n.metadata.name: n for n in core.list_node(label_selector="node-role.kubernetes.io/worker").items
        }
        worker_config = {
            n.metadata.annotations["machineconfiguration.openshift.io/currentConfig"]
            for n in workers.values()
        }
        co.patch_cluster_custom_object(
            *mcp, "worker", {"spec": {"paused": True, "configuration": {"name": "rendered-worker-new"}}}
        )
        co.patch_cluster_custom_object(
            *mcp, "master", {"spec": {"configuration": {"name": "rendered-master-new"}}}
        )

        def master_done() -> bool:
            st = co.get_cluster_custom_object(*mcp, "master")["status"]
            return st["configuration"]["name"] == "rendered-master-new" and st["updatedMachineCount"] == 3

        wait_until(master_done, 30, 0.05, "the master pool to roll")
        # the paused worker pool did not touch its nodes; the paused master MHC remediated nothing
        for n in core.list_node(label_selector="node-role.kubernetes.io/worker").items:
            assert n.metadata.annotations["machineconfiguration.openshift.io/currentConfig"] in worker_config
            assert not n.spec.unschedulable
        masters = co.list_namespaced_custom_object(
            "machine.openshift.io",
            "v1beta1",
            MHC_NS,
            "machines",
            label_selector="machine.openshift.io/cluster-api-machine-role=master",
        )
        assert len(masters["items"]) == 3
        # unpause: the first worker carries the payments pod whose PDB allows no disruption -> the drain blocks
        co.patch_cluster_custom_object(*mcp, "worker", {"spec": {"paused": False}})
        blocked = core.list_namespaced_pod("payments").items[0].spec.node_name

        def degraded() -> str:
            st = co.get_cluster_custom_object(*mcp, "worker")["status"]
            cond = next(x for x in st["conditions"] if x["type"] == "Degraded")
            return cond.get("message", "") if cond["status"] == "True" else ""

        message = wait_until(degraded, 30, 0.05, "the worker pool to report the blocked drain")
        assert f"failed to drain node: {blocked} after 1 hour" in message
        assert core.read_node(blocked).spec.unschedulable is True
        assert core.list_namespaced_pod("payments").items[0].spec.node_name == blocked
    finally:
        c.close()
        server.stop()
