"""The oc-mirror v2 backend against the lab: the whole headless update when oc-mirror did the mirroring.

oc-mirror itself cannot be installed here, so a stand-in program (tests only) plays it: it copies the release with
skopeo into oc-mirror v2's own layout — the release image to ``<repo>/openshift/release-images``, the components to
``<repo>/openshift/release`` (oc-mirror ``v2/internal/pkg/release``) — fetches the release signature from the
signature store, and writes ``working-dir/cluster-resources`` with oc-mirror's file names and shapes
(``v2/internal/pkg/clusterresources``). The engine then takes the update target, the mirror set and the signature
from those files: the cluster updates to ``<repo>/openshift/release-images@<digest>``."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from tests.procedures.test_upgrade import LAB_VERSIONS, admin, json_events, relax_drain_blocker, run_cli

STAND_IN = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for `oc-mirror --v2` mirror-to-mirror (tests only): skopeo copies in oc-mirror v2's layout, then
    # the cluster-resources files oc-mirror writes.
    import base64, json, os, subprocess, sys, tarfile, tempfile, urllib.request
    argv = sys.argv[1:]
    dest = next(a for a in argv if a.startswith("docker://"))[len("docker://"):]
    workspace = argv[argv.index("--workspace") + 1][len("file://"):]
    authfile = argv[argv.index("--authfile") + 1]
    release, version = os.environ["STANDIN_RELEASE"], os.environ["STANDIN_VERSION"]
    digest = release.split("@", 1)[1]
    common = ["skopeo", "copy", "-q", "--all", "--preserve-digests", "--authfile", authfile,
              "--src-cert-dir", os.environ["STANDIN_SRC_CERT_DIR"], "--dest-cert-dir", os.environ["STANDIN_DEST_CERT_DIR"]]

    def refs():
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["skopeo", "copy", "-q", "--authfile", authfile, "--src-cert-dir",
                            os.environ["STANDIN_SRC_CERT_DIR"], "docker://" + release, "dir:" + d], check=True)
            manifest = json.load(open(os.path.join(d, "manifest.json")))
            for layer in manifest["layers"]:
                with tarfile.open(os.path.join(d, layer["digest"].split(":")[1]), mode="r:*") as tf:
                    for m in tf.getmembers():
                        if m.name.lstrip("./") == "release-manifests/image-references":
                            return json.loads(tf.extractfile(m).read())
        raise SystemExit("no image-references")

    tag = version + "-x86_64"
    subprocess.run(common + ["docker://" + release, f"docker://{{dest}}/openshift/release-images:{{tag}}"], check=True)
    print(f"[INFO]   : ✓  1/1 : release image {{release}}", flush=True)
    for t in refs()["spec"]["tags"]:
        subprocess.run(common + ["docker://" + t["from"]["name"], f"docker://{{dest}}/openshift/release:{{tag}}-{{t['name']}}"], check=True)
    sig = urllib.request.urlopen(os.environ["STANDIN_SIGSTORE"].rstrip("/") + "/sha256=" + digest.split(":")[1] + "/signature-1").read()
    d = os.path.join(workspace, "working-dir", "cluster-resources")
    os.makedirs(d, exist_ok=True)
    notes = {{"createdBy": "oc-mirror v2", "oc-mirror_version": "v0.0.0-standin"}}
    idms = {{"apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet",
            "metadata": {{"name": "idms-release-0", "annotations": notes}},
            "spec": {{"imageDigestMirrors": [
                {{"source": "quay.io/openshift-release-dev/ocp-v4.0-art-dev", "mirrors": [dest + "/openshift/release"]}},
                {{"source": os.environ["STANDIN_RELEASE_SOURCE"], "mirrors": [dest + "/openshift/release-images"]}}]}}}}
    cm = {{"kind": "ConfigMap", "apiVersion": "v1",
          "metadata": {{"name": "mirrored-release-signatures", "namespace": "openshift-config-managed",
                       "labels": {{"release.openshift.io/verification-signatures": ""}}, "annotations": notes}},
          "binaryData": {{"sha256-" + digest.split(":")[1] + "-1": base64.b64encode(sig).decode()}}}}
    with open(os.path.join(d, "idms-oc-mirror.yaml"), "w") as f:
        f.write("---\\n" + json.dumps(idms))
    with open(os.path.join(d, "signature-configmap.json"), "w") as f:
        f.write(json.dumps(cm))
    print("[INFO]   : mirror time     : 1s")
    """
)


def _ok(res: Any, step: str) -> str:
    assert res.returncode == 0, (
        f"{step} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}"
    )
    return str(res.stdout)


def test_headless_update_after_an_oc_mirror_run(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=4, size_mb=1)
    rel = info.release(info.target_version)
    stand_in = tmp_path / "bin" / "oc-mirror"
    stand_in.parent.mkdir()
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    doc = yaml.safe_load(Path(info.plan).read_text())
    doc["release"]["version"] = info.target_version
    doc["release"]["channel"] = "stable-4.16"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    state = tmp_path / "state"
    for key, value in {
        "OC_MIRROR": str(stand_in),
        "STANDIN_RELEASE": rel.pullspec,
        "STANDIN_RELEASE_SOURCE": rel.pullspec.split("@")[0],
        "STANDIN_VERSION": info.target_version,
        "STANDIN_SIGSTORE": info.signature_store,
        "STANDIN_SRC_CERT_DIR": info.upstream.cert_dir,
        "STANDIN_DEST_CERT_DIR": info.mirror.cert_dir,
    }.items():
        monkeypatch.setenv(key, value)
    P = ("--plan", str(plan))
    _ok(run_cli("release", *P, "--write-plan", state=state), "release")
    relax_drain_blocker(admin(info))
    _ok(run_cli("credentials", "merge", *P, "--update-cluster", "--yes", state=state), "creds")
    _ok(run_cli("credentials", "trust-ca", *P, "--cluster-only", "--yes", state=state), "ca")

    out = _ok(run_cli("mirror", *P, "--backend", "oc-mirror", state=state, timeout=600), "oc-mirror")
    target = f"{info.mirror.registry}/{info.mirror.repository}/openshift/release-images@{rel.digest}"
    assert f"The update target is where oc-mirror put the release: {target}" in out

    out = _ok(run_cli("mirror-config", "show", *P, state=state), "mirror-config show")
    assert "Mirror entries taken from oc-mirror's idms-oc-mirror.yaml" in out
    assert f"{info.mirror.registry}/{info.mirror.repository}/openshift/release-images" in out
    out = _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    assert "Using the signature ConfigMap oc-mirror wrote" in out and "signature-configmap.json" in out
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    out = _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    assert f"--to-image {target}" in out
    assert f"{target} is in the mirror registry" in out
    res = run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "180", "--json", state=state)
    _ok(res, "upgrade watch")
    assert json_events(res.stdout)[-1]["data"]["complete"] is True
    head = admin(info).cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"], head["image"]) == ("Completed", info.target_version, target)
    assert head["verified"] is True
