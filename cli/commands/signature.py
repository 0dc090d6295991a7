"""``ocp-airgap signature verify|fetch|apply``: the release image signature the cluster needs to accept an update.

- ``verify --keyring K --digest D FILE``: check a signature (``signature-1`` from a store, or a signature ConfigMap
  file) locally; exit 0 printing signer, identity and digest when valid, non-zero with the reason otherwise.
- ``fetch --plan P [--out F]``: connected side; fetch the target's signatures from the signature store and write
  the documented ConfigMap to F (``.yaml`` or ``.json``) for the removable media.
- ``apply --plan P [--file F]``: verify against the keys the cluster trusts (always: a signature the CVO cannot
  verify is refused; ``--keyring`` must be satisfied as well), show the ConfigMap, confirm, apply it and check the
  CVO can see it.
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
)
from engine.errors import EXIT_OK, InputError
from engine.events import StepStatus
from tui.i18n import N_, _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "signature", help=_("verify, fetch or apply the release image signature"), description=_(__doc__)
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    verify = psub.add_parser(
        "verify",
        help=_("verify a signature file locally (exit 0 when valid)"),
        description=_(
            "Verify a release signature (raw signature-N or a signature ConfigMap file) against a "
            "keyring and a digest. Exit 0 and print signer, identity and digest when valid; non-zero with the reason."
        ),
    )
    verify.add_argument(
        "file", metavar="FILE", help=_("signature-1 from a store, or signature ConfigMap .json/.yaml")
    )
    verify.add_argument(
        "--keyring", metavar="K", default="", help=_("OpenPGP public key file (armored or binary)")
    )
    verify.add_argument("--digest", metavar="D", default="", help=_("the release digest, sha256:<64 hex>"))
    add_plan_arg(verify, required=False)
    add_output_args(verify)
    verify.set_defaults(func=handle_errors(_verify))

    fetch = psub.add_parser(
        "fetch",
        help=_("fetch the target's signature from the store (connected side)"),
        description=_(
            "Fetch the target release's signatures from endpoints.signature_store and, with --out, "
            "write the ConfigMap (as the documentation shows it) to carry on the media."
        ),
    )
    add_plan_arg(fetch)
    fetch.add_argument("--out", metavar="F", default="", help=_("write the ConfigMap here (.yaml or .json)"))
    fetch.add_argument("--keyring", metavar="K", default="", help=_("verify against this key file too"))
    add_output_args(fetch)
    fetch.set_defaults(func=handle_errors(_fetch))

    apply = psub.add_parser(
        "apply",
        help=_("verify and apply the signature ConfigMap to the cluster"),
        description=_(
            "Verify the target's signature (from --file, else from the signature store) against the keys "
            "the cluster trusts (always), then create or update the ConfigMap in openshift-config-managed."
        ),
    )
    add_plan_arg(apply)
    apply.add_argument(
        "--file", metavar="F", default="", help=_("signature ConfigMap file saved on the media")
    )
    apply.add_argument(
        "--keyring",
        metavar="K",
        default="",
        help=_("verify against this key file as well (the keys the cluster trusts are always checked)"),
    )
    add_change_args(apply)
    add_output_args(apply)
    apply.set_defaults(func=handle_errors(_apply))


def _verify(args: argparse.Namespace) -> int:
    from engine.signatures import Keyring, cluster_keyrings, load_keyring, report_warnings, verify_file

    emit = emitter(args, "signature")
    tr = human(args)
    plan = load_plan(args) if args.plan else None
    digest = args.digest or (plan.release.digest if plan else "")
    if not digest:
        raise InputError(
            tr("no digest to verify against"),
            fix=tr("Give --digest sha256:<hex> (or --plan with release.digest)."),
        )
    keyrings: list[Keyring]
    if args.keyring:
        keyrings = [load_keyring(args.keyring)]
    elif plan is not None:
        from engine.context import Context

        keyrings = cluster_keyrings(Context(plan, emit, wait_for_lock=getattr(args, "wait", False)).cluster)
    else:
        raise InputError(
            tr("no keyring to verify with"),
            fix=tr("Give --keyring K (or --plan P to use the keys the cluster trusts)."),
        )
    verified = verify_file(args.file, digest, keyrings)
    report_warnings(emit, keyrings, verified)
    for v in verified:
        emit.info(f"Signer:   {v.signer_fingerprint.upper()} ({v.keyring})")
        emit.info(f"Identity: {', '.join(v.signer_user_ids) or '(no user ID)'}")
        emit.info(f"Digest:   {v.digest}")
        emit.info(f"Signed reference: {v.docker_reference}")
    emit.result(
        StepStatus.SUCCEEDED,
        f"valid signature for {digest}",
        {"verified": [v.to_dict() for v in verified]},
    )
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.signatures import fetch_to_file

    plan = load_plan(args)
    emit = emitter(args, "signature")
    data = fetch_to_file(
        Context(plan, emit, wait_for_lock=getattr(args, "wait", False)), args.out, keyring_path=args.keyring
    )
    summary = f"{data['signatures']} signature(s) for {data['digest']}"
    if data.get("file"):
        summary += f" written to {data['file']}"
    emit.result(StepStatus.SUCCEEDED, summary, data)
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.context import Context
    from engine.signatures import apply, prepare

    plan = load_plan(args)
    emit = emitter(args, "signature")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    prepared = prepare(ctx, file=args.file, keyring_path=args.keyring)
    if prepared.changes and not confirm(
        args,
        N_("Apply the signature ConfigMap {name}?"),
        render_changes(prepared.changes),
        name=prepared.name,
    ):
        emit.result(StepStatus.SKIPPED, human(args)(N_("dry run: the signature ConfigMap was not applied")))
        return EXIT_OK
    data = apply(ctx, prepared)
    emit.result(
        StepStatus.SUCCEEDED, f"configmap/{data['configmap']} {data['action']}; visible to the CVO", data
    )
    return EXIT_OK
