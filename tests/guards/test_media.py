"""Removable media is hostile input (item 11), and a full or limited media file system is a clear error (item 10):
paths outside the media and symlinked blobs are refused, the checksum manifest is bound to the record the
connected side wrote (its digest shown on both sides), a tampered SHA256SUMS or manifest is detected; a file-size
limit (EFBIG) and a full disk (ENOSPC) say so, and the next run counts what is already on the media."""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InputError
from engine.mirror.media import (
    CHECKSUMS_JSON,
    MANIFEST_RECORD,
    SHA256SUMS,
    DirStore,
    MediaFull,
    check_media,
    manifest_digest,
    media_writes,
)
from tests.guards.helpers import ROOT, assert_clear_error, cli, plan_copy


@pytest.fixture(scope="module")
def written(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Media written once by the connected side (to-media), and the command's output."""
    base = tmp_path_factory.mktemp("media")
    plan = plan_copy(sandbox, base)
    media = base / "media"
    res = cli("mirror", "--plan", str(plan), "--to-dir", str(media), state=base / "state", timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    return media, res.stdout


@pytest.fixture
def media(written: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "media"
    shutil.copytree(written[0], copy, symlinks=True)
    return copy


def _manifest(media: Path) -> dict[str, Any]:
    return dict(json.loads((media / CHECKSUMS_JSON).read_text()))


def _blob_entry(doc: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in doc["files"] if "/blobs/sha256:" in e["path"])


def test_digest_is_shown_on_both_sides(written: tuple[Path, str], sandbox: Any, tmp_path: Path) -> None:
    media, out = written
    shown = re.search(r"Checksum manifest digest: (sha256:[0-9a-f]{64})", out)
    assert shown, out[-2000:]
    assert shown.group(1) == manifest_digest(media)
    record = json.loads((media / MANIFEST_RECORD).read_text())
    assert "sha256:" + record["manifest_sha256"] == shown.group(1)
    res = cli("mirror", "verify", "--plan", str(plan_copy(sandbox, tmp_path)), "--from-dir", str(media),
              state=tmp_path / "state")  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    assert shown.group(1) in res.stdout  # the disconnected side shows the digest it found


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "v2/../../outside", "v2//x"])
def test_manifest_paths_outside_the_media_are_refused(
    media: Path, bad: str, sandbox: Any, tmp_path: Path
) -> None:
    doc = _manifest(media)
    doc["files"][0]["path"] = bad
    (media / CHECKSUMS_JSON).write_text(json.dumps(doc))
    with pytest.raises(InputError, match="outside the media") as info:
        check_media(media)
    assert info.value.fix and info.value.exit_code == 2
    res = cli("mirror", "verify", "--plan", str(plan_copy(sandbox, tmp_path)), "--from-dir", str(media),
              state=tmp_path / "state")  # fmt: skip
    assert_clear_error(res, 2, "outside the media")


def test_symlinked_blob_is_refused(media: Path, tmp_path: Path) -> None:
    entry = _blob_entry(_manifest(media))
    blob = media / entry["path"]
    outside = tmp_path / "outside-blob"
    shutil.copyfile(blob, outside)  # the same bytes: only the link gives it away
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(InputError, match="resolves outside the media"):
        check_media(media)
    repo, digest = entry["path"].split("/blobs/")
    store = DirStore(media)
    with (
        pytest.raises(InputError, match="is a symbolic link, not a blob file"),
        store.open_blob(repo.removeprefix("v2/"), digest),
    ):
        pass
    # a link to another file inside the media is no better: a blob must be the file that was written
    blob.unlink()
    other = media / next(e for e in _manifest(media)["files"] if e["path"].endswith("release.json"))["path"]
    blob.symlink_to(other)
    check = check_media(media)
    assert (entry["path"], "not a file") in [(p.path, p.problem) for p in check.problems]


def test_tampered_sha256sums_is_detected(media: Path) -> None:
    sums = (media / SHA256SUMS).read_text().splitlines()
    sums[0] = "0" * 64 + sums[0][64:]
    (media / SHA256SUMS).write_text("\n".join(sums) + "\n")
    problems = {(p.path, p.problem) for p in check_media(media).problems}
    assert (SHA256SUMS, "changed") in problems


def test_changed_manifest_is_detected(media: Path) -> None:
    """Someone replaces a file and rewrites the manifest and SHA256SUMS to match: the record catches it."""
    doc = _manifest(media)
    entry = next(e for e in doc["files"] if e["path"].endswith("release.json"))
    target = media / entry["path"]
    target.write_text(target.read_text().replace("4.", "9.", 1))
    import hashlib

    entry["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    entry["size"] = target.stat().st_size
    (media / CHECKSUMS_JSON).write_text(json.dumps(doc, indent=1) + "\n")
    (media / SHA256SUMS).write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in doc["files"]))
    check = check_media(media)
    assert [(p.path, p.problem) for p in check.problems] == [
        (CHECKSUMS_JSON, "changed"),
        (SHA256SUMS, "changed"),
    ]
    assert "the connected side recorded" in check.problems[0].detail


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe garbage", b"[1, 2]", b'{"format": "ocp-airgap/media-v1", "files": 3}', b'{"format": "x"}',
     b'{"format": "ocp-airgap/media-v1", "files": [{"path": "a", "size": "big", "sha256": "0"}]}'],
)  # fmt: skip
def test_garbage_manifest_is_a_clear_error(media: Path, content: bytes) -> None:
    (media / CHECKSUMS_JSON).write_bytes(content)
    with pytest.raises(InputError) as info:
        check_media(media)
    assert info.value.fix and info.value.exit_code == 2


def test_full_disk_is_named(tmp_path: Path) -> None:
    """ENOSPC from the kernel (writing /dev/full) becomes MediaFull with the free space and the fix."""
    full = r"the media .* is full \(.* free\)"
    with pytest.raises(MediaFull, match=full) as info, media_writes(tmp_path), open("/dev/full", "wb") as f:
        f.write(b"x" * 4096)
        f.flush()
    assert "run the same command again" in info.value.fix and not info.value.too_large
    assert info.value.exit_code == 1


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_file_size_limit_then_resume_counts_what_is_on_the_media(sandbox: Any, tmp_path: Path) -> None:
    plan = plan_copy(sandbox, tmp_path)
    media = tmp_path / "fat32"
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "cli", "mirror", "--plan", str(plan), "--to-dir", str(media)]
    limited = subprocess.run(
        [*args, "--concurrency", "1"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        stdin=subprocess.DEVNULL, preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert_clear_error(limited, 1, "cannot hold a file this large", "exFAT")
    assert errno.EFBIG  # the errno the limit produces
    assert not list(media.rglob("*.partial")), "no partial file is left as if it were complete"
    again = cli("mirror", "--plan", str(plan), "--to-dir", str(media), state=tmp_path / "state", timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert "is already on the media" in again.stdout, again.stdout[-3000:]
