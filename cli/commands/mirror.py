"""``ocp-airgap mirror``: mirror the plan's release into the mirror registry, to removable media, or from it.

    ocp-airgap mirror --plan P                      direct: source registry → mirror registry
    ocp-airgap mirror --plan P --to-dir DIR         connected side: write the release to removable media
    ocp-airgap mirror --plan P --from-dir DIR       disconnected side: check the media, upload it to the mirror
    ocp-airgap mirror --plan P --dry-run            what would be copied (images, bytes); writes nothing
    ocp-airgap mirror --plan P --hop-only           only release.version when the plan holds a whole path
When the plan holds a whole update path (release.path, stored by 'ocp-airgap release --write-plan'), every
release on it is mirrored in one run (blobs the releases share are copied and stored once).
    ocp-airgap mirror verify --plan P [--deep]      check every manifest and blob of the release in the mirror
    ocp-airgap mirror verify --plan P --from-dir DIR   check media (checksums, then every image by digest)

``--backend oc`` runs ``oc adm release mirror`` / ``oc image mirror``; ``--backend oc-mirror`` runs
``oc-mirror --v2``. Interrupted? Run the same command again: what is already there is skipped.
Exit 0 on success; non-zero with the reason otherwise.
"""

from __future__ import annotations

import argparse

from cli import helptext
from cli.commands._common import (
    add_output_args,
    add_plan_arg,
    add_wait_arg,
    emitter,
    handle_errors,
    load_plan,
    positive_int,
)
from engine.errors import EXIT_FAILED, EXIT_OK
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help=_("mirror the release (direct, to media, from media) or verify the mirror"),
        description=_(__doc__),
        formatter_class=helptext.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=("run", "verify"),
        default="run",
        help=_("'verify' checks the mirror instead of copying (default: run)"),
    )
    add_plan_arg(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--to-dir", metavar="DIR", default="", help=_("write the release to removable media in DIR")
    )
    where.add_argument(
        "--from-dir", metavar="DIR", default="", help=_("upload the release from media in DIR")
    )
    p.add_argument("--dry-run", action="store_true", help=_("show what would be copied; write nothing"))
    p.add_argument(
        "--hop-only",
        action="store_true",
        help=_("mirror only release.version even when the plan holds a whole update path (release.path)"),
    )
    p.add_argument(
        "--backend",
        choices=("builtin", "oc", "oc-mirror"),
        default=None,
        help=_("who copies: ocp-airgap itself (default, the plan's mirroring.backend), oc, or oc-mirror v2"),
    )
    p.add_argument(
        "--concurrency", type=positive_int, default=0, metavar="N", help=_("images/blobs copied at once")
    )
    p.add_argument("--no-verify", action="store_true", help=_("do not verify after copying"))
    p.add_argument(
        "--no-signature",
        action="store_true",
        help=_("to media: do not fetch the release signature (not advised)"),
    )
    p.add_argument("--deep", action="store_true", help=_("verify: read every blob and check its digest"))
    p.add_argument("--no-graph", action="store_true", help=_("oc-mirror: do not build the graph-data image"))
    p.add_argument("--verbose", "-v", action="store_true", help=_("show debug lines"))
    add_wait_arg(p)
    add_output_args(p)
    p.set_defaults(func=handle_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.mirror.request import MirrorRequest

    plan = load_plan(args)
    request = MirrorRequest.from_plan(
        plan,
        to_dir=args.to_dir,
        from_dir=args.from_dir,
        backend=args.backend,
        dry_run=args.dry_run,
        verify=not args.no_verify,
        signature=not args.no_signature,
        concurrency=args.concurrency,
        graph=not args.no_graph,
    )
    ctx = Context(plan, emitter(args, "mirror"), wait_for_lock=args.wait)
    if args.action == "verify":
        from engine.mirror import verify_mirror

        # an explicit --to-dir/--from-dir checks that media; otherwise what this host's mode targets
        media = request.media if (args.to_dir or args.from_dir) else request.to_dir
        report = verify_mirror(ctx, deep=args.deep, to_dir=media, concurrency=args.concurrency)
        return EXIT_OK if report.ok else EXIT_FAILED
    from engine.mirror.path import mirror_plan

    mirror_plan(ctx, request, hop_only=args.hop_only)
    return EXIT_OK
