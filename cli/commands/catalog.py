"""``ocp-airgap catalog list|set|restore --plan P``: operator catalogs in ``openshift-marketplace``.

- ``list``: every CatalogSource with its index image and connection state.
- ``set NAME IMAGE``: point NAME at IMAGE (the mirrored index image, by digest); the previous image is kept in the
  journal; waits until the catalog is READY.
- ``restore NAME``: put back the image the catalog had before ``set``.
"""

from __future__ import annotations

import argparse

from cli.commands._common import (
    add_change_args,
    add_output_args,
    add_plan_arg,
    confirm,
    emitter,
    handle_errors,
    load_plan,
    positive_float,
)
from engine.errors import EXIT_OK
from engine.events import StepStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("catalog", help="list, update or restore operator CatalogSources", description=__doc__)
    psub = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    ls = psub.add_parser("list", help="CatalogSources in openshift-marketplace with their images")
    add_plan_arg(ls)
    add_output_args(ls)
    ls.set_defaults(func=handle_errors(_list))

    st = psub.add_parser("set", help="point a CatalogSource at a new index image (by digest)")
    add_plan_arg(st)
    st.add_argument("name", help="the CatalogSource name")
    st.add_argument("image", help="the index image in the mirror, by digest (<registry>/<repo>@sha256:...)")
    _wait_args(st)
    add_change_args(st)
    add_output_args(st)
    st.set_defaults(func=handle_errors(_set))

    rs = psub.add_parser("restore", help="put back the image a CatalogSource had before 'catalog set'")
    add_plan_arg(rs)
    rs.add_argument("name", help="the CatalogSource name")
    _wait_args(rs)
    add_change_args(rs)
    add_output_args(rs)
    rs.set_defaults(func=handle_errors(_restore))


def _wait_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout", type=positive_float, default=300.0, help="seconds to wait for READY (default 300)"
    )
    p.add_argument("--interval", type=positive_float, default=2.0, help="seconds between two looks")
    p.add_argument("--no-wait", action="store_true", help="do not wait for READY")


def _list(args: argparse.Namespace) -> int:
    from engine.catalog import list_catalogs
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"), wait_for_lock=getattr(args, "wait", False))
    rows = list_catalogs(ctx)
    for r in rows:
        ctx.emit.info(f"{r.name:<28} {r.state or '-':<18} {r.image}")
    ctx.emit.result(
        StepStatus.SUCCEEDED, f"{len(rows)} CatalogSource(s)", {"catalogs": [r.to_dict() for r in rows]}
    )
    return EXIT_OK


def _run(args: argparse.Namespace, restoring: bool) -> int:
    from engine.catalog import prepare_restore, prepare_set, restore, set_image, wait_ready
    from engine.changes import render_changes
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"), wait_for_lock=getattr(args, "wait", False))
    plan = prepare_restore(ctx, args.name) if restoring else prepare_set(ctx, args.name, args.image)
    if plan.change is not None:
        if not confirm(args, f"Change CatalogSource {plan.name}?", render_changes(plan.changes)):
            ctx.emit.result(StepStatus.SKIPPED, "dry run: nothing was changed")
            return EXIT_OK
        data = restore(ctx, plan) if restoring else set_image(ctx, plan)
    else:
        data = {"catalog": plan.name, "image": plan.image, "changed": False}
    if not args.no_wait:
        data["state"] = wait_ready(ctx, plan.name, plan.image, timeout=args.timeout, interval=args.interval)
    ctx.emit.result(StepStatus.SUCCEEDED, f"catalogsource/{plan.name} uses {plan.image}", data)
    return EXIT_OK


def _set(args: argparse.Namespace) -> int:
    return _run(args, restoring=False)


def _restore(args: argparse.Namespace) -> int:
    return _run(args, restoring=True)
