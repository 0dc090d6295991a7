"""Every release of the update path in one mirroring run: direct, to one medium, or from it.

A layer over the one-release use case (:func:`engine.mirror.request.run_mirror`): for each release of the
plan's ``release.path``, the same :class:`~engine.mirror.request.MirrorRequest` with the plan narrowed to that
hop (:meth:`engine.plan.Plan.for_hop`). Nothing new copies a byte: blobs already in the target are skipped by
the copier, and the media folder keeps each blob once by digest (``v2/<repo>/blobs/<digest>``), so blobs that
releases share are stored and carried once. Every hop's OpenPGP signature file goes onto the media with it
(``config/signature-sha256-<hex>.json``); the from-media side uploads and verifies every release of the path.

What is measured afterwards, from the target itself (the media folder, or the mirror registry): each release's
own size (its manifests and distinct blobs) and what the path takes in all — on the media, the bytes of the
blob files actually there. The difference is what sharing saved. A dry run reports the size to copy per hop
and their sum (an upper bound: each hop is looked at before the previous one was copied).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.context import Context
from engine.errors import AirgapError, InputError
from engine.events import StepStatus
from engine.journal import Journal
from engine.mirror.core import STEP, MirrorSummary, _journals
from engine.mirror.media import MEDIA_REPOSITORY, DirStore, write_checksums
from engine.mirror.request import MirrorRequest, run_mirror
from engine.oci.registry import ImageStore
from engine.util import format_bytes


@dataclass
class PathMirrorSummary:
    mode: str
    versions: list[str]
    target: str
    dry_run: bool = False
    hops: list[dict[str, Any]] = field(default_factory=list)
    """Each hop's own summary (``MirrorSummary.to_dict()`` or the backend's dict)."""
    release_bytes: dict[str, int] = field(default_factory=dict)
    """Each release's own size (manifests + distinct blobs), measured in the target."""
    stored_bytes: int = 0
    """What the whole path takes in the target: on media, the blob and manifest files there; in a registry,
    the distinct blobs and manifests of the path's releases."""
    written_bytes: int = 0
    """Bytes this run copied (all hops)."""

    @property
    def separate_bytes(self) -> int:
        """What the releases would take one medium (or one copy) each."""
        return sum(self.release_bytes.values())

    @property
    def saved_bytes(self) -> int:
        return max(0, self.separate_bytes - self.stored_bytes) if self.stored_bytes else 0

    @property
    def ratio_to_largest(self) -> float:
        largest = max(self.release_bytes.values(), default=0)
        return self.stored_bytes / largest if largest else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "path": list(self.versions),
            "target": self.target,
            "dry_run": self.dry_run,
            "hops": list(self.hops),
            "release_bytes": dict(self.release_bytes),
            "separate_bytes": self.separate_bytes,
            "stored_bytes": self.stored_bytes,
            "written_bytes": self.written_bytes,
            "saved_bytes": self.saved_bytes,
            "ratio_to_largest": round(self.ratio_to_largest, 4),
        }

    def line(self) -> str:
        if self.dry_run:
            per = ", ".join(
                f"{h.get('version', '?')}: {format_bytes(int(h.get('bytes_needed', 0)))}" for h in self.hops
            )
            total = sum(int(h.get("bytes_needed", 0)) for h in self.hops)
            return (
                f"dry run of the path {' -> '.join(self.versions)}: {per}; in all at most {format_bytes(total)} "
                "(blobs the releases share are copied once, so the run needs less); nothing was written"
            )
        return (
            f"path {' -> '.join(self.versions)} in {self.target}: {len(self.versions)} releases, "
            f"{format_bytes(self.written_bytes)} copied now; the releases take {format_bytes(self.separate_bytes)} "
            f"one by one and {format_bytes(self.stored_bytes)} together (saved {format_bytes(self.saved_bytes)}, "
            f"{self.ratio_to_largest:.2f}x the largest release)"
        )


def holds_path(ctx: Context) -> bool:
    return len(ctx.plan.path_versions) > 1


def mirror_plan(ctx: Context, request: MirrorRequest, *, hop_only: bool = False) -> Any:
    """What both front ends call: the whole path when the plan holds one (unless ``hop_only``), else the one
    release of ``release.version``."""
    if holds_path(ctx) and not hop_only:
        return mirror_path(ctx, request)
    return run_mirror(ctx, request)


