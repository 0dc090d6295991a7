"""The mirroring use case, the same for the wizard and the headless command: a request resolved from the plan
(which side of the air gap this host is on, the media folder, who copies) and one function that runs it.

Front ends only fill a :class:`MirrorRequest` (from the plan, plus what the user overrode) and render the
events; where the media folder is and which backend runs are decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.context import Context
from engine.errors import InputError
from engine.mirror.core import MirrorOptions, MirrorSummary, media_dir
from engine.plan import BACKENDS, Plan


@dataclass(frozen=True)
class MirrorRequest:
    mode: str
    """direct | to-media | from-media"""
    media: str = ""
    """The media folder holding ``v2/`` (absolute), for to-media and from-media."""
    backend: str = "builtin"
    dry_run: bool = False
    verify: bool = True
    signature: bool = True
    concurrency: int = 0
    graph: bool = True
    """oc-mirror: build the graph-data image."""

    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        to_dir: str = "",
        from_dir: str = "",
        backend: str | None = None,
        dry_run: bool = False,
        verify: bool = True,
        signature: bool = True,
        concurrency: int = 0,
        graph: bool = True,
    ) -> MirrorRequest:
        """The plan's mode and media folder (``<mirroring.media_path>/mirror``, as the documented procedure
        lays it out) and backend, unless the caller names a folder (``to_dir`` / ``from_dir``) or a backend."""
        if to_dir and from_dir:
            raise InputError("give either a folder to write to or one to read from, not both")
        if concurrency and not 1 <= concurrency <= 64:
            raise InputError("--concurrency must be between 1 and 64", fix="Give a number such as 6.")
        chosen = backend or plan.mirroring.backend or "builtin"
        if chosen not in BACKENDS:
            raise InputError(
                f"unknown mirroring backend {chosen!r}", fix="Use one of: " + ", ".join(BACKENDS) + "."
            )
        if to_dir:
            mode, media = "to-media", media_dir(plan, to_dir)
        elif from_dir:
            mode, media = "from-media", media_dir(plan, from_dir)
        elif plan.mirroring.mode in ("to-media", "from-media"):
            mode, media = plan.mirroring.mode, media_dir(plan)
        else:
            mode, media = "direct", ""
        return cls(
            mode=mode,
            media=media,
            backend=chosen,
            dry_run=dry_run,
            verify=verify,
            signature=signature,
            concurrency=concurrency,
            graph=graph,
        )

    @property
    def to_dir(self) -> str:
        return self.media if self.mode == "to-media" else ""

    @property
    def from_dir(self) -> str:
        return self.media if self.mode == "from-media" else ""

    def options(self) -> MirrorOptions:
        return MirrorOptions(
            to_dir=self.to_dir,
            from_dir=self.from_dir,
            dry_run=self.dry_run,
            verify=self.verify,
            signature=self.signature,
            concurrency=self.concurrency,
        )


def run_mirror(ctx: Context, request: MirrorRequest) -> MirrorSummary | dict[str, Any]:
    """Mirror the plan's release as requested: the built-in copier (a :class:`MirrorSummary`), or ``oc`` /
    ``oc-mirror`` (their summary dict)."""
    if request.backend == "oc":
        from engine.mirror.ocbackend import run_oc_backend

        return run_oc_backend(
            ctx,
            to_dir=request.to_dir,
            from_dir=request.from_dir,
            dry_run=request.dry_run,
            verify=request.verify,
        )
    if request.backend == "oc-mirror":
        from engine.mirror.ocmirror import run_oc_mirror

        return run_oc_mirror(
            ctx,
            to_dir=request.to_dir,
            from_dir=request.from_dir,
            dry_run=request.dry_run,
            graph=request.graph,
        )
    from engine.mirror.run import mirror_release

    return mirror_release(ctx, request.options())


def verify_request(ctx: Context, request: MirrorRequest, *, deep: bool = False) -> Any:
    """Verify what the request targets: the media on the connected side, the mirror registry otherwise."""
    from engine.mirror.verify import verify_mirror

    return verify_mirror(ctx, deep=deep, to_dir=request.to_dir, concurrency=request.concurrency)
