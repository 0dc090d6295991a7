"""Removable media: the ``oc image mirror --dir`` / ``--from-dir`` on-disk layout, its checksum manifest and
the free-space check.

Layout (as ``oc`` writes and reads it; it mirrors the HTTP structure of a registry)::

    DIR/v2/<repository>/blobs/sha256:<hex>          blob content (config, layers, manifests)
    DIR/v2/<repository>/manifests/sha256:<hex>      hard link to the blob holding that manifest
    DIR/v2/<repository>/manifests/<tag>             symbolic link to sha256:<hex>
    DIR/config/signature-sha256-<16 hex>.json       the release signature ConfigMap (.yaml accepted on read)
    DIR/ocp-airgap/                                 plan, release description, run journal (ocp-airgap only)
    DIR/ocp-airgap-media.json                       checksum manifest of every file (ocp-airgap only)
    DIR/SHA256SUMS                                  the same checksums for 'sha256sum -c'

Blob files are written to a temporary name, hashed on the way, and renamed into place only when the digest
matches; so a file with a digest name is always complete and correct when written, and an interrupted run
leaves at most ``.partial`` files that the next run removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DigestMismatch, InputError, PreconditionFailed, RegistryNotFound
from engine.fsutil import atomic_write_bytes, atomic_write_text, fsync_dir
from engine.oci.registry import (
    CHUNK_READ,
    HashingIterator,
    Manifest,
    detect_media_type,
    is_digest,
    sha256_digest,
)
from engine.util import format_bytes

MEDIA_REPOSITORY = "openshift/release"
"""Where ``oc adm release mirror --to-dir`` puts a release when no ``--to`` is given (file://openshift/release)."""
CHECKSUMS_JSON = "ocp-airgap-media.json"
SHA256SUMS = "SHA256SUMS"
STATE_DIR = "ocp-airgap"
MEDIA_FORMAT = "ocp-airgap/media-v1"
PARTIAL_SUFFIX = ".partial"

FreeSpaceProbe = Callable[[Path], int]


def free_space(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


class DirStore:
    """An :class:`~engine.oci.registry.ImageStore` over a mirror folder (read and write)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).absolute()
        self.fsync = fsync
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"file://{self.root}"

    def close(self) -> None:
        return None

    def _repo(self, repository: str) -> Path:
        if ".." in repository.split("/") or repository.startswith("/"):
            raise InputError(f"invalid repository name {repository!r}")
        return self.root / "v2" / repository

    def blob_path(self, repository: str, digest: str) -> Path:
        return self._repo(repository) / "blobs" / digest

    def manifest_path(self, repository: str, ref: str) -> Path:
        return self._repo(repository) / "manifests" / ref

    # ----- manifests ---------------------------------------------------------------------------------
    def get_manifest(self, repository: str, ref: str) -> Manifest:
        path = self.manifest_path(repository, ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RegistryNotFound(
                f"{self.root}: {repository}:{ref} is not on the media (no {path.relative_to(self.root)})",
                fix="Check that this is the folder written by the connected side, and the release version.",
            ) from None
        digest = ref if is_digest(ref) else os.readlink(path) if path.is_symlink() else sha256_digest(data)
        manifest = Manifest(data, detect_media_type(data), sha256_digest(data))
        if is_digest(digest) and manifest.digest != digest:
            raise DigestMismatch(
                f"{path}: the manifest's digest is {manifest.digest}, expected {digest} — the media is damaged",
                fix="Write the media again on the connected side.",
            )
        return manifest

    def head_manifest(self, repository: str, ref: str) -> str | None:
        path = self.manifest_path(repository, ref)
        if is_digest(ref):
            return ref if path.is_file() else None
        if path.is_symlink():
            target = os.readlink(path)
            name = os.path.basename(target)
            if is_digest(name) and (path.parent / name).is_file():
                return name
            return None
        if path.is_file():
            return sha256_digest(path.read_bytes())
        return None

    def put_manifest(self, repository: str, ref: str, manifest: Manifest) -> None:
        from engine.oci.registry import check_digest

        check_digest(manifest.data, manifest.digest, f"manifest for {repository}:{ref}")
        blob = self.blob_path(repository, manifest.digest)
        if not blob.is_file():
            atomic_write_bytes(blob, manifest.data, mode=0o644)
        mdir = self.manifest_path(repository, manifest.digest).parent
        mdir.mkdir(parents=True, exist_ok=True)
        by_digest = mdir / manifest.digest
        if not by_digest.exists():
            tmp = mdir / f".{manifest.digest}{PARTIAL_SUFFIX}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.link(blob, tmp)
            os.replace(tmp, by_digest)
        if not is_digest(ref):
            link = mdir / ref
            if not (link.is_symlink() and os.readlink(link) == manifest.digest):
                tmp = mdir / f".{ref}{PARTIAL_SUFFIX}"
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.symlink(manifest.digest, tmp)
                os.replace(tmp, link)
        if self.fsync:
            fsync_dir(mdir)

    def list_tags(self, repository: str) -> list[str]:
        mdir = self._repo(repository) / "manifests"
        if not mdir.is_dir():
            return []
        return sorted(p.name for p in mdir.iterdir() if p.is_symlink() and not p.name.startswith("."))

    # ----- blobs -------------------------------------------------------------------------------------
    def blob_size(self, repository: str, digest: str) -> int | None:
        try:
            return self.blob_path(repository, digest).stat().st_size
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        path = self.blob_path(repository, digest)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise RegistryNotFound(
                f"{self.root}: blob {digest} of {repository} is missing from the media",
                fix="Write the media again on the connected side (ocp-airgap mirror --to-dir ...).",
            ) from None
        try:
            yield iter(lambda: f.read(CHUNK_READ), b"")
        finally:
            f.close()

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        final = self.blob_path(repository, digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + f".{os.getpid()}.{threading.get_ident()}{PARTIAL_SUFFIX}")
        hashing = HashingIterator(chunks)
        try:
            with open(tmp, "wb") as f:
                for chunk in hashing:
                    f.write(chunk)
                hashing.check(digest, size, f"blob {digest}")
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        src = self.blob_path(from_repository, digest)
        dst = self.blob_path(repository, digest)
        if not src.is_file():
            return False
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except FileExistsError:
            return True
        except OSError:
            return False
        return True

    def remove_partials(self) -> int:
        """Remove temporary files an interrupted run left behind; returns how many."""
        n = 0
        v2 = self.root / "v2"
        if not v2.is_dir():
            return 0
        for p in v2.rglob(f"*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
        return n


# ----- free space -------------------------------------------------------------------------------------------
def check_free_space(
    directory: Path, needed: int, *, probe: FreeSpaceProbe = free_space, margin: float = 0.02
) -> int:
    """Refuse (PreconditionFailed) when ``needed`` bytes (+ a small margin) do not fit; returns the free bytes."""
    free = probe(directory)
    want = int(needed * (1 + margin)) + 1024 * 1024
    if want > free:
        raise PreconditionFailed(
            f"the release needs about {format_bytes(want)} on {directory} but only {format_bytes(free)} is free; "
            "nothing was written",
            fix="Use larger media (or free space on it), or point --to-dir at another file system.",
        )
    return free


# ----- checksum manifest ------------------------------------------------------------------------------------
@dataclass
class MediaProblem:
    path: str
    problem: str
    """missing | size | checksum | unreadable"""
    detail: str = ""


@dataclass
class MediaCheck:
    files: int = 0
    bytes: int = 0
    problems: list[MediaProblem] = field(default_factory=list)
    had_manifest: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_READ), b""):
            h.update(chunk)
    return h.hexdigest()


def write_checksums(root: Path, *, extra: dict[str, Any] | None = None) -> tuple[Path, int]:
    """Walk ``root`` and write the checksum manifest (JSON + SHA256SUMS). Content-addressed files (named
    ``sha256:<hex>``) were checked when written, so their checksum is their name; other files are hashed."""
    root = Path(root)
    files: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    skip = {CHECKSUMS_JSON, SHA256SUMS}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if rel in skip or name.endswith((PARTIAL_SUFFIX, ".lock")) or name.startswith("."):
                continue
            if p.is_symlink():
                links.append({"path": rel, "target": os.readlink(p)})
                continue
            st = p.stat()
            sha = name.split(":", 1)[1] if is_digest(name) else _file_sha256(p)
            files.append({"path": rel, "size": st.st_size, "sha256": sha})
    doc = {"format": MEDIA_FORMAT, **(extra or {}), "files": files, "symlinks": links}
    out = root / CHECKSUMS_JSON
    atomic_write_text(out, json.dumps(doc, indent=1) + "\n", mode=0o644)
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
    atomic_write_text(root / SHA256SUMS, sums, mode=0o644)
    return out, len(files)


def check_media(
    root: Path, *, jobs: int = 4, on_progress: Callable[[int, int, str], None] | None = None
) -> MediaCheck:
    """Check every file of the checksum manifest: present, right size, right SHA-256 (read in full).

    Media without a manifest (written by ``oc``) gives ``had_manifest=False`` and no problems: its blobs are
    still checked by digest while uploading."""
    root = Path(root)
    result = MediaCheck()
    path = root / CHECKSUMS_JSON
    if not path.is_file():
        result.had_manifest = False
        return result
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the checksum manifest is damaged: {exc.msg}",
            path=str(path),
            line=exc.lineno,
            column=exc.colno,
            fix="Write the media again on the connected side.",
        ) from None
    if doc.get("format") != MEDIA_FORMAT:
        raise InputError(
            f"not an ocp-airgap checksum manifest (format {doc.get('format')!r})", path=str(path)
        )
    entries = list(doc.get("files", []))
    total = sum(int(e.get("size", 0)) for e in entries)
    result.files = len(entries)
    result.bytes = total
    done = 0
    lock = threading.Lock()

    def check(entry: dict[str, Any]) -> MediaProblem | None:
        nonlocal done
        rel = str(entry["path"])
        p = root / rel
        size = int(entry.get("size", -1))
        try:
            st = p.stat()
        except FileNotFoundError:
            return MediaProblem(rel, "missing")
        try:
            if st.st_size != size:
                return MediaProblem(rel, "size", f"{st.st_size} bytes, expected {size}")
            sha = _file_sha256(p)
        except OSError as exc:
            return MediaProblem(rel, "unreadable", exc.strerror or str(exc))
        finally:
            with lock:
                done += max(0, size)
                if on_progress is not None:
                    on_progress(done, total, rel)
        if sha != entry.get("sha256"):
            return MediaProblem(
                rel, "checksum", f"sha256 {sha[:12]}…, expected {str(entry.get('sha256'))[:12]}…"
            )
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for problem in pool.map(check, entries):
            if problem is not None:
                result.problems.append(problem)
    for link in doc.get("symlinks", []):
        p = root / str(link["path"])
        if not p.is_symlink():
            result.problems.append(MediaProblem(str(link["path"]), "missing", "tag link"))
        elif os.readlink(p) != link.get("target"):
            result.problems.append(MediaProblem(str(link["path"]), "checksum", "tag link points elsewhere"))
    return result


# ----- signature files ----------------------------------------------------------------------------------------
def signature_file_name(digest: str, ext: str = "json") -> str:
    return f"signature-sha256-{digest.split(':', 1)[1][:16]}.{ext}"


def find_signature_file(root: Path, digest: str) -> Path | None:
    """``config/signature-sha256-<16hex>.json`` (or ``.yaml`` / ``.yml``) on the media, if there."""
    for ext in ("json", "yaml", "yml"):
        p = Path(root) / "config" / signature_file_name(digest, ext)
        if p.is_file():
            return p
    return None


__all__ = [
    "CHECKSUMS_JSON",
    "MEDIA_REPOSITORY",
    "SHA256SUMS",
    "STATE_DIR",
    "DirStore",
    "MediaCheck",
    "MediaProblem",
    "check_free_space",
    "check_media",
    "find_signature_file",
    "free_space",
    "signature_file_name",
    "write_checksums",
]
