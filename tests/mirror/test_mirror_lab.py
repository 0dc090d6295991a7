"""Built-in release mirroring against the sandbox: real registries, skopeo as the reference peer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import RegistryError
from engine.events import CheckResult, Command, Progress, StepResult
from engine.journal import Journal
from engine.mirror import MirrorOptions, mirror_release, verify_mirror
from engine.mirror.media import CHECKSUMS_JSON, MEDIA_REPOSITORY, SHA256SUMS, STATE_DIR
from tests.mirror.conftest import TargetRegistry, context, sha256, skopeo_raw

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed",
)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
    )


def assert_mirror_complete(target: TargetRegistry, plan: Any, sandbox: Any, repo: str | None = None) -> None:
    """skopeo sees the release digest and every component, by digest and by oc's tag names."""
    repo = repo or plan.mirror.repository
    rel = sandbox.release(sandbox.target_version)
    raw = skopeo_raw(target, plan.auth_file, f"{repo}@{rel.digest}")
    assert sha256(raw) == rel.digest
    raw = skopeo_raw(target, plan.auth_file, f"{repo}:{rel.version}-x86_64")
    assert sha256(raw) == rel.digest
    # the Sigstore signature image beside it, as cosign names it, bound to the release digest
    sig = json.loads(skopeo_raw(target, plan.auth_file, f"{repo}:sha256-{rel.digest.split(':', 1)[1]}.sig"))
    layer = sig["layers"][0]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["annotations"]["dev.cosignproject.cosign/signature"]
    from engine.oci.payload import read_release_pullspec

    info = read_release_pullspec(rel.pullspec, auth_file=sandbox.auth_file, ca_file=sandbox.upstream.ca_file)
    assert len(info.components) == rel.components > 0
    for comp in info.components:
        by_tag = skopeo_raw(target, plan.auth_file, f"{repo}:{rel.version}-x86_64-{comp.name}")
        assert sha256(by_tag) == comp.digest, comp.name


def test_direct_mirror_then_skopeo_sees_release_and_every_component(
    sandbox: Any, registry_factory: Any, make_plan: Any
) -> None:
    target = registry_factory()
    plan = make_plan(target)
    ctx, rec = context(plan)
    summary = mirror_release(ctx)
    assert summary.verified is True
    assert (
        summary.images_copied
        == summary.images_total
        == sandbox.release(sandbox.target_version).components + 2  # + the release and its Sigstore signature
    )
    assert summary.bytes_copied > 0 and summary.blobs_copied > 0
    assert_mirror_complete(target, plan, sandbox)

    # progress: images and bytes, ending at their totals, with a rate
    images = [e for e in rec.of(Progress) if e.unit == "images"]
    nbytes = [e for e in rec.of(Progress) if e.unit == "bytes"]
    assert images[-1].done == images[-1].total == summary.images_total
    assert nbytes[-1].done == nbytes[-1].total == summary.bytes_needed
    assert any(e.rate for e in nbytes)
    assert sum(1 for t in rec.texts() if t.startswith("copied ")) == summary.images_total
    # the equivalent oc command
    cmd = rec.of(Command)[0]
    assert cmd.argv[:4] == ("oc", "adm", "release", "mirror")
    assert f"--to={plan.mirror_repository}" in cmd.argv
    # ICSP and IDMS, sources → the mirror repository
    idms = Path(summary.files["imagedigestmirrorset"]).read_text()
    assert idms.startswith("apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\n")
    for source in (plan.endpoints.release_source, plan.endpoints.component_source):
        assert f"  - mirrors:\n    - {plan.mirror_repository}\n    source: {source}\n" in idms
    icsp = Path(summary.files["imagecontentsourcepolicy"]).read_text()
    assert "kind: ImageContentSourcePolicy" in icsp and "repositoryDigestMirrors:" in icsp
    # journaled for the cluster (the lab's kubeconfig exists)
    journal = Journal.for_cluster(sandbox.api.server)
    assert journal.step_status("mirror") == "succeeded"

    # second run: everything is skipped by digest, nothing copied
    ctx2, rec2 = context(plan)
    again = mirror_release(ctx2)
    assert again.images_copied == 0 and again.bytes_copied == 0
    assert again.images_skipped == summary.images_total
    assert sum(1 for t in rec2.texts() if t.startswith("skipped ")) == summary.images_total


