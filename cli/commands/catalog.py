"""``ocp-airgap catalog ACTION --plan P``: operator catalogs.

- ``list``: every CatalogSource with its index image and connection state.
- ``set NAME IMAGE``: point NAME at IMAGE (the mirrored index image, by digest); the previous image is kept in the
  journal; waits until the catalog is READY.
- ``restore NAME``: put back the image the catalog had before ``set``.
- ``operators``: the installed operators, compatible or blocking the target minor, and what to update them to.
- ``packages``: what an index image holds (packages, channels, heads, versions).
- ``mirror``: mirror a filtered catalog (installed packages by default) with every bundle and related image;
  ``--to-dir``/``--from-dir`` for removable media (by default the plan's ``mirroring.mode`` decides, with
  ``<mirroring.media_path>/catalog``); ``--dry-run``; validated before anything is copied.
- ``apply``: point the cluster at the mirrored catalog (OperatorHub, CatalogSource by digest, IDMS, ITMS,
  ClusterCatalog on 4.18+) and wait until it serves and the Subscriptions resolve.
- ``revert``: undo what ``apply`` changed.
- ``channel NAMESPACE/SUBSCRIPTION CHANNEL``: move an operator to another channel and wait until it is updated.
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
    human,
    load_plan,
    positive_float,
)
from engine.errors import EXIT_OK, EXIT_REFUSED
from engine.events import StepStatus
from tui.i18n import N_, _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "catalog", help=_("list, update or restore operator CatalogSources"), description=_(__doc__)
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    ls = psub.add_parser("list", help=_("CatalogSources in openshift-marketplace with their images"))
    add_plan_arg(ls)
    add_output_args(ls)
    ls.set_defaults(func=handle_errors(_list))

    st = psub.add_parser("set", help=_("point a CatalogSource at a new index image (by digest)"))
    add_plan_arg(st)
    st.add_argument("name", help=_("the CatalogSource name"))
    st.add_argument(
        "image", help=_("the index image in the mirror, by digest (<registry>/<repo>@sha256:...)")
    )
    _wait_args(st)
    add_change_args(st)
    add_output_args(st)
    st.set_defaults(func=handle_errors(_set))

    rs = psub.add_parser("restore", help=_("put back the image a CatalogSource had before 'catalog set'"))
    add_plan_arg(rs)
    rs.add_argument("name", help=_("the CatalogSource name"))
    _wait_args(rs)
    add_change_args(rs)
    add_output_args(rs)
    rs.set_defaults(func=handle_errors(_restore))

    op = psub.add_parser(
        "operators", help=_("installed operators: compatible with the target or blocking it")
    )
    add_plan_arg(op)
    op.add_argument(
        "--index",
        default="",
        help=_("index image to look up updates in (default: the plan's, or the catalog read last)"),
    )
    op.add_argument(
        "--offline", action="store_true", help=_("do not read the index image; use the catalog read last")
    )
    add_output_args(op)
    op.set_defaults(func=handle_errors(_operators))

    pk = psub.add_parser("packages", help=_("what an index image holds"))
    add_plan_arg(pk)
    pk.add_argument(
        "--index", default="", help=_("index image (default: endpoints.operator_index:v<target minor>)")
    )
    add_output_args(pk)
    pk.set_defaults(func=handle_errors(_packages))

    mi = psub.add_parser(
        "mirror", help=_("mirror a filtered catalog and its images (direct, to or from media)")
    )
    add_plan_arg(mi)
    mi.add_argument(
        "--index", default="", help=_("index image (default: endpoints.operator_index:v<target minor>)")
    )
    mi.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME",
        help=_(
            "package to keep (repeat; default: the installed operators); NAME>=VERSION keeps the versions "
            "from VERSION to the head (what the cluster runs, when this host cannot read it)"
        ),
    )
    mi.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="PACKAGE=CHANNEL",
        help=_(
            "channel to keep for a package (repeat; default: the subscribed one, plus the one to "
            "update a blocking operator through)"
        ),
    )
    mi.add_argument(
        "--to-dir",
        default="",
        help=_(
            "write to removable media (this folder; default with mirroring.mode to-media: "
            "<mirroring.media_path>/catalog)"
        ),
    )
    mi.add_argument(
        "--from-dir",
        default="",
        help=_(
            "upload from removable media (the folder written by --to-dir; default with mirroring.mode "
            "from-media: <mirroring.media_path>/catalog)"
        ),
    )
    mi.add_argument(
        "--direct", action="store_true", help=_("registry to registry, whatever the plan's mirroring.mode")
    )
    mi.add_argument("--dry-run", action="store_true", help=_("show what would be copied, copy nothing"))
    mi.add_argument("--no-verify", action="store_true", help=_("do not verify the copy"))
    mi.add_argument(
        "--output-dir", default="", help=_("where the ImageDigestMirrorSet/ImageTagMirrorSet files go")
    )
    add_output_args(mi)
    mi.set_defaults(func=handle_errors(_mirror))

    ap = psub.add_parser("apply", help=_("point the cluster at the mirrored catalog"))
    add_plan_arg(ap)
    ap.add_argument(
        "--image", default="", help=_("the mirrored index by digest (default: the last mirrored one)")
    )
    ap.add_argument(
        "--name", default="", help=_("CatalogSource to use (default: the ones the Subscriptions use)")
    )
    _wait_args(ap)
    add_change_args(ap)
    add_output_args(ap)
    ap.set_defaults(func=handle_errors(_apply))

    rv = psub.add_parser("revert", help=_("undo what 'catalog apply' changed"))
    add_plan_arg(rv)
    add_change_args(rv)
    add_output_args(rv)
    rv.set_defaults(func=handle_errors(_revert))

    ch = psub.add_parser(
        "channel", help=_("move an operator's Subscription to another channel and wait for it")
    )
    add_plan_arg(ch)
    ch.add_argument("subscription", help=_("NAMESPACE/NAME of the Subscription"))
    ch.add_argument("channel", help=_("the channel to move to"))
    ch.add_argument(
        "--until", default="", help=_("wait until this CSV is installed (default: the channel head)")
    )
    _wait_args(ch)
    add_change_args(ch)
    add_output_args(ch)
    ch.set_defaults(func=handle_errors(_channel))

    ab = psub.add_parser(
        "accept-blocking",
        help=_(
            "accept, explicitly and journaled, that installed operators block "
            "the target minor (the update step then starts anyway)"
        ),
    )
    add_plan_arg(ab)
    ab.add_argument("--reason", required=True, help=_("why (kept in the journal)"))
    add_change_args(ab)
    add_output_args(ab)
    ab.set_defaults(func=handle_errors(_accept_blocking))


def _wait_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout", type=positive_float, default=300.0, help=_("seconds to wait for READY (default 300)")
    )
    p.add_argument("--interval", type=positive_float, default=2.0, help=_("seconds between two looks"))
    p.add_argument("--no-wait", action="store_true", help=_("do not wait for READY"))


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
        if not confirm(
            args, N_("Change CatalogSource {name}?"), render_changes(plan.changes), name=plan.name
        ):
            ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was changed")))
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


# ----- operator catalogs end to end ---------------------------------------------------------------------------
def _operators(args: argparse.Namespace) -> int:
    from engine.catalogs.mirror import read_operators
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"))
    target = ctx.plan.release.version
    source, cat, ops = read_operators(ctx, args.index, offline=args.offline)
    blocking = [o for o in ops if o.blocks(target)]
    for o in ops:
        state = "BLOCKS " + target if o.blocks(target) else "ok"
        extra = ""
        if o.update_to:
            extra = f" -> update to {o.update_to['version']} in channel {o.update_to['channel']} first"
        elif o.blocks(target):
            extra = " -> no compatible version found in the catalog" if cat else " -> (no catalog read)"
        ctx.emit.info(
            f"{o.namespace + '/' + (o.subscription or o.csv):<50} {o.version or '?':<10} "
            f"{o.channel or '-':<16} max OCP {o.max_openshift or '-':<6} {state}{extra}"
        )
    data = {
        "target": target,
        "catalog": source,
        "operators": [o.to_dict() for o in ops],
        "blocking": [o.package for o in blocking],
    }
    ctx.emit.result(
        StepStatus.FAILED if blocking else StepStatus.SUCCEEDED,
        f"{len(blocking)} of {len(ops)} operator(s) block {target}"
        if blocking
        else f"{len(ops)} operator(s), none blocks {target}",
        data,
    )
    return EXIT_REFUSED if blocking else EXIT_OK


def _packages(args: argparse.Namespace) -> int:
    from engine.catalogs import fbc
    from engine.catalogs.mirror import _registries_with_index, default_index, read_catalog
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"))
    index = default_index(ctx, args.index)
    regs = _registries_with_index(ctx, 2, index)
    try:
        idx, cat = read_catalog(ctx, regs, index)
    finally:
        regs.close()
    rows = fbc.summary(cat)
    for r in rows:
        for ch, info in r["channels"].items():
            default = " (default)" if ch == r["defaultChannel"] else ""
            ctx.emit.info(
                f"{r['package']:<36} {ch + default:<24} head {info['head'] or '?':<44} "
                f"{', '.join(info['versions'])}"
            )
    problems = fbc.validate(cat)
    for p in problems:
        ctx.emit.warning(p)
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{len(rows)} package(s) in {index}@{idx.digest}",
        {"index": index, "digest": idx.digest, "packages": rows, "problems": problems},
    )
    return EXIT_OK


def _mirror(args: argparse.Namespace) -> int:
    from engine.catalogs.mirror import CatalogOptions, mirror_catalog
    from engine.context import Context
    from engine.errors import InputError

    channels: dict[str, list[str]] = {}
    for c in args.channel:
        pkg, sep, ch = c.partition("=")
        if not sep or not pkg or not ch:
            tr = human(args)
            raise InputError(
                tr("--channel {value}: expected PACKAGE=CHANNEL").format(value=repr(c)),
                fix=tr("e.g. --channel cluster-logging=stable-5.9"),
            )
        channels.setdefault(pkg, []).append(ch)
    ctx = Context(load_plan(args), emitter(args, "catalog"))
    opts = CatalogOptions(
        index=args.index,
        packages=list(args.package),
        channels=channels,
        to_dir=args.to_dir,
        from_dir=args.from_dir,
        dry_run=args.dry_run,
        verify=not args.no_verify,
        output_dir=args.output_dir,
    )
    if not args.direct:
        opts.follow_plan(ctx.plan)
    mirror_catalog(ctx, opts)
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from engine.catalogs import apply as ap
    from engine.catalogs.mirror import load_last_mirror
    from engine.changes import render_changes
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"))
    from engine.errors import InputError

    try:
        record = load_last_mirror()
    except InputError:
        if not args.image:
            raise
        record = {}
    if args.image:
        record["mirrored_index"] = args.image
    plan = ap.prepare_apply(ctx, record, name=args.name)
    data: dict[str, object] = {"image": plan.image, "catalogs": plan.catalogs}
    if plan.steps:
        if not confirm(args, N_("Point the cluster at the mirrored catalog?"), render_changes(plan.changes)):
            ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was changed")), data)
            return EXIT_OK
        data.update(ap.apply(ctx, plan, timeout=args.timeout, interval=args.interval))
    else:
        ctx.emit.info("The cluster already uses the mirrored catalog.")
    if not args.no_wait:
        data["states"] = ap.wait_ready(
            ctx, plan.catalogs, plan.image, timeout=args.timeout, interval=args.interval
        )
        if plan.cluster_catalog:
            data["clustercatalog"] = ap.wait_cluster_catalog(
                ctx, plan.image, timeout=args.timeout, interval=args.interval
            )
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{', '.join(plan.catalogs)} serve{'s' if len(plan.catalogs) == 1 else ''} {plan.image}",
        data,
    )
    return EXIT_OK


def _revert(args: argparse.Namespace) -> int:
    from engine.catalogs import apply as ap
    from engine.changes import render_changes
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"))
    plan = ap.prepare_restore(ctx)
    if not confirm(args, N_("Undo the catalog changes?"), render_changes(plan.changes)):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was changed")))
        return EXIT_OK
    data = ap.restore(ctx, plan)
    ctx.emit.result(StepStatus.SUCCEEDED, f"{data['reverted']} change(s) undone", data)
    return EXIT_OK


def _channel(args: argparse.Namespace) -> int:
    from engine.catalogs import apply as ap
    from engine.changes import render_changes
    from engine.context import Context
    from engine.errors import InputError

    ns, sep, name = args.subscription.partition("/")
    if not sep or not ns or not name:
        tr = human(args)
        raise InputError(
            tr("{value}: expected NAMESPACE/NAME").format(value=repr(args.subscription)),
            fix=tr("e.g. openshift-logging/cluster-logging"),
        )
    ctx = Context(load_plan(args), emitter(args, "catalog"))
    sub, change = ap.prepare_channel(ctx, ns, name, args.channel)
    until = args.until
    if not until:  # the channel head in the catalog read last, when it has the package
        from engine.catalogs import installed as inst

        saved = inst.load_saved_catalog()
        pkg = saved[1].packages.get(str((sub.get("spec") or {}).get("name") or "")) if saved else None
        head = pkg.channel_head(args.channel) if pkg else None
        until = head.name if head else ""
    if change is not None:
        if not confirm(
            args,
            N_("Move {subscription} to channel {channel}?"),
            render_changes([change]),
            subscription=f"{ns}/{name}",
            channel=args.channel,
        ):
            ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was changed")))
            return EXIT_OK
        ap.set_channel(ctx, ns, name, args.channel, change)
    data = {"subscription": f"{ns}/{name}", "channel": args.channel}
    if not args.no_wait:
        data["installed"] = ap.wait_installed(
            ctx, ns, name, until_csv=until, timeout=args.timeout, interval=args.interval
        )
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"{ns}/{name} on channel {args.channel}"
        + (f", {data['installed']} installed" if "installed" in data else ""),
        data,
    )
    return EXIT_OK


def _accept_blocking(args: argparse.Namespace) -> int:
    from engine.catalogs import gate
    from engine.catalogs import installed as inst
    from engine.context import Context

    ctx = Context(load_plan(args), emitter(args, "catalog"))
    target = ctx.plan.release.version
    blocking = [o for o in inst.assess(ctx, target) if o.blocks(target)]
    if not blocking:
        ctx.emit.result(StepStatus.SUCCEEDED, f"no installed operator blocks {target}: nothing to accept")
        return EXIT_OK
    text = "\n".join(f"  {o.namespace}/{o.subscription or o.csv}: {o.why(target)}" for o in blocking)
    tr = human(args)
    if not confirm(
        args,
        N_("Start the update to {version} although these operators block it?"),
        tr("These operators block {version}; OLM reports Upgradeable=False for them:").format(version=target)
        + f"\n{text}\n",
        version=target,
    ):
        ctx.emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: nothing was recorded")))
        return EXIT_OK
    gate.accept(ctx, [o.csv for o in blocking], args.reason)
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"accepted (journaled): {', '.join(o.csv for o in blocking)} block {target}",
        {"accepted": [o.csv for o in blocking]},
    )
    return EXIT_OK
