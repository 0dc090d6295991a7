"""Faults while mirroring: the mirror registry restarted mid-copy, the mirroring process killed, media too small."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.errors import PreconditionFailed
from engine.events import Emitter, LogLine, Progress, Recorder
from engine.mirror import MirrorOptions, MirrorSummary, mirror_release, verify_mirror
from engine.oci.registry import RetryPolicy
from tests.helpers import wait_until
from tests.mirror.conftest import context

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_registry_stopped_mid_copy_and_restarted_run_completes_verified(
    sandbox: Any, registry_factory: Any, make_plan: Any
) -> None:
    target = registry_factory()
    plan = make_plan(target, mirroring__concurrency=2)
    ctx, rec = context(plan)
    first_copied = threading.Event()

    def watch(event: Any) -> None:
        if isinstance(event, LogLine) and event.text.startswith("copied "):
            first_copied.set()

    ctx.emit.add_sink(watch)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["summary"] = mirror_release(
                ctx, MirrorOptions(retry=RetryPolicy(attempts=10, max_delay=2.0))
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        wait_until(first_copied.is_set, timeout=60, what="the first image to be copied")
        total = (
            sandbox.release(sandbox.target_version).components + 2
        )  # + the release and its Sigstore signature
        target.proc.stop()
        # stay down until the copy has run into the outage (a restart between two requests would go unnoticed)
        wait_until(
            lambda: any("retrying in" in t for t in rec.texts()) or not worker.is_alive(),
            timeout=60,
            what="the mirror to notice the registry is down",
        )
        target.proc.start()
    finally:
        worker.join(timeout=180)
    assert not worker.is_alive()
    if "error" in result:  # the documented fallback: a rerun completes what the first run left
        summary = mirror_release(context(plan)[0])
    else:
        summary = result["summary"]
    assert isinstance(summary, MirrorSummary)
    assert summary.verified
    images = [e for e in rec.of(Progress) if e.unit == "images"]
    assert images and images[-1].total == total
    assert any("retrying in" in t for t in rec.texts()), "the interruption was noticed and retried"
    assert verify_mirror(context(plan)[0], deep=True).ok


def _cli(plan_path: str, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "mirror", "--plan", plan_path, "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )


def test_mirror_process_killed_mid_copy_rerun_completes(
    sandbox: Any, registry_factory: Any, make_plan: Any
) -> None:
    target = registry_factory()
    plan = make_plan(target, mirroring__concurrency=2)
    proc = _cli(str(plan.source_path))
    copied = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("kind") == "LogLine" and event["text"].startswith("copied "):
                copied += 1
                if copied == 3:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    total = sandbox.release(sandbox.target_version).components + 2  # + the release and its Sigstore signature
    assert len(target.repositories()) > 0 and copied == 3

    rerun = _cli(str(plan.source_path))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    texts = [e["text"] for e in events if e.get("kind") == "LogLine"]
    skipped = sum(1 for t in texts if t.startswith("skipped "))
    copied_now = sum(1 for t in texts if t.startswith("copied "))
    assert skipped >= 3 and skipped + copied_now == total
    final = [e for e in events if e.get("kind") == "StepResult"][-1]
    assert final["status"] == "succeeded" and final["data"]["verified"] is True
    assert verify_mirror(context(plan)[0]).ok


def test_media_too_small_is_refused_before_writing_probe(make_plan: Any, tmp_path: Path) -> None:
    media = tmp_path / "small"
    probes: list[Path] = []

    def tiny(path: Path) -> int:
        probes.append(path)
        return 3 * 1024 * 1024

    rec = Recorder()
    ctx, _ = context(make_plan(None))
    ctx.emit = Emitter("mirror", rec)
    with pytest.raises(PreconditionFailed) as err:
        mirror_release(ctx, MirrorOptions(to_dir=str(media), free_space_probe=tiny))
    assert "nothing was written" in err.value.message and "free" in err.value.message
    assert err.value.fix
    assert probes and probes[0] == media
    assert not media.exists()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Any:
    """A 1 MiB tmpfs (root only): real media that is too small."""
    mnt = tmp_path / "tiny-media"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()}); the probe test covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_media_too_small_is_refused_before_writing_tmpfs(make_plan: Any, tiny_tmpfs: Path) -> None:
    ctx, _ = context(make_plan(None))
    with pytest.raises(PreconditionFailed) as err:
        mirror_release(ctx, MirrorOptions(to_dir=str(tiny_tmpfs)))
    assert "only 1.0 MiB is free" in err.value.message
    assert list(tiny_tmpfs.iterdir()) == []


def test_registry_down_for_good_stops_with_a_plain_error_and_a_rerun_resumes(
    sandbox: Any, registry_factory: Any, make_plan: Any
) -> None:
    from engine.errors import RegistryError

    target = registry_factory()
    plan = make_plan(target, mirroring__concurrency=2)
    ctx, rec = context(plan)
    stopped = threading.Event()

    def watch(event: Any) -> None:
        if isinstance(event, LogLine) and event.text.startswith("copied ") and not stopped.is_set():
            stopped.set()
            target.proc.stop()  # and it stays down

    ctx.emit.add_sink(watch)
    with pytest.raises(RegistryError) as err:
        mirror_release(ctx, MirrorOptions(retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)))
    assert "still failing after 3 attempts" in err.value.message and "\n" not in err.value.message
    assert "run the same command again" in err.value.fix
    target.proc.start()
    summary = mirror_release(context(plan)[0])
    assert summary.verified and 0 < summary.images_copied < summary.images_total