def test_osus_copy_to_release_images_repository(sandbox: Any, registry_factory: Any, make_plan: Any) -> None:
    target = registry_factory()
    plan = make_plan(target, mirror__release_images_repository="ocp4/release-images")
    ctx, rec = context(plan)
    summary = mirror_release(ctx)
    rel = sandbox.release(sandbox.target_version)
    raw = skopeo_raw(target, plan.auth_file, f"ocp4/release-images:{rel.version}-x86_64")
    assert sha256(raw) == rel.digest
    assert summary.blobs_mounted > 0, "the release image's blobs are mounted from the mirror repository"
    assert any(c.argv[:3] == ("oc", "image", "mirror") for c in rec.of(Command))
    assert verify_mirror(context(plan)[0]).ok


def test_dry_run_writes_nothing(sandbox: Any, registry_factory: Any, make_plan: Any, tmp_path: Path) -> None:
    target = registry_factory()
    plan = make_plan(target)
    ctx, rec = context(plan)
    summary = mirror_release(ctx, MirrorOptions(dry_run=True))
    assert summary.dry_run and summary.images_copied == 0
    n = sandbox.release(sandbox.target_version).components + 2  # + the release and its Sigstore signature
    assert summary.images_total == n
    assert summary.bytes_needed > 0
    assert sum(1 for t in rec.texts() if t.startswith("would copy ")) == n
    assert "--dry-run" in rec.of(Command)[0].argv
    assert target.repositories() == []
    assert "nothing was written" in rec.of(StepResult)[-1].summary
    media = tmp_path / "media-dry"
    mirror_release(context(plan)[0], MirrorOptions(to_dir=str(media), dry_run=True))
    assert not media.exists()


def test_verify_finds_a_deleted_blob(sandbox: Any, registry_factory: Any, make_plan: Any) -> None:
    target = registry_factory()
    plan = make_plan(target)
    mirror_release(context(plan)[0])
    ctx, rec = context(plan)
    assert verify_mirror(ctx).ok
    # delete one component's own layer from the registry's storage
    from engine.oci.payload import read_release_pullspec

    info = read_release_pullspec(
        sandbox.release(sandbox.target_version).pullspec,
        auth_file=sandbox.auth_file,
        ca_file=sandbox.upstream.ca_file,
    )
    comp = info.components[3]
    manifest = json.loads(skopeo_raw(target, plan.auth_file, f"{plan.mirror.repository}@{comp.digest}"))
    layer = manifest["layers"][-1]["digest"]
    target.blob_data(layer).unlink()
    ctx, rec = context(plan)
    report = verify_mirror(ctx)
    assert not report.ok
    assert any(layer in p.what and "missing" in p.what for p in report.problems)
    assert any(comp.name in p.image for p in report.problems)
    fails = [c for c in rec.of(CheckResult) if c.status == "fail"]
    assert fails and layer in fails[0].detail
    res = run_cli("mirror", "verify", "--plan", str(plan.source_path))
    assert res.returncode == 1 and layer in res.stdout and "problem(s)" in res.stdout
    # the next mirror run repairs it: that image is copied again (its other blobs are found in place)
    repaired = mirror_release(context(plan)[0])
    assert repaired.images_copied == 1 and repaired.blobs_copied == 1 and repaired.verified
    assert target.blob_data(layer).is_file()
    assert verify_mirror(context(plan)[0]).ok


def test_second_run_notices_a_deleted_image(sandbox: Any, registry_factory: Any, make_plan: Any) -> None:
    """The second run trusts its record only for tags the registry still lists at the recorded digest."""
    from engine.authfile import AuthFile
    from engine.oci.registry import RegistryClient

    target = registry_factory()
    plan = make_plan(target)
    first = mirror_release(context(plan)[0])
    rel = sandbox.release(sandbox.target_version)
    tag = f"{rel.version}-x86_64-etcd"
    with RegistryClient(
        target.host, auth=AuthFile.load(plan.auth_file), ca_file=str(target.ca_file)
    ) as client:
        digest = client.head_manifest(plan.mirror.repository, tag)
        assert digest
        client.delete_manifest(plan.mirror.repository, digest)
        assert client.head_manifest(plan.mirror.repository, tag) is None
    again = mirror_release(context(plan)[0])
    assert again.images_copied == 1 and again.images_skipped == first.images_total - 1
    assert sha256(skopeo_raw(target, plan.auth_file, f"{plan.mirror.repository}:{tag}")) == digest


