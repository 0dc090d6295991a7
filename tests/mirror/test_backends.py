"""The oc and oc-mirror backends.

Neither ``oc`` nor ``oc-mirror`` can be installed here, so these tests write small **stand-in programs** (Python
scripts named ``oc`` / ``oc-mirror``) into tmp_path. A stand-in records its argv and environment, prints output
shaped like the real tool's (the lines ``oc adm release mirror`` prints on success, the ICSP block; oc-mirror's
``n/m`` progress lines) and writes the files the real tool writes (``working-dir/cluster-resources/``). The
tests check what ocp-airgap generates (ImageSetConfiguration, argv), how it streams and reads the output, and
how it translates failures. They are stand-ins for the interface, not for the tools' behaviour.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.context import Context
from engine.errors import RegistryAuthError, TLSError, ToolMissing
from engine.events import Command, Emitter, LogLine, Progress, Recorder
from engine.mirror.media import CHECKSUMS_JSON
from engine.mirror.ocbackend import extract_mirror_config, run_oc_backend
from engine.mirror.ocmirror import (
    build_argv,
    cluster_resources,
    image_set_config,
    journaled_layout,
    run_oc_mirror,
)
from engine.plan import Plan
from engine.signatures import read_signatures
from engine.upgrade import target_image

DIGEST = "sha256:" + "ab" * 32
SIG_TAG = "sha256-" + "ab" * 32 + ".sig"

STAND_IN_OC = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for `oc` (tests only): records argv/env, prints oc-shaped output, writes what oc writes.
    import json, os, sys
    argv = sys.argv[1:]
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({{"argv": argv, "ssl_cert_file": os.environ.get("SSL_CERT_FILE", ""),
                              "bundle": open(os.environ["SSL_CERT_FILE"]).read() if os.environ.get("SSL_CERT_FILE") else ""}}) + "\\n")
    if os.environ.get("STANDIN_FAIL"):
        print("error: unable to retrieve source image: " + os.environ["STANDIN_FAIL"], file=sys.stderr)
        sys.exit(1)
    if argv[:3] == ["adm", "release", "mirror"]:
        to_dir = [a.split("=", 1)[1] for a in argv if a.startswith("--to-dir=")]
        if to_dir:
            os.makedirs(os.path.join(to_dir[0], "v2", "openshift", "release", "blobs"), exist_ok=True)
            with open(os.path.join(to_dir[0], "v2", "openshift", "release", "blobs", "sha256:" + "0" * 64), "w") as f:
                f.write("x")
            os.makedirs(os.path.join(to_dir[0], "config"), exist_ok=True)
            with open(os.path.join(to_dir[0], "config", "signature-sha256-0123456789abcdef.json"), "w") as f:
                f.write("{{}}")
            print("info: Mirroring completed in 1.2s (10MB/s)")
            sys.exit(0)
        to = [a.split("=", 1)[1] for a in argv if a.startswith("--to=")][0]
        print("info: Mirroring 25 images to " + to + " ...")
        print("Success")
        print("Update image:  " + to + ":4.17.3-x86_64")
        print("Mirror prefix: " + to)
        print("")
        print("To use the new mirrored repository for upgrades, use the following to create an ImageContentSourcePolicy:")
        print("")
        print("apiVersion: operator.openshift.io/v1alpha1")
        print("kind: ImageContentSourcePolicy")
        print("metadata:")
        print("  name: example")
        print("spec:")
        print("  repositoryDigestMirrors:")
        print("  - mirrors:")
        print("    - " + to)
        print("    source: quay.io/openshift-release-dev/ocp-release")
        sys.exit(0)
    if argv[:2] == ["image", "mirror"]:
        print("sha256:" + "1" * 64 + " " + argv[-1])
        print("info: Mirroring completed in 0.5s")
        sys.exit(0)
    print("stand-in oc: unexpected arguments", argv, file=sys.stderr)
    sys.exit(2)
    """
)


