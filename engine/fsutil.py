"""Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over the target,
fsync the folder. A reader sees the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(
    path: Path, data: bytes, *, mode: int = 0o600, keep_previous: bool = False
) -> Path | None:
    """Write ``data`` to ``path`` atomically with the given permission bits.

    The temporary file is created with ``mode`` from the start (never world-readable in between).
    With ``keep_previous`` the old file, if any, is kept as ``<name>.bak`` (same mode) and its path returned."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    backup: Path | None = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            backup = path.with_name(path.name + ".bak")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)
            os.link(path, backup)
            os.chmod(backup, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return backup


def atomic_write_text(
    path: Path, text: str, *, mode: int = 0o600, keep_previous: bool = False
) -> Path | None:
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode, keep_previous=keep_previous)


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
