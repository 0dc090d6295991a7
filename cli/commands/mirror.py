"""``ocp-airgap mirror``: mirror the plan's release into the mirror registry, to removable media, or from it.

    ocp-airgap mirror --plan P                      direct: source registry → mirror registry
    ocp-airgap mirror --plan P --to-dir DIR         connected side: write the release to removable media
    ocp-airgap mirror --plan P --from-dir DIR       disconnected side: check the media, upload it to the mirror
    ocp-airgap mirror --plan P --dry-run            what would be copied (images, bytes); writes nothing
    ocp-airgap mirror verify --plan P [--deep]      check every manifest and blob of the release in the mirror
    ocp-airgap mirror verify --plan P --from-dir DIR   check media (checksums, then every image by digest)

``--backend oc`` runs ``oc adm release mirror`` / ``oc image mirror``; ``--backend oc-mirror`` runs
``oc-mirror --v2``. Interrupted? Run the same command again: what is already there is skipped.
Exit 0 on success; non-zero with the reason otherwise.
"""

from __future__ import annotations

import argparse
import contextlib

from cli.commands._common import (
    add_output_args,
    add_plan_arg,
    add_wait_arg,
    emitter,
    handle_errors,
    load_plan,
    positive_int,
)
from engine.errors import EXIT_FAILED, EXIT_OK, InputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="mirror the release (direct, to media, from media) or verify the mirror",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=("run", "verify"),
        default="run",
        help="'verify' checks the mirror instead of copying (default: run)",
    )
    add_plan_arg(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--to-dir", metavar="DIR", default="", help="write the release to removable media in DIR"
    )
    where.add_argument("--from-dir", metavar="DIR", default="", help="upload the release from media in DIR")
    p.add_argument("--dry-run", action="store_true", help="show what would be copied; write nothing")
    p.add_argument(
        "--backend",
        choices=("builtin", "oc", "oc-mirror"),
        default=None,
        help="who copies: ocp-airgap itself (default, the plan's mirroring.backend), oc, or oc-mirror v2",
    )
    p.add_argument(
        "--concurrency", type=positive_int, default=0, metavar="N", help="images/blobs copied at once"
    )
    p.add_argument("--no-verify", action="store_true", help="do not verify after copying")
    p.add_argument(
        "--no-signature",
        action="store_true",
        help="to media: do not fetch the release signature (not advised)",
    )
    p.add_argument("--deep", action="store_true", help="verify: read every blob and check its digest")
    p.add_argument("--no-graph", action="store_true", help="oc-mirror: do not build the graph-data image")
    p.add_argument("--verbose", "-v", action="store_true", help="show debug lines")
    add_wait_arg(p)
    add_output_args(p)
    p.set_defaults(func=handle_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from engine.context import Context

    plan = load_plan(args)
    if args.concurrency and not 1 <= args.concurrency <= 64:
        raise InputError("--concurrency must be between 1 and 64", fix="Give a number such as 6.")
    emit = emitter(args, "mirror")
    ctx = Context(plan, emit, wait_for_lock=args.wait)
    if args.action == "verify":
        from engine.mirror import verify_mirror

        media = args.to_dir or args.from_dir  # verify: check the media instead of the mirror registry
        report = verify_mirror(ctx, deep=args.deep, to_dir=media, concurrency=args.concurrency)
        return EXIT_OK if report.ok else EXIT_FAILED
    backend = args.backend or plan.mirroring.backend or "builtin"
    to_dir, from_dir = args.to_dir, args.from_dir
    if not to_dir and not from_dir and plan.mirroring.mode != "direct":
        # the plan says which side of the air gap this is; the media folder is <media_path>/mirror
        from engine.mirror import media_dir

        if plan.mirroring.mode == "to-media":
            to_dir = media_dir(plan)
        else:
            from_dir = media_dir(plan)
    if backend in ("oc", "oc-mirror"):
        from engine.mirror.run import mirror_lock

        lock = (
            contextlib.nullcontext() if args.dry_run else mirror_lock(ctx, to_dir=to_dir, from_dir=from_dir)
        )
        with lock:
            if backend == "oc":
                from engine.mirror.ocbackend import run_oc_backend

                run_oc_backend(
                    ctx, to_dir=to_dir, from_dir=from_dir, dry_run=args.dry_run, verify=not args.no_verify
                )
            else:
                from engine.mirror.ocmirror import run_oc_mirror

                run_oc_mirror(
                    ctx, to_dir=to_dir, from_dir=from_dir, dry_run=args.dry_run, graph=not args.no_graph
                )
        return EXIT_OK
    from engine.mirror import MirrorOptions, mirror_release

    options = MirrorOptions(
        to_dir=to_dir,
        from_dir=from_dir,
        dry_run=args.dry_run,
        verify=not args.no_verify,
        signature=not args.no_signature,
        concurrency=args.concurrency,
    )
    mirror_release(ctx, options)
    return EXIT_OK
