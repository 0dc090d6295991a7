"""``ocp-airgap release --plan P``: choose the release (docs/steps/release.md).

Reads the cluster's current version and channel, the update graph (``endpoints.update_graph``, or a file saved on
the connected side with ``--save-graph`` and carried over: ``--graph-file``), shows the shortest update path
(recommended edges, and conditional ones with their risk name, message and URL), resolves the target's digest
from the release source (a manifest HEAD, like ``oc adm release info``) and prints the release facts.

- A target the graph cannot reach is refused (exit 3) unless ``--allow-no-path``.
- ``--current V`` gives the current version on a host without the cluster (connected side).
- ``--write-plan`` stores the digest in the plan (``release.digest``) and, when the target takes more than one
  update, the whole path (``release.path``: each release with its digest and the channel for that hop), which
  ``mirror`` carries in one run and ``upgrade run-path`` applies hop by hop; with ``--next-hop`` the plan
  targets the first update of a longer path instead.
"""

from __future__ import annotations

import argparse

from cli import helptext
from cli.commands._common import add_output_args, add_plan_arg, emitter, handle_errors, load_plan
from engine.errors import EXIT_OK
from engine.events import StepStatus
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "release",
        help=_("update path and target release digest"),
        description=_(__doc__),
        formatter_class=helptext.RawDescriptionHelpFormatter,
    )
    add_plan_arg(p)
    p.add_argument("--graph-file", metavar="F", default="", help=_("read the update graph from a saved file"))
    p.add_argument(
        "--save-graph", metavar="F", default="", help=_("save the fetched graph to F (connected side)")
    )
    p.add_argument(
        "--current", metavar="V", default="", help=_("current version, when the cluster is not reachable")
    )
    p.add_argument(
        "--allow-no-path",
        action="store_true",
        help=_("continue although the graph has no path to the target (unsupported; explicit override)"),
    )
    p.add_argument("--no-resolve", action="store_true", help=_("do not contact the release source registry"))
    p.add_argument("--write-plan", action="store_true", help=_("store the target digest in the plan"))
    p.add_argument(
        "--next-hop", action="store_true", help=_("with --write-plan: target the first update of the path")
    )
    add_output_args(p)
    p.set_defaults(func=handle_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.release import select_release, store_in_plan

    plan = load_plan(args)
    emit = emitter(args, "release")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    selection = select_release(
        ctx,
        current=args.current,
        graph_file=args.graph_file,
        save_graph_to=args.save_graph,
        allow_no_path=args.allow_no_path,
        resolve=not args.no_resolve,
    )
    if args.write_plan:
        store_in_plan(ctx, selection, next_hop=args.next_hop)
    path = selection.choice.chosen
    route = path.describe() if path and path.hops else f"{selection.current} (already there)"
    summary = f"{selection.current} -> {selection.target} in {selection.channel}: {route}"
    if selection.digest:
        summary += f"; target digest {selection.digest}"
    emit.result(StepStatus.SUCCEEDED, summary, selection.to_dict())
    return EXIT_OK