def test_to_dir_then_from_dir_into_an_empty_registry(
    sandbox: Any, registry_factory: Any, make_plan: Any, tmp_path: Path
) -> None:
    media = tmp_path / "usb" / "mirror"
    plan = make_plan(None)
    ctx, rec = context(plan)
    written = mirror_release(ctx, MirrorOptions(to_dir=str(media)))
    rel = sandbox.release(sandbox.target_version)
    # the layout oc image mirror --from-dir reads
    mdir = media / "v2" / MEDIA_REPOSITORY / "manifests"
    tag = mdir / f"{rel.version}-x86_64"
    assert tag.is_symlink() and os.readlink(tag) == rel.digest
    assert (mdir / rel.digest).stat().st_ino == (
        media / "v2" / MEDIA_REPOSITORY / "blobs" / rel.digest
    ).stat().st_ino
    sig = media / "config" / f"signature-sha256-{rel.digest.split(':')[1][:16]}.json"
    cm = json.loads(sig.read_text())
    assert cm["metadata"]["namespace"] == "openshift-config-managed"
    assert f"sha256-{rel.digest.split(':')[1]}-1" in cm["binaryData"]
    sums = json.loads((media / CHECKSUMS_JSON).read_text())
    paths = {f["path"] for f in sums["files"]}
    assert f"v2/{MEDIA_REPOSITORY}/blobs/{rel.digest}" in paths and sig.relative_to(media).as_posix() in paths
    assert (media / SHA256SUMS).is_file()
    assert (media / STATE_DIR / "plan.yaml").is_file() and (media / STATE_DIR / "release.json").is_file()
    assert written.verified
    upload = [
        c
        for c in rec.of(Command)
        if c.argv[:3] == ("oc", "image", "mirror") and f"--from-dir={media}" in c.argv
    ]
    assert upload and upload[0].argv[-2].startswith("file://") and upload[0].argv[-2].endswith("*")
    # the Sigstore signature tag: copied onto the media, and its own upload command for the far side (the
    # release's VER* glob does not match it)
    sig_tag = f"sha256-{rel.digest.split(':')[1]}.sig"
    assert (mdir / sig_tag).is_symlink()
    assert any(c.argv[-1].endswith(f":{sig_tag}") for c in upload[1:])

    target = registry_factory()
    far = make_plan(target)
    ctx, rec = context(far)
    summary = mirror_release(ctx, MirrorOptions(from_dir=str(media)))
    assert summary.mode == "from-media" and summary.verified
    assert summary.images_copied == rel.components + 2  # + the release and its Sigstore signature
    assert_mirror_complete(target, far, sandbox)
    assert summary.files["signature"] == str(sig.resolve())
    assert any(c.name == "media checksums" and c.status == "pass" for c in rec.of(CheckResult))

    # a second to-dir run resumes: everything is already on the media
    again = mirror_release(context(plan)[0], MirrorOptions(to_dir=str(media)))
    assert again.images_copied == 0


def test_corrupted_blob_on_media_is_caught_before_upload(
    sandbox: Any, registry_factory: Any, make_plan: Any, tmp_path: Path
) -> None:
    media = tmp_path / "mirror"
    mirror_release(context(make_plan(None))[0], MirrorOptions(to_dir=str(media), verify=False))
    blobs = sorted((media / "v2" / MEDIA_REPOSITORY / "blobs").iterdir(), key=lambda p: p.stat().st_size)
    victim = blobs[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    missing = blobs[0]
    missing.unlink()
    target = registry_factory()
    ctx, rec = context(make_plan(target))
    with pytest.raises(RegistryError) as err:
        mirror_release(ctx, MirrorOptions(from_dir=str(media)))
    assert "nothing was uploaded" in err.value.message
    assert "\n" not in err.value.message and err.value.fix
    failed = {c.name for c in rec.of(CheckResult) if c.status == "fail"}
    assert f"media file {victim.relative_to(media).as_posix()}" in failed
    assert f"media file {missing.relative_to(media).as_posix()}" in failed
    assert target.repositories() == []
    # the same media checked on demand
    report = verify_mirror(context(make_plan(target))[0], to_dir=str(media))
    assert not report.ok and {p.what for p in report.problems} >= {"missing", "checksum"}


def test_media_written_by_oc_without_checksums_is_readable(
    sandbox: Any, registry_factory: Any, make_plan: Any, tmp_path: Path
) -> None:
    """oc adm release mirror --to-dir writes only v2/ and config/: the same layout, no checksum manifest."""
    media = tmp_path / "oc-media"
    mirror_release(context(make_plan(None))[0], MirrorOptions(to_dir=str(media), verify=False))
    for extra in (CHECKSUMS_JSON, SHA256SUMS):
        (media / extra).unlink()
    shutil.rmtree(media / STATE_DIR)
    target = registry_factory()
    plan = make_plan(target)
    ctx, rec = context(plan)
    summary = mirror_release(ctx, MirrorOptions(from_dir=str(media)))
    assert summary.verified
    assert any("no ocp-airgap checksum manifest" in t for t in rec.texts())
    assert_mirror_complete(target, plan, sandbox)