def mirror_path(ctx: Context, request: MirrorRequest) -> PathMirrorSummary:
    """Mirror every release of ``release.path`` (as ``request`` says: direct, to media, from media)."""
    plan = ctx.plan
    versions = plan.path_versions
    if not versions:
        raise InputError(
            "the plan holds no update path (release.path)",
            fix="Store it with 'ocp-airgap release --plan P --write-plan', or mirror one release (--hop-only).",
        )
    if request.backend != "builtin" and not request.dry_run:
        ctx.emit.info(f"The {request.backend} backend mirrors one release per run: running it once per hop.")
    summary = PathMirrorSummary(
        mode=request.mode,
        versions=versions,
        target=request.media or plan.mirror_repository,
        dry_run=request.dry_run,
    )
    ctx.emit.info(
        f"Mirroring the whole update path in one run: {' -> '.join(versions)} "
        f"({'to the media ' + request.media if request.mode == 'to-media' else 'from the media ' + request.media if request.mode == 'from-media' else 'into ' + plan.mirror_repository})"
    )
    journals = [] if request.dry_run else _path_journals(ctx, request)
    for jr in journals:
        jr.step_started(STEP, mode=request.mode, path=versions, release=versions[-1], target=summary.target)
    last: Any = None
    try:
        for i, version in enumerate(versions, 1):
            ctx.check_cancel()
            ctx.emit.info(f"— release {i} of {len(versions)}: {version} —")
            hop_ctx = Context(plan.for_hop(version), ctx.emit, ctx.cancel, ctx._cluster, ctx._journal)
            result = run_mirror(hop_ctx, request)
            last = result
            data = result.to_dict() if isinstance(result, MirrorSummary) else dict(result)
            data.setdefault("version", version)
            summary.hops.append(data)
            summary.written_bytes += int(data.get("bytes_copied", 0) or 0)
        if not request.dry_run:
            _measure(ctx, request, summary)
    except BaseException as exc:
        for jr in journals:
            with contextlib.suppress(Exception):
                status = (
                    "cancelled"
                    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "Cancelled"
                    else "failed"
                )
                text = exc.message if isinstance(exc, AirgapError) else type(exc).__name__
                jr.step_finished(
                    STEP, status, f"path {' -> '.join(versions)}: {text}", mode=request.mode, path=versions
                )
        raise
    line = summary.line()
    if not request.dry_run:
        release = (
            {"version": last.release.version, "digest": last.release.digest}
            if isinstance(last, MirrorSummary)
            else versions[-1]
        )
        for jr in journals:
            data = {k: v for k, v in summary.to_dict().items() if k != "hops"}
            jr.step_finished(STEP, "succeeded", line, release=release, **data)
        if request.mode == "to-media" and isinstance(last, MirrorSummary):
            from engine.mirror.core import _media_extra

            # the media's journal changed: refresh its checksum entry (and name every release on it)
            extra = _media_extra(last.release)
            extra["path"] = [
                {"version": h.get("version"), "digest": h.get("digest"), "tag": h.get("release_tag")}
                for h in summary.hops
            ]
            write_checksums(Path(request.media), extra=extra)
    ctx.emit.result(StepStatus.SUCCEEDED, line, summary.to_dict())
    return summary


def _path_journals(ctx: Context, request: MirrorRequest) -> list[Journal]:
    return _journals(ctx, request.media if request.mode == "to-media" else "")


# ----- measuring -------------------------------------------------------------------------------------------
def _measure(ctx: Context, request: MirrorRequest, summary: PathMirrorSummary) -> None:
    plan = ctx.plan
    arch = plan.release.architecture
    if request.mode == "to-media":
        store: ImageStore = DirStore(request.media, fsync=False)
        repo = MEDIA_REPOSITORY
        sizes, union = release_sizes(store, repo, [f"{v}-{arch}" for v in summary.versions])
        summary.release_bytes = sizes
        summary.stored_bytes = media_bytes(Path(request.media), repo)
        ctx.emit.info(
            f"On the media: {format_bytes(summary.stored_bytes)} of blobs and manifests ({format_bytes(union)} referenced by the path)."
        )
        return
    if request.backend != "builtin":
        return
    from engine.mirror.core import _registries

    regs = _registries(ctx, 2)
    try:
        store = regs.get(plan.mirror.registry)
        sizes, union = release_sizes(store, plan.mirror.repository, [f"{v}-{arch}" for v in summary.versions])
    except AirgapError as exc:
        ctx.emit.warning(f"could not measure the releases in {plan.mirror_repository}: {exc.message}")
        return
    finally:
        regs.close()
    summary.release_bytes = sizes
    summary.stored_bytes = union


def release_sizes(store: ImageStore, repository: str, release_tags: list[str]) -> tuple[dict[str, int], int]:
    """Each release's size (its tags ``<version>-<arch>`` and ``<version>-<arch>-<component>``: manifest bytes
    plus distinct blobs) and the size of their union, read from ``store``."""
    tags = store.list_tags(repository)
    per: dict[str, int] = {}
    every: dict[str, int] = {}
    for rtag in release_tags:
        mine: dict[str, int] = {}
        for tag in tags:
            if tag != rtag and not tag.startswith(rtag + "-"):
                continue
            _walk(store, repository, tag, mine)
        per[rtag.rsplit("-", 1)[0]] = sum(mine.values())
        every.update(mine)
    return per, sum(every.values())


def _walk(store: ImageStore, repository: str, ref: str, out: dict[str, int]) -> None:
    manifest = store.get_manifest(repository, ref)
    out[manifest.digest] = len(manifest.data)
    if manifest.is_index:
        for child in manifest.children():
            if child.digest not in out:
                _walk(store, repository, child.digest, out)
        return
    for blob in manifest.blobs():
        out[blob.digest] = max(0, blob.size)


def media_bytes(root: Path, repository: str = MEDIA_REPOSITORY) -> int:
    """Bytes of the blob and manifest files in the media's repository (each file counted once, links not
    followed): what the medium really holds for the releases."""
    base = root / "v2" / repository
    total = 0
    seen: set[tuple[int, int]] = set()
    for sub in ("blobs", "manifests"):
        folder = base / sub
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.is_symlink() or not p.is_file():
                continue
            st = p.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


__all__ = ["PathMirrorSummary", "holds_path", "media_bytes", "mirror_path", "mirror_plan", "release_sizes"]
