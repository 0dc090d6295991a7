"""Starting and watching the update: oc adm upgrade's guards (unit), then against a private lab: prerequisites
refused, a Failing cluster refused, a missing signature surfaced from ReleaseAccepted with its fix, a 409 on the
ClusterVersion retried (through a proxy that answers 409), an update already in progress, and the watch followed
to completion after killing a first watcher (re-attach)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.cluster import CLUSTER_VERSION, MHC, PDB, Cluster
from engine.errors import InputError, PreconditionFailed
from engine.upgrade import evaluate, explain_release_accepted, parse_progressing
from tests.helpers import wait_until

# The lab tests of this module share a module-scoped lab (each puts it in the state it needs): one xdist worker.
pytestmark = pytest.mark.xdist_group("test_upgrade")
PAUSED = "cluster.x-k8s.io/paused"

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"mirror.example:8443/ocp4/openshift4@{DIGEST}"
LAB_VERSIONS = ("4.16.18", "4.16.20")
"""a z-stream update: no cloud-credential annotation needed (that minor-update precondition has its own test)"""


# ---------------------------------------------------------------------------------------------- helpers (shared)


def run_cli(
    *args: str, state: Path, timeout: float = 180, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        cwd=ROOT,
    )


def lab_plan(
    info: Any, directory: Path, version: str | None = None, *, name: str = "", **changes: str
) -> Path:
    """A copy of the lab's plan with release.digest filled in (what the release step writes)."""
    doc = yaml.safe_load(Path(info.plan).read_text())
    version = version or info.target_version
    rel = info.release(version)
    doc["release"]["version"] = version
    doc["release"]["digest"] = rel.digest
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        doc[section][key] = value
    path = directory / f"{name or 'plan-' + version}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True, timeout=120).stdout


