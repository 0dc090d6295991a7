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
import errno
import hashlib
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import AirgapError, DigestMismatch, InputError, PreconditionFailed, RegistryNotFound
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


class MediaFull(AirgapError):
    """The media ran out of space (ENOSPC, EDQUOT) or a file is larger than its file system allows (EFBIG)."""

    title = "Media full"

    def __init__(self, message: str, *, fix: str = "", free: int = 0, too_large: bool = False) -> None:
        super().__init__(message, fix=fix)
        self.free = free
        self.too_large = too_large


FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def media_writes(root: Path) -> Iterator[None]:
    """Writing to the media: a full disk or a file-size limit becomes :class:`MediaFull` (never a traceback)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in FULL_ERRNOS:
            raise
        free = 0
        with contextlib.suppress(OSError):
            free = free_space(root)
        if exc.errno == errno.EFBIG:
            raise MediaFull(
                f"the media {root} cannot hold a file this large (file-size limit of its file system, e.g. "
                "4 GiB on FAT32)",
                fix="Use media formatted with exFAT, ext4 or XFS, then run the same command again (it resumes).",
                free=free,
                too_large=True,
            ) from None
        raise MediaFull(
            f"the media {root} is full ({format_bytes(free)} free)",
            fix="Free space on the media or use larger media, then run the same command again: what is "
            "already on it is kept and counted.",
            free=free,
        ) from None


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
        with media_writes(self.root):
            self._put_manifest(repository, ref, manifest)

    def _put_manifest(self, repository: str, ref: str, manifest: Manifest) -> None:
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
            # a blob is a regular file on the media: a symbolic link (maybe to a file outside) is refused
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise RegistryNotFound(
                f"{self.root}: blob {digest} of {repository} is missing from the media",
                fix="Write the media again on the connected side (ocp-airgap mirror --to-dir ...).",
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(
                    f"{path} is a symbolic link, not a blob file: the media is not what the connected side wrote",
                    fix="Write the media again on the connected side; never upload from media someone changed.",
                    title="Media tampered",
                ) from None
            raise
        f = os.fdopen(fd, "rb")
        try:
            yield iter(lambda: f.read(CHUNK_READ), b"")
        finally:
            f.close()

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        with media_writes(self.root):
            self._push_blob(repository, digest, size, chunks)

    def _push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
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
    """missing | size | checksum | unreadable | not a file | changed"""
    detail: str = ""


@dataclass
class MediaCheck:
    files: int = 0
    bytes: int = 0
    problems: list[MediaProblem] = field(default_factory=list)
    had_manifest: bool = True
    manifest_digest: str = ""
    """``sha256:<hex>`` of the checksum manifest as found (compare it with the one shown when it was written)"""

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_READ), b""):
            h.update(chunk)
    return h.hexdigest()


MANIFEST_RECORD = f"{STATE_DIR}/media-record.json"
"""Where the connected side records the digest of the checksum manifest it wrote (also shown on both sides)."""


def write_checksums(root: Path, *, extra: dict[str, Any] | None = None) -> tuple[Path, int]:
    """Walk ``root`` and write the checksum manifest (JSON + SHA256SUMS). Content-addressed files (named
    ``sha256:<hex>``) were checked when written, so their checksum is their name; other files are hashed.

    The manifest is bound to the media's record: its SHA-256 (and that of SHA256SUMS) is written to
    ``ocp-airgap/media-record.json``, and :func:`manifest_digest` gives it to show, so a changed manifest is
    detected on the far side."""
    root = Path(root)
    files: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    skip = {CHECKSUMS_JSON, SHA256SUMS, MANIFEST_RECORD}
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
    text = json.dumps(doc, indent=1) + "\n"
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
    with media_writes(root):
        atomic_write_text(out, text, mode=0o644)
        atomic_write_text(root / SHA256SUMS, sums, mode=0o644)
        record = {
            "manifest": CHECKSUMS_JSON,
            "manifest_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "sha256sums_sha256": hashlib.sha256(sums.encode()).hexdigest(),
            "files": len(files),
        }
        atomic_write_text(root / MANIFEST_RECORD, json.dumps(record, indent=1) + "\n", mode=0o644)
    return out, len(files)


def manifest_digest(root: Path) -> str:
    """``sha256:<hex>`` of the media's checksum manifest as it is now ('' when there is none)."""
    try:
        return "sha256:" + _file_sha256(Path(root) / CHECKSUMS_JSON)
    except OSError:
        return ""


def _bad_manifest(path: Path, what: str) -> InputError:
    return InputError(
        f"the checksum manifest is not usable: {what}",
        path=str(path),
        fix="Write the media again on the connected side; never upload from media someone changed.",
        title="Media manifest damaged",
    )


