"""Fuzzing the files a user or the media hands to the engine: plan files, pull secrets, signature files, media
checksum manifests and journals, each damaged the ways files get damaged — truncated, bits flipped, saved in another
encoding, bytes inserted. Seeded, deterministic, a few hundred cases, no network.

Every case must end either in success or in one :class:`~engine.errors.AirgapError` with the documented exit code
(2 for bad input; 1/3/4 where documented), a message and a fix — never another exception — and must write
nothing (the folder is byte-for-byte the same afterwards)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AirgapError
from engine.journal import Journal
from engine.mirror.media import CHECKSUMS_JSON, check_media, write_checksums
from engine.plan import Plan
from engine.pullsecret import load_file
from engine.signatures import configmap_for_release, read_signature_file, read_signatures

SEED = 20261129
CASES_PER_FAMILY = 60
DIGEST = "sha256:" + "ab" * 32

PLAN = b"""kind: ocp-airgap/plan-v1
cluster:
  kubeconfig: ~/.kube/config
mirror:
  registry: mirror.example.com:8443
  repository: ocp4/openshift4
  username: mirror-admin
release:
  version: 4.17.3
  channel: stable-4.17
  architecture: x86_64
mirroring:
  mode: direct
  concurrency: 6
"""


def _pull_secret() -> bytes:
    auth = base64.b64encode(b"user:pa55w0rd").decode()
    doc = {"auths": {"quay.io": {"auth": auth, "email": "a@b.c"}, "mirror.example.com:8443": {"auth": auth}}}
    return json.dumps(doc, indent=2).encode()


def _signature_file() -> bytes:
    cm = configmap_for_release("4.17.3", DIGEST, [b"\xa3\x01binary-signature-bytes" * 4])
    return json.dumps(cm, indent=2).encode()


def _journal() -> bytes:
    records = [
        {"seq": 1, "ts": "2026-01-01T00:00:00.000Z", "kind": "step-started", "step": "mirror", "data": {}},
        {"seq": 2, "ts": "2026-01-01T00:01:00.000Z", "kind": "change", "step": "mhc",
         "data": {"action": "pause", "resource": "machinehealthcheck/openshift-machine-api/w", "phase": "done"}},
        {"seq": 3, "ts": "2026-01-01T00:02:00.000Z", "kind": "decision", "step": "mhc",
         "data": {"key": "skip-pause", "value": False, "reason": ""}},
    ]  # fmt: skip
    return json.dumps(
        {"format": "ocp-airgap/journal-v1", "cluster": "https://api:6443", "records": records}
    ).encode()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One damage of the kinds files suffer."""
    kind = rng.choice(["truncate", "flip", "flip", "utf16", "latin1", "insert", "bom", "nul", "duplicate"])
    if kind == "truncate":
        return data[: rng.randrange(0, max(1, len(data)))]
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "utf16":
        return data.decode("utf-8", "replace").encode(rng.choice(["utf-16", "utf-16-le", "utf-32"]))
    if kind == "latin1":
        return data.decode("utf-8", "replace").replace("a", "\xe4", 3).encode("latin-1", "replace")
    if kind == "insert":
        i = rng.randrange(len(data) + 1)
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[i:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "nul":
        i = rng.randrange(len(data) + 1)
        return data[:i] + b"\x00" + data[i:]
    lines = data.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    return b"".join(lines[: i + 1] + lines[i:])


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>" for p in sorted(root.rglob("*"))
    }


def _media(root: Path) -> Path:
    """A tiny media folder with its checksum manifest, as the connected side writes it."""
    blob = b"layer bytes " * 100
    digest = hashlib.sha256(blob).hexdigest()
    blobs = root / "v2" / "openshift" / "release" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"sha256:{digest}").write_bytes(blob)
    (root / "ocp-airgap").mkdir()
    (root / "ocp-airgap" / "release.json").write_text('{"version": "4.17.3"}\n')
    write_checksums(root, extra={"release": {"version": "4.17.3"}})
    return root


def _plan(path: Path) -> Any:
    return Plan.load(path)


def _pull(path: Path) -> Any:
    return load_file(path)


def _signature(path: Path) -> Any:
    read_signature_file(path)
    return read_signatures(path, DIGEST)


def _journal_read(path: Path) -> Any:
    return Journal(path).records


FAMILIES: dict[str, tuple[Callable[[], bytes], str, Callable[[Path], Any]]] = {
    "plan": (lambda: PLAN, "plan.yaml", _plan),
    "pull-secret": (_pull_secret, "pull-secret.json", _pull),
    "signature": (_signature_file, "signature-sha256-abababababababab.json", _signature),
    "journal": (_journal, "journal.json", _journal_read),
}


def _assert_clean(exc: AirgapError | None, case: str) -> None:
    if exc is None:
        return
    assert exc.exit_code in (1, 2, 3, 4), (case, exc.exit_code, exc.message)
    assert exc.message.strip(), case
    assert exc.fix.strip(), (case, exc.message)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_damaged_input_files(family: str, tmp_path: Path) -> None:
    seed, name, read = FAMILIES[family]
    original = seed()
    read(_write(tmp_path / "pristine", name, original))  # the undamaged file is read without error
    rng = random.Random(f"{SEED}-{family}")
    for n in range(CASES_PER_FAMILY):
        data = mutate(original, rng)
        folder = tmp_path / f"case{n}"
        path = _write(folder, name, data)
        before = snapshot(folder)
        error: AirgapError | None = None
        try:
            read(path)
        except AirgapError as exc:
            error = exc
        case = f"{family} case {n}: {data[:80]!r}"
        _assert_clean(error, case)
        if error is not None and family in ("plan", "pull-secret", "journal"):
            assert error.exit_code == 2, (case, error.message)
        assert snapshot(folder) == before, f"{case}: something was written"


def test_damaged_media_manifests(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-media")
    pristine = _media(tmp_path / "pristine")
    assert check_media(pristine).ok
    original = (pristine / CHECKSUMS_JSON).read_bytes()
    for n in range(CASES_PER_FAMILY):
        root = _media(tmp_path / f"case{n}")
        (root / CHECKSUMS_JSON).write_bytes(mutate(original, rng))
        before = snapshot(root)
        error: AirgapError | None = None
        try:
            result = check_media(root)
            # a damaged manifest that still parses is caught by its record, never accepted as intact
            assert not result.ok or (root / CHECKSUMS_JSON).read_bytes() == original, f"case {n}"
        except AirgapError as exc:
            error = exc
        _assert_clean(error, f"media case {n}")
        assert snapshot(root) == before, f"media case {n}: something was written"


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path