STAND_IN_OC_MIRROR = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for `oc-mirror` (tests only): records argv and the ImageSetConfiguration, prints v2-shaped
    # progress, and writes working-dir/cluster-resources like oc-mirror v2 does.
    import json, os, sys
    argv = sys.argv[1:]
    cfg = open(argv[argv.index("--config") + 1]).read()
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({{"argv": argv, "config": cfg}}) + "\\n")
    for i in range(1, 4):
        print(f"[INFO]   : ✓  {{i}}/3 : (1s) quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + str(i) * 64, flush=True)
    if "--from" in argv:
        base = argv[argv.index("--from") + 1][len("file://"):]
    elif "--workspace" in argv:
        base = argv[argv.index("--workspace") + 1][len("file://"):]
    else:
        base = ""
    if base:
        # what oc-mirror v2 writes (v2/internal/pkg/clusterresources): the release image went to
        # <dest>/openshift/release-images and the components to <dest>/openshift/release
        # (v2/internal/pkg/release releaseImagePathComponents / releaseComponentPathComponents)
        dest = next(a for a in argv if a.startswith("docker://"))[len("docker://"):]
        digest = os.environ["STANDIN_DIGEST"]
        notes = "  annotations:\\n    createdBy: oc-mirror v2\\n    oc-mirror_version: v0.0.0-standin\\n"
        idms = (
            "---\\napiVersion: config.openshift.io/v1\\nkind: ImageDigestMirrorSet\\nmetadata:\\n" + notes
            + "  name: idms-release-0\\nspec:\\n  imageDigestMirrors:\\n"
            + f"  - mirrors:\\n    - {{dest}}/openshift/release\\n    source: quay.io/openshift-release-dev/ocp-v4.0-art-dev\\n"
            + f"  - mirrors:\\n    - {{dest}}/openshift/release-images\\n    source: quay.io/openshift-release-dev/ocp-release\\n"
        )
        itms = (
            "---\\napiVersion: config.openshift.io/v1\\nkind: ImageTagMirrorSet\\nmetadata:\\n" + notes
            + "  name: itms-release-0\\nspec:\\n  imageTagMirrors:\\n"
            + f"  - mirrors:\\n    - {{dest}}/openshift/release-images\\n    source: quay.io/openshift-release-dev/ocp-release\\n"
        )
        signature = {{
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {{"name": "mirrored-release-signatures", "namespace": "openshift-config-managed",
                          "labels": {{"release.openshift.io/verification-signatures": ""}},
                          "annotations": {{"createdBy": "oc-mirror v2"}}}},
            "binaryData": {{"sha256-" + digest.split(":")[1] + "-1": os.environ["STANDIN_SIGNATURE"]}},
        }}
        d = os.path.join(base, "working-dir", "cluster-resources")
        os.makedirs(d, exist_ok=True)
        docs = {{
            "idms-oc-mirror.yaml": idms,
            "itms-oc-mirror.yaml": itms,
            "cs-redhat-operator-index-v4-17.yaml": "apiVersion: operators.coreos.com/v1alpha1\\nkind: CatalogSource\\nmetadata:\\n  name: cs\\n",
            "updateService.yaml": "apiVersion: updateservice.operator.openshift.io/v1\\nkind: UpdateService\\nmetadata:\\n  name: update-service-oc-mirror\\n",
            "signature-configmap.json": json.dumps(signature),
        }}
        for name, text in docs.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
    print("[INFO]   : mirror time     : 3s")
    """
)


def _stand_in(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text(source.format(python=sys.executable))
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return p


def _records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "standin.log"))
    monkeypatch.setenv("STANDIN_DIGEST", DIGEST)
    monkeypatch.setenv("STANDIN_SIGNATURE", base64.b64encode(b"signature bytes").decode())
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))
    ca = tmp_path / "mirror-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nTUlSUk9SIENBIGZvciB0ZXN0cw==\n-----END CERTIFICATE-----\n")
    auth = tmp_path / "auth.json"
    auth.write_text('{"auths": {}}')
    p = Plan()
    p.mirror.registry = "registry.example.com:8443"
    p.mirror.repository = "ocp4/openshift4"
    p.mirror.ca_file = str(ca)
    p.release.version = "4.17.3"
    p.release.channel = "stable-4.17"
    p.release.digest = DIGEST
    p.auth_file = str(auth)
    p.oc_path = str(_stand_in(tmp_path / "bin", "oc", STAND_IN_OC))
    kube = tmp_path / "kubeconfig"
    kube.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: admin\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "contexts: [{name: admin, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n"
    )
    p.cluster.kubeconfig = str(kube)
    p.save(tmp_path / "plan.yaml")
    return p


def _ctx(plan: Plan) -> tuple[Context, Recorder]:
    rec = Recorder()
    return Context(plan, Emitter("mirror", rec)), rec


def test_oc_backend_direct_runs_the_documented_command(plan: Plan, tmp_path: Path) -> None:
    ctx, rec = _ctx(plan)
    summary = run_oc_backend(ctx, verify=False)
    call, sig_call = _records(tmp_path / "standin.log")
    # oc adm release mirror leaves the Sigstore signature tag behind: copied separately with oc image mirror
    assert sig_call["argv"] == ["image", "mirror", "-a", plan.auth_file,
                                f"quay.io/openshift-release-dev/ocp-release:{SIG_TAG}",
                                f"registry.example.com:8443/ocp4/openshift4:{SIG_TAG}"]  # fmt: skip
    assert call["argv"] == [
        "adm",
        "release",
        "mirror",
        "-a",
        plan.auth_file,
        "--from=quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
        "--to=registry.example.com:8443/ocp4/openshift4",
        "--to-release-image=registry.example.com:8443/ocp4/openshift4:4.17.3-x86_64",
        "--apply-release-image-signature",
        f"--kubeconfig={plan.cluster.kubeconfig}",
    ]
    # the plan's CA is appended to the trust bundle handed to oc (Go reads SSL_CERT_FILE); removed afterwards
    assert "TUlSUk9SIENBIGZvciB0ZXN0cw==" in call["bundle"]
    assert not os.path.exists(call["ssl_cert_file"])
    # output streamed as log lines, the ICSP captured to a file
    assert "Success" in rec.texts() and any(t.startswith("Update image:") for t in rec.texts())
    assert summary["update_image"] == "registry.example.com:8443/ocp4/openshift4:4.17.3-x86_64"
    icsp = Path(summary["files"]["imagecontentsourcepolicy"]).read_text()
    assert icsp.startswith("apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\n")
    assert rec.of(Command)[0].argv[:4] == ("oc", "adm", "release", "mirror")


def test_oc_backend_media_and_osus(plan: Plan, tmp_path: Path) -> None:
    media = tmp_path / "usb" / "mirror"
    ctx, _ = _ctx(plan)
    summary = run_oc_backend(ctx, to_dir=str(media))
    assert (media / CHECKSUMS_JSON).is_file() and summary["files"]["checksums"]
    sums = json.loads((media / CHECKSUMS_JSON).read_text())
    assert {f["path"] for f in sums["files"]} >= {"config/signature-sha256-0123456789abcdef.json"}
    plan.mirror.release_images_repository = "ocp4/release-images"
    ctx, _ = _ctx(plan)
    run_oc_backend(ctx, from_dir=str(media), verify=False)
    calls = [c["argv"] for c in _records(tmp_path / "standin.log")]
    assert calls[0] == ["adm", "release", "mirror", "-a", plan.auth_file, f"--to-dir={media}",
                        "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"]  # fmt: skip
    assert calls[1] == ["image", "mirror", "-a", plan.auth_file, f"--dir={media}",
                        f"quay.io/openshift-release-dev/ocp-release:{SIG_TAG}",
                        f"file://openshift/release:{SIG_TAG}"]  # fmt: skip
    assert calls[2] == ["image", "mirror", "-a", plan.auth_file, f"--from-dir={media}",
                        "file://openshift/release:4.17.3*", "registry.example.com:8443/ocp4/openshift4"]  # fmt: skip
    assert calls[3] == ["image", "mirror", "-a", plan.auth_file,
                        "registry.example.com:8443/ocp4/openshift4:4.17.3-x86_64",
                        "registry.example.com:8443/ocp4/release-images:4.17.3-x86_64"]  # fmt: skip
    # the release glob 4.17.3* does not match the signature tag: it is copied from the media on its own
    assert calls[4] == ["image", "mirror", "-a", plan.auth_file, f"--from-dir={media}",
                        f"file://openshift/release:{SIG_TAG}",
                        f"registry.example.com:8443/ocp4/openshift4:{SIG_TAG}"]  # fmt: skip


@pytest.mark.parametrize(
    ("output", "error", "words"),
    [
        ("x509: certificate signed by unknown authority", TLSError, "does not trust"),
        ("unauthorized: authentication required", RegistryAuthError, "rejected the credentials"),
    ],
)
def test_oc_backend_failures_are_translated(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, output: str, error: type, words: str
) -> None:
    monkeypatch.setenv("STANDIN_FAIL", output)
    ctx, rec = _ctx(plan)
    with pytest.raises(error) as err:
        run_oc_backend(ctx, verify=False)
    assert words in err.value.message and err.value.fix
    assert any(output in t for t in rec.texts()), "oc's own output was streamed"


def test_oc_missing_is_a_plain_error(plan: Plan) -> None:
    plan.oc_path = "/nonexistent/oc"
    with pytest.raises(ToolMissing, match="oc was not found"):
        run_oc_backend(_ctx(plan)[0])


def test_extract_mirror_config_takes_each_document() -> None:
    lines = ["Success", "", "apiVersion: config.openshift.io/v1", "kind: ImageDigestMirrorSet", "spec: {}", "",
             "To use ...", "apiVersion: operator.openshift.io/v1alpha1", "kind: ImageContentSourcePolicy"]  # fmt: skip
    docs = extract_mirror_config(lines)
    assert set(docs) == {"ImageDigestMirrorSet", "ImageContentSourcePolicy"}
    assert docs["ImageDigestMirrorSet"].endswith("spec: {}\n")


# ----- oc-mirror v2 ---------------------------------------------------------------------------------------
def test_image_set_configuration_for_the_target_release(plan: Plan) -> None:
    assert image_set_config(plan) == {
        "kind": "ImageSetConfiguration",
        "apiVersion": "mirror.openshift.io/v2alpha1",
        "mirror": {
            "platform": {
                "channels": [
                    {"name": "stable-4.17", "minVersion": "4.17.3", "maxVersion": "4.17.3", "type": "ocp"}
                ],
                "graph": True,
                "architectures": ["amd64"],
            }
        },
    }
    plan.release.channel = ""
    plan.release.architecture = "aarch64"
    cfg = image_set_config(plan, graph=False)["mirror"]["platform"]
    assert (
        cfg["channels"][0]["name"] == "stable-4.17"
        and cfg["architectures"] == ["arm64"]
        and cfg["graph"] is False
    )


def test_oc_mirror_argv_per_workflow(plan: Plan) -> None:
    auth = ["--authfile", plan.auth_file]
    assert build_argv(plan, "direct", isc="i.yaml", workspace="/ws") == [
        "oc-mirror", "--config", "i.yaml", "--workspace", "file:///ws",
        "docker://registry.example.com:8443/ocp4/openshift4", "--v2", *auth]  # fmt: skip
    assert build_argv(plan, "to-media", isc="i.yaml", media="/m") == [
        "oc-mirror", "--config", "i.yaml", "file:///m", "--v2", *auth]  # fmt: skip
    assert build_argv(plan, "from-media", isc="i.yaml", media="/m", dry_run=True) == [
        "oc-mirror", "--config", "i.yaml", "--from", "file:///m",
        "docker://registry.example.com:8443/ocp4/openshift4", "--v2", *auth, "--dry-run"]  # fmt: skip


@pytest.mark.parametrize("mode", ["to-media", "from-media", "direct"])
def test_oc_mirror_runs_streams_and_picks_up_cluster_resources(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("OC_MIRROR", str(_stand_in(tmp_path / "bin", "oc-mirror", STAND_IN_OC_MIRROR)))
    # the stand-in pushes nothing to a registry, so there is no Sigstore signature tag to look up (that look-up has
    # its own tests against real registries); everything else runs as it does after a real oc-mirror run
    import engine.sigstore

    monkeypatch.setattr(engine.sigstore, "pick_up_oc_mirror", lambda ctx, digest: {})
    media = tmp_path / "media"
    ctx, rec = _ctx(plan)
    kw = {"to-media": {"to_dir": str(media)}, "from-media": {"from_dir": str(media)}, "direct": {}}[mode]
    if mode == "from-media":
        media.mkdir()
    summary = run_oc_mirror(ctx, **kw)  # type: ignore[arg-type]
    (call,) = _records(tmp_path / "standin.log")
    assert yaml.safe_load(call["config"]) == image_set_config(plan)
    assert call["argv"][-3:] == ["--v2", "--authfile", plan.auth_file]
    progress = [e for e in rec.of(Progress) if e.unit == "images"]
    assert [(e.done, e.total) for e in progress] == [(1, 3), (2, 3), (3, 3)]
    assert any("mirror time" in e.text for e in rec.of(LogLine))
    res = summary["cluster_resources"]
    if mode == "to-media":
        assert res == {} and (media / "imageset-config.yaml").is_file()
        return
    assert [Path(p).name for p in res["idms"]] == ["idms-oc-mirror.yaml"]
    assert [Path(p).name for p in res["itms"]] == ["itms-oc-mirror.yaml"]
    assert [Path(p).name for p in res["signature_configmaps"]] == ["signature-configmap.json"]
    assert [Path(p).name for p in res["catalog_sources"]] == ["cs-redhat-operator-index-v4-17.yaml"]
    assert [Path(p).name for p in res["update_services"]] == ["updateService.yaml"]
    applies = [c.argv for c in rec.of(Command) if c.argv[:2] == ("oc", "apply")]
    assert applies == [("oc", "apply", "-f", summary["cluster_resources_dir"])]
    # the later steps use oc-mirror's own layout: the release image in <repo>/openshift/release-images
    dest = "registry.example.com:8443/ocp4/openshift4"
    layout = summary["layout"]
    assert layout["release_repository"] == f"{dest}/openshift/release-images"
    assert sorted((e["source"], e["mirrors"][0]) for e in layout["mirror_entries"]) == [
        ("quay.io/openshift-release-dev/ocp-release", f"{dest}/openshift/release-images"),
        ("quay.io/openshift-release-dev/ocp-v4.0-art-dev", f"{dest}/openshift/release"),
    ]
    assert Path(layout["signature_file"]).name == "signature-configmap.json"
    assert read_signatures(layout["signature_file"], DIGEST) == [b"signature bytes"]
    assert target_image(ctx) == f"{dest}/openshift/release-images@{DIGEST}"
    assert journaled_layout(ctx, DIGEST) == layout
    assert journaled_layout(ctx, "sha256:" + "cd" * 32) is None  # another release: the plan's own layout


def test_without_an_oc_mirror_run_the_target_is_the_plan_repository(plan: Plan) -> None:
    ctx, _ = _ctx(plan)
    assert target_image(ctx) == f"registry.example.com:8443/ocp4/openshift4@{DIGEST}"


def test_cluster_resources_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert all(not v for v in cluster_resources(tmp_path / "nope").values())