def _inside(root: Path, rel: Any, path: Path) -> str:
    """A manifest path, checked: relative, no '..', and inside the media (refuses anything else)."""
    if not isinstance(rel, str) or not rel:
        raise _bad_manifest(path, f"an entry has no valid path ({rel!r})")
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or ".." in parts or any(p in ("", ".") for p in parts):
        raise _bad_manifest(path, f"the entry {rel!r} points outside the media")
    try:
        (root / rel).resolve().relative_to(root.resolve())
    except ValueError:
        raise _bad_manifest(path, f"the entry {rel!r} resolves outside the media") from None
    return rel


def _read_manifest(root: Path, path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _bad_manifest(path, f"cannot read it ({exc.strerror})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad_manifest(path, "it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the checksum manifest is damaged: {exc.msg}",
            path=str(path),
            line=exc.lineno,
            column=exc.colno,
            fix="Write the media again on the connected side.",
            title="Media manifest damaged",
        ) from None
    if not isinstance(doc, dict):
        raise _bad_manifest(path, "it is not a JSON object")
    if doc.get("format") != MEDIA_FORMAT:
        raise InputError(
            f"not an ocp-airgap checksum manifest (format {doc.get('format')!r})",
            path=str(path),
            fix="Write the media again on the connected side.",
        )
    files, links = doc.get("files", []), doc.get("symlinks", [])
    if not isinstance(files, list) or not isinstance(links, list):
        raise _bad_manifest(path, "'files' and 'symlinks' must be lists")
    for e in files:
        if not isinstance(e, dict):
            raise _bad_manifest(path, f"a file entry is not an object ({e!r:.60})")
        _inside(root, e.get("path"), path)
        size, sha = e.get("size"), e.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad_manifest(path, f"{e.get('path')}: size {size!r} is not a byte count")
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise _bad_manifest(path, f"{e.get('path')}: {sha!r} is not a SHA-256")
    for link in links:
        if not isinstance(link, dict) or not isinstance(link.get("target"), str):
            raise _bad_manifest(path, f"a symlink entry is not valid ({link!r:.60})")
        rel = _inside(root, link.get("path"), path)
        target = str(link["target"])
        if "/" in target or target in ("", ".", ".."):
            raise _bad_manifest(path, f"the link {rel!r} points outside its folder ({target!r})")
    return doc


def _check_binding(root: Path, path: Path, doc: dict[str, Any], result: MediaCheck) -> None:
    """The manifest must be the one the connected side wrote (its record), and SHA256SUMS must agree with it."""
    record_path = root / MANIFEST_RECORD
    actual = manifest_digest(root)
    result.manifest_digest = actual
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        expected = str(record["manifest_sha256"])
        sums_expected = str(record.get("sha256sums_sha256", ""))
    except FileNotFoundError:
        result.problems.append(
            MediaProblem(
                MANIFEST_RECORD, "missing", "no record of the manifest's digest: cannot tell it is unchanged"
            )
        )
        return
    except (OSError, ValueError, KeyError, TypeError):
        raise _bad_manifest(record_path, "the media record of the manifest is damaged") from None
    if "sha256:" + expected != actual:
        result.problems.append(
            MediaProblem(
                CHECKSUMS_JSON,
                "changed",
                f"its digest is {actual}, the connected side recorded sha256:{expected}",
            )
        )
    sums = root / SHA256SUMS
    try:
        sums_text = sums.read_bytes()
    except FileNotFoundError:
        result.problems.append(MediaProblem(SHA256SUMS, "missing"))
        return
    if sums_expected and hashlib.sha256(sums_text).hexdigest() != sums_expected:
        result.problems.append(
            MediaProblem(SHA256SUMS, "changed", "it is not the list the connected side wrote")
        )
    wanted = "".join(f"{f['sha256']}  {f['path']}\n" for f in doc.get("files", []))
    if sums_text != wanted.encode():
        result.problems.append(
            MediaProblem(SHA256SUMS, "changed", f"it does not agree with {CHECKSUMS_JSON}")
        )


def check_media(
    root: Path, *, jobs: int = 4, on_progress: Callable[[int, int, str], None] | None = None
) -> MediaCheck:
    """Check every file of the checksum manifest: present, a regular file inside the media, right size, right
    SHA-256 (read in full); and the manifest itself against the media's record and SHA256SUMS.

    Media without a manifest (written by ``oc``) gives ``had_manifest=False`` and no problems: its blobs are
    still checked by digest while uploading. A manifest that names paths outside the media, or is not valid, is
    an :class:`InputError` (nothing is read through it)."""
    root = Path(root)
    result = MediaCheck()
    path = root / CHECKSUMS_JSON
    if not path.is_file():
        result.had_manifest = False
        return result
    doc = _read_manifest(root, path)
    _check_binding(root, path, doc, result)
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
            st = p.lstat()
        except FileNotFoundError:
            return MediaProblem(rel, "missing")
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return MediaProblem(rel, "not a file", "a symbolic link or special file where a file was written")
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