def image_references(info: Any, pullspec: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        skopeo(
            "copy", "-q", "--authfile", info.auth_file, "--src-cert-dir", info.upstream.cert_dir,
            f"docker://{pullspec}", f"dir:{d}",
        )  # fmt: skip
        manifest = json.loads(Path(d, "manifest.json").read_text())
        for layer in manifest["layers"]:
            with tarfile.open(Path(d, layer["digest"].split(":")[1]), mode="r:*") as tf:
                for member in tf.getmembers():
                    if member.name.lstrip("./") == "release-manifests/image-references":
                        f = tf.extractfile(member)
                        assert f is not None
                        return dict(json.loads(f.read()))
    raise AssertionError(f"{pullspec} has no release-manifests/image-references")


def skopeo_mirror(info: Any, version: str) -> int:
    """Mirror a release the way oc adm release mirror lays it out: the release image and every component of its
    image-references, by digest, into mirror.registry/mirror.repository (tags <version>-x86_64[-<name>])."""
    rel = info.release(version)
    refs = image_references(info, rel.pullspec)
    dest = f"{info.mirror.registry}/{info.mirror.repository}"
    common = (
        "copy", "-q", "--all", "--preserve-digests", "--authfile", info.auth_file,
        "--src-cert-dir", info.upstream.cert_dir, "--dest-cert-dir", info.mirror.cert_dir,
    )  # fmt: skip
    skopeo(*common, f"docker://{rel.pullspec}", f"docker://{dest}:{version}-x86_64")
    for tag in refs["spec"]["tags"]:
        skopeo(*common, f"docker://{tag['from']['name']}", f"docker://{dest}:{version}-x86_64-{tag['name']}")
    return len(refs["spec"]["tags"])


def mirror_step(info: Any, plan: Path, state: Path) -> str:
    """The mirror step, with the headless command."""
    res = run_cli("mirror", "--plan", str(plan), state=state, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return "ocp-airgap mirror"


def admin(info: Any) -> Cluster:
    return Cluster.connect(info.kubeconfig, "admin")


def relax_drain_blocker(cluster: Cluster) -> None:
    """What the admin does about preflight's PodDisruptionBudget finding: allow one disruption."""
    cluster.merge_patch(PDB, "payments-api-pdb", {"spec": {"minAvailable": 0}}, "payments")


def cv_condition(cluster: Cluster, ctype: str) -> dict[str, Any]:
    for c in cluster.cluster_version().get("status", {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return {}


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------------------------------------- unit: guards


def _cv(**conds: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "version", "generation": 2},
        "spec": {"clusterID": "x"},
        "status": {
            "desired": {
                "version": "4.16.18",
                "image": "mirror.example:8443/ocp4/openshift4@sha256:" + "00" * 32,
            },
            "conditions": [
                {"type": t, "status": s, "reason": "R", "message": f"{t} message"} for t, s in conds.items()
            ],
        },
    }


def test_exact_merge_patch_for_an_explicit_update() -> None:
    d = evaluate(_cv(Failing="False", Progressing="False", Available="True"), IMAGE)
    assert d.kind == "start" and d.explicit
    assert d.patch == {
        "spec": {"desiredUpdate": {"architecture": "", "version": "", "image": IMAGE, "force": False}}
    }
    assert json.dumps(d.patch, separators=(",", ":")) == (
        '{"spec":{"desiredUpdate":{"architecture":"","version":"","image":"' + IMAGE + '","force":false}}}'
    )


def test_by_tag_refused() -> None:
    with pytest.raises(InputError, match="not a by-digest pull spec"):
        evaluate(_cv(), "mirror.example:8443/ocp4/openshift4:4.17.3-x86_64")


@pytest.mark.parametrize(
    ("ctype", "text"),
    [
        ("Failing", "experiencing an error reconciling"),
        ("Invalid", "cluster version object is invalid"),
        ("Progressing", "already upgrading"),
    ],
)
def test_client_side_guards(ctype: str, text: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        evaluate(_cv(**{ctype: "True"}), IMAGE)
    assert text in info.value.message and f"{ctype} message" in info.value.message


def test_already_at_target_writes_nothing() -> None:
    cv = _cv(Progressing="True")
    cv["status"]["desired"]["image"] = IMAGE
    assert evaluate(cv, IMAGE).kind == "already"


def test_available_and_conditional_updates() -> None:
    cv = _cv()
    other = "quay.io/openshift-release-dev/ocp-release@" + DIGEST  # same digest, canonical name
    cv["status"]["availableUpdates"] = [{"version": "4.17.3", "image": other}]
    d = evaluate(cv, IMAGE)
    assert d.version == "4.17.3" and not d.explicit and d.update["image"] == IMAGE
    # oc sends the listed version with the requested image (oc adm upgrade --to-image, target in availableUpdates)
    assert d.patch == {
        "spec": {"desiredUpdate": {"architecture": "", "version": "4.17.3", "image": IMAGE, "force": False}}
    }

    cv = _cv()
    cv["spec"]["desiredUpdate"] = {"acceptRisks": [{"name": "SomeRisk"}]}
    cv["status"]["conditionalUpdates"] = [
        {
            "release": {"version": "4.17.3", "image": other},
            "risks": [
                {"name": "SomeRisk", "message": "Nodes may lose their name.", "url": "https://example/1"}
            ],
            "conditions": [{"type": "Recommended", "status": "False", "message": "SomeRisk applies."}],
        }
    ]
    with pytest.raises(PreconditionFailed, match="not recommended for this cluster: SomeRisk applies"):
        evaluate(cv, IMAGE)
    d = evaluate(cv, IMAGE, accept_not_recommended=True)
    assert d.conditional is not None and d.update["acceptRisks"] == [{"name": "SomeRisk"}]
    assert d.update["version"] == "4.17.3"


def test_progressing_messages_parsed() -> None:
    p = parse_progressing("Working towards 4.17.3: 512 of 903 done (56% complete), waiting on machine-config")
    assert (p.version, p.done, p.total, p.percent, p.message) == (
        "4.17.3",
        512,
        903,
        56,
        "waiting on machine-config",
    )
    p = parse_progressing("Working towards 4.17.3: 0 of 903 done (0% complete)")
    assert (p.done, p.total, p.message) == (0, 903, "")
    p = parse_progressing("Working towards 4.17.3")
    assert p.version == "4.17.3" and p.total is None
    assert parse_progressing("Cluster version is 4.17.3").version == ""


def test_release_accepted_explained() -> None:
    text, fix = explain_release_accepted(
        {
            "reason": "RetrievePayload",
            "message": 'Retrieving payload failed version="" image="x" failure=The update cannot be verified: '
            "unable to verify sha256:ab against keyrings: verifier-public-key-redhat",
        }
    )
    assert "cannot verify the release signature" in text and "ocp-airgap signature apply" in fix
    text, fix = explain_release_accepted(
        {
            "reason": "PreconditionChecks",
            "message": "... MissingUpgradeableAnnotation ... upgradeable-to ...",
        },
        "4.17.3",
    )
    assert "upgradeable-to=4.17.3" in fix
    text, fix = explain_release_accepted({"reason": "RetrievePayload", "message": "manifest unknown"})
    assert "cannot retrieve the release image" in text and "pull secret" in fix


# ---------------------------------------------------------------------------------------------- a private lab


class ConflictProxy:
    """A plain-HTTP reverse proxy in front of the lab's API that answers the first ``n`` PATCHes of
    clusterversion/version with a real 409 Status, as an API server does when the object changed meanwhile."""

    def __init__(self, info: Any, conflicts: int) -> None:
        self.upstream = info.api.server
        self.ca = ssl.create_default_context(cafile=info.api.ca_file)
        self.remaining = conflicts
        self.patches: list[bytes] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                if self.command == "PATCH" and path == "/apis/config.openshift.io/v1/clusterversions/version":
                    with proxy.lock:
                        proxy.patches.append(body)
                        conflict = proxy.remaining > 0
                        proxy.remaining -= 1 if conflict else 0
                    if conflict:
                        msg = (
                            'Operation cannot be fulfilled on clusterversions.config.openshift.io "version": the '
                            "object has been modified; please apply your changes to the latest version and try again"
                        )
                        data = json.dumps(
                            {
                                "kind": "Status",
                                "apiVersion": "v1",
                                "status": "Failure",
                                "message": msg,
                                "reason": "Conflict",
                                "code": 409,
                            }  # fmt: skip
                        ).encode()
                        self.send_response(409)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                with httpx.Client(verify=proxy.ca, timeout=30) as client:
                    resp = client.request(
                        self.command, proxy.upstream + self.path, content=body, headers=headers
                    )
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kubeconfig(self, original: str, directory: Path) -> Path:
        doc = yaml.safe_load(Path(original).read_text())
        for c in doc["clusters"]:
            c["cluster"] = {"server": f"http://127.0.0.1:{self.server.server_address[1]}"}
        path = directory / "kubeconfig-via-proxy"
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not all(__import__("shutil").which(t) for t in ("docker-registry", "skopeo")):
        pytest.skip("the lab needs docker-registry and skopeo")
    from sandbox.lab import down, status, up
    from tests.conftest import TEST_SPEED

    directory = tmp_path_factory.mktemp("upgrade-lab")
    try:
        info = up(directory, speed=TEST_SPEED, versions=LAB_VERSIONS, components=6, size_mb=2)
    except BaseException:
        down(directory)
        raise
    try:
        skopeo_mirror(info, info.target_version)
        relax_drain_blocker(admin(info))
        yield info
    finally:
        down(directory)
        assert not [n for n, s in status(directory).items() if s["alive"]]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, lab: Any) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("upgrade-work")
    return {"dir": d, "state": d / "state", "plan": lab_plan(lab, d)}


def _signature_name(lab: Any) -> str:
    return f"release-image-{lab.target_version}"


def _set_paused(cluster: Cluster, name: str, paused: bool) -> None:
    value = "" if paused else None
    cluster.merge_patch(MHC, name, {"metadata": {"annotations": {PAUSED: value}}}, "openshift-machine-api")


@pytest.fixture
def prerequisites_missing(lab: Any) -> Any:
    """No signature ConfigMap for the target and the worker MHC active, whatever an earlier test left."""
    from engine.cluster import CONFIGMAP

    cluster = admin(lab)
    with contextlib.suppress(Exception):
        cluster.delete(CONFIGMAP, _signature_name(lab), "openshift-config-managed")
    _set_paused(cluster, "worker-mhc", False)
    return lab


@pytest.fixture
def prerequisites_met(lab: Any, work: dict[str, Path]) -> Any:
    """The signature applied and the worker MHC paused, whatever an earlier test left."""
    for args in (("signature", "apply"), ("mhc", "pause")):
        res = run_cli(*args, "--plan", str(work["plan"]), "--yes", state=work["state"])
        assert res.returncode == 0, res.stdout + res.stderr
    return lab


def test_start_refused_until_prerequisites_met(prerequisites_missing: Any, work: dict[str, Path]) -> None:
    lab = prerequisites_missing
    res = run_cli("upgrade", "start", "--plan", str(work["plan"]), "--yes", state=work["state"])
    assert res.returncode == 3, res.stdout + res.stderr
    assert "[PASS] release mirrored" in res.stdout
    assert "[FAIL] signature ConfigMap applied" in res.stdout
    assert "[FAIL] MachineHealthChecks paused: active: worker-mhc" in res.stdout
    assert "ocp-airgap signature apply" in res.stderr and "ocp-airgap mhc pause" in res.stderr
    assert "desiredUpdate" not in json.dumps(admin(lab).cluster_version()["spec"])


def test_failing_cluster_refused(prerequisites_met: Any, work: dict[str, Path]) -> None:
    cluster = admin(prerequisites_met)

    def set_failing(status: str) -> None:
        cv = cluster.cluster_version()
        conds = [c for c in cv["status"]["conditions"] if c["type"] != "Failing"]
        conds.append({"type": "Failing", "status": status, "reason": "ClusterOperatorDegraded",
                      "message": "Cluster operator etcd is degraded", "lastTransitionTime": "2026-01-01T00:00:00Z"})  # fmt: skip
        cv["status"]["conditions"] = conds
        cluster.request("PUT", CLUSTER_VERSION.path(None, "version", "status"), body=cv)

    set_failing("True")
    try:
        res = run_cli("upgrade", "start", "--plan", str(work["plan"]), "--yes", state=work["state"])
        assert res.returncode == 3, res.stdout + res.stderr
        assert "the cluster is experiencing an error reconciling" in res.stderr
        assert "Cluster operator etcd is degraded" in res.stderr
    finally:
        set_failing("False")
    assert "desiredUpdate" not in json.dumps(cluster.cluster_version()["spec"])


def test_missing_signature_surfaced_with_its_fix(prerequisites_missing: Any, work: dict[str, Path]) -> None:
    """Somebody started the update by hand to a release whose signature the cluster lacks."""
    lab = prerequisites_missing
    cluster = admin(lab)
    image = f"{lab.mirror.registry}/{lab.mirror.repository}@{lab.release(lab.target_version).digest}"
    cluster.merge_patch(
        CLUSTER_VERSION,
        "version",
        {"spec": {"desiredUpdate": {"image": image, "version": "", "architecture": "", "force": False}}},
    )
    try:
        res = run_cli(
            "upgrade", "watch", "--plan", str(work["plan"]), "--interval", "0.1", "--fail-after", "2",
            "--timeout", "60", state=work["state"],
        )  # fmt: skip
        assert res.returncode == 1, res.stdout + res.stderr
        assert "cannot verify the release signature" in res.stderr
        assert "fix: Apply the release signature ConfigMap: ocp-airgap signature apply --plan P" in res.stderr
        assert "The update cannot be verified" in res.stdout  # the CVO's own words, shown as they are
    finally:
        cluster.merge_patch(CLUSTER_VERSION, "version", {"spec": {"desiredUpdate": None}})
        wait_until(
            lambda: cv_condition(cluster, "ReleaseAccepted").get("status") in ("True", ""),
            30,
            what="CVO back",
        )


def test_start_through_conflicts_then_in_progress_then_reattach_after_kill(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """One update on a private lab, followed from start to completion: 409s on the ClusterVersion retried,
    the same target again re-attached and another one refused while it runs, a watcher killed and a new one
    re-attached until Completed."""
    # slow enough that the update is still running while the second and third starts are tried
    lab = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2, speed=120)
    skopeo_mirror(lab, lab.target_version)
    relax_drain_blocker(admin(lab))
    work = {"dir": tmp_path, "state": tmp_path / "state", "plan": lab_plan(lab, tmp_path)}
    for args in (("signature", "apply"), ("mhc", "pause")):
        res = run_cli(*args, "--plan", str(work["plan"]), "--yes", state=work["state"])
        assert res.returncode == 0, res.stdout + res.stderr

    # 1. two 409 Conflict answers on the ClusterVersion, then it goes through: the same patch each time
    proxy = ConflictProxy(lab, conflicts=2)
    try:
        plan = lab_plan(
            lab,
            work["dir"],
            name="plan-via-proxy",
            cluster__kubeconfig=str(proxy.kubeconfig(lab.kubeconfig, work["dir"])),
        )
        res = run_cli("upgrade", "start", "--plan", str(plan), "--yes", "--json", state=work["state"])
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        proxy.close()
    assert len(proxy.patches) == 3  # two answered 409, the third went through
    assert all(json.loads(p) == json.loads(proxy.patches[0]) for p in proxy.patches)
    texts = [e.get("text", "") for e in json_events(res.stdout)]
    assert sum("409 Conflict" in t for t in texts) == 2
    result = json_events(res.stdout)[-1]
    assert result["kind"] == "StepResult" and result["data"]["retries"] == 2
    spec = admin(lab).cluster_version()["spec"]["desiredUpdate"]
    assert spec == {"architecture": "", "version": "", "image": result["data"]["image"], "force": False}

    # 2. an update already in progress
    cluster = admin(lab)
    wait_until(
        lambda: cv_condition(cluster, "Progressing").get("status") == "True", 30, what="update running"
    )
    res = run_cli("upgrade", "start", "--plan", str(work["plan"]), "--yes", state=work["state"])
    assert res.returncode == 0 and "Cluster is already at" in res.stdout, res.stdout + res.stderr
    other = lab_plan(lab, work["dir"], version=LAB_VERSIONS[0])
    res = run_cli("upgrade", "start", "--plan", str(other), "--yes", state=work["state"])
    assert res.returncode == 3, res.stdout + res.stderr
    assert "the cluster is already upgrading" in res.stderr

    # 3. a watcher killed mid-update; a new one re-attaches and follows it to Completed
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(work["state"]), "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(
        [sys.executable, "-m", "cli", "upgrade", "watch", "--plan", str(work["plan"]), "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    watchdog = threading.Timer(120, first.kill)  # never hang the suite if the update does not show up
    watchdog.start()
    try:
        assert first.stdout is not None
        seen = False
        for line in first.stdout:
            if "Working towards" in line:
                seen = True
                break
        assert seen, "the first watcher never saw the update progressing"
        first.send_signal(signal.SIGKILL)
    finally:
        watchdog.cancel()
        with contextlib.suppress(ProcessLookupError):
            first.kill()
        first.wait(10)
    res = run_cli(
        "upgrade", "watch", "--plan", str(work["plan"]), "--interval", "0.1", "--timeout", "120", "--json",
        state=work["state"],
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    events = json_events(res.stdout)
    progress = [e for e in events if e["kind"] == "Progress" and e["unit"] == "operators"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    assert events[-1]["kind"] == "StepResult" and events[-1]["data"]["complete"] is True
    cv = admin(lab).cluster_version()
    assert cv["status"]["history"][0]["state"] == "Completed"
    assert cv["status"]["history"][0]["version"] == lab.target_version
    # the journal says it is done, and that one MHC is still paused by the tool
    res = run_cli("status", "--plan", str(work["plan"]), "--json", state=work["state"])
    st = json_events(res.stdout)[-1]["data"]
    steps = {s["step"]: s["status"] for s in st["steps"]}
    assert steps["upgrade"] == "succeeded" and steps["signature"] == "succeeded"
    assert any("worker-mhc" in item for item in st["in_flight"])
    assert [
        m["metadata"]["name"]
        for m in admin(lab).list(MHC, "openshift-machine-api")
        if PAUSED in (m["metadata"].get("annotations") or {})
    ] == ["master-mhc", "worker-mhc"]
