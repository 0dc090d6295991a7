"""``ocp-airgap credentials ...``: the mirror registry's credentials and CA (docs/steps/credentials.md).

- ``merge --plan P [--pull-secret F | --from-cluster] [--auth-file OUT]``: add the mirror registry's login
  (``base64(user:password)``) to the pull secret and write the auth file (0600, previous one kept as ``.bak``);
  ``--update-cluster`` also adds it to the cluster's global pull secret (previous value kept for restore).
- ``store-password --plan P``: keep the mirror password in the system keyring (Secret Service); with only the
  fail back end it says so. ``--plain-file F`` writes it to a 0600 file instead — only if you choose that.
- ``trust-ca --plan P [--ca F] [--host-only | --cluster-only]``: trust the mirror CA on this host (system trust
  and ``/etc/containers/certs.d``; as non-root the exact commands are printed) and on the cluster (ConfigMap in
  ``openshift-config`` + ``image.config.openshift.io/cluster`` ``spec.additionalTrustedCA``).
- ``restore-pull-secret --plan P``: put back the global pull secret this tool replaced.
- ``keyring``: which keyring would hold the password.

Changing commands show the change and ask; ``--yes`` confirms, ``--dry-run`` changes nothing.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from cli.commands._common import (
    add_change_args,
    add_output_args,
    add_plan_arg,
    confirm,
    emitter,
    handle_errors,
    load_plan,
)
from engine.errors import EXIT_OK, CredentialsError, InputError
from engine.events import StepStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "credentials",
        help="mirror registry credentials, pull secret and CA trust",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    psub = p.add_subparsers(title="actions", metavar="ACTION", required=True)

    merge = psub.add_parser(
        "merge",
        help="add the mirror registry's login to the pull secret and write the auth file",
        description="Merge the mirror registry's credentials into the pull secret and write the auth file "
        "(LOCAL_SECRET_JSON) atomically with mode 0600, keeping the previous one.",
    )
    add_plan_arg(merge)
    src = merge.add_mutually_exclusive_group()
    src.add_argument("--pull-secret", metavar="F", default="", help="the pull secret to start from")
    src.add_argument(
        "--from-cluster", action="store_true", help="start from the cluster's global pull secret"
    )
    merge.add_argument(
        "--auth-file",
        metavar="OUT",
        default="",
        help="where to write (default: plan auth_file, $REGISTRY_AUTH_FILE, "
        "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)",
    )
    merge.add_argument("--registry", default="", help="mirror registry host[:port] (default: plan)")
    merge.add_argument("--namespace", default="", help="key the login as host:port/NAMESPACE/")
    merge.add_argument("--username", default="", help="mirror registry user (default: plan)")
    merge.add_argument("--email", default="", help="e-mail to store with the login")
    merge.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    merge.add_argument(
        "--update-cluster",
        action="store_true",
        help="also add the login to the cluster's global pull secret (previous value kept for restore)",
    )
    merge.add_argument(
        "--accept-node-changes-during-update",
        dest="during_update",
        action="store_true",
        help="change it even while an update or a pool rollout is in progress (nodes being rebooted may fail to "
        "pull; journaled)",
    )
    add_change_args(merge)
    add_output_args(merge)
    merge.set_defaults(func=handle_errors(_merge))

    store = psub.add_parser(
        "store-password",
        help="keep the mirror password in the system keyring",
        description="Store the mirror registry password in the system keyring (service ocp-airgap:<registry>).",
    )
    add_plan_arg(store)
    store.add_argument("--registry", default="", help="mirror registry host[:port] (default: plan)")
    store.add_argument("--username", default="", help="mirror registry user (default: plan)")
    store.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    store.add_argument(
        "--plain-file",
        metavar="F",
        default="",
        help="instead of the keyring, write the password in PLAIN TEXT to F (mode 0600); "
        "set mirror.password_file: F in the plan to use it",
    )
    add_output_args(store)
    store.set_defaults(func=handle_errors(_store))

    trust = psub.add_parser(
        "trust-ca",
        help="trust the mirror registry's CA on this host and on the cluster",
        description="Install the mirror CA into the host trust (root only; otherwise print the commands) and "
        "into the cluster (ConfigMap in openshift-config + image.config.openshift.io/cluster).",
    )
    add_plan_arg(trust)
    trust.add_argument(
        "--ca", metavar="F", default="", help="CA file, PEM or DER (default: plan mirror.ca_file)"
    )
    trust.add_argument("--registry", default="", help="mirror registry host[:port] (default: plan)")
    where = trust.add_mutually_exclusive_group()
    where.add_argument("--host-only", action="store_true", help="only this host")
    where.add_argument("--cluster-only", action="store_true", help="only the cluster")
    trust.add_argument("--root", metavar="DIR", default="/", help=argparse.SUPPRESS)
    trust.add_argument(
        "--accept-node-changes-during-update",
        dest="during_update",
        action="store_true",
        help="change it even while an update or a pool rollout is in progress (nodes being rebooted may fail to "
        "pull; journaled)",
    )
    add_change_args(trust)
    add_output_args(trust)
    trust.set_defaults(func=handle_errors(_trust))

    restore = psub.add_parser(
        "restore-pull-secret",
        help="put back the global pull secret this tool replaced",
        description="Restore the cluster's global pull secret from the backup recorded in the journal.",
    )
    add_plan_arg(restore)
    add_change_args(restore)
    add_output_args(restore)
    restore.set_defaults(func=handle_errors(_restore))

    kr = psub.add_parser("keyring", help="show which keyring holds the mirror password")
    add_output_args(kr)
    kr.set_defaults(func=handle_errors(_keyring))


def _read_stdin_password() -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CredentialsError("no password on standard input", fix="Pipe the password: ... | ocp-airgap ...")
    from engine.redact import register_secret

    register_secret(value)
    return value


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise CredentialsError(
            "the mirror password is needed and there is no terminal to ask on",
            fix="Store it in the keyring (ocp-airgap credentials store-password), or pass --password-stdin.",
        )
    return getpass.getpass(prompt)


def _merge(args: argparse.Namespace) -> int:
    from engine import login
    from engine.changes import render_changes
    from engine.context import Context
    from engine.pullsecret import INSTALL_WARNING

    plan = load_plan(args)
    emit = emitter(args, "credentials")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    request = login.CredentialsRequest(
        pull_secret_file=str(Path(args.pull_secret).absolute()) if args.pull_secret else "",  # from the cwd
        from_cluster=args.from_cluster,
        auth_file=args.auth_file,
        registry=args.registry,
        username=args.username,
        namespace=args.namespace,
        email=args.email,
        password=_read_stdin_password() if args.password_stdin else "",
        update_cluster=args.update_cluster,
        during_update=args.during_update,
    )
    prepared = login.prepare(ctx, request, _ask)
    emit.warning(INSTALL_WARNING)
    if not confirm(args, "Write these credentials?", render_changes(prepared.changes())):
        emit.result(StepStatus.SKIPPED, "dry run: nothing was written")
        return EXIT_OK
    outcome = login.apply(ctx, prepared)
    data: dict[str, object] = {
        "auth_file": str(outcome.auth_file),
        "previous": str(outcome.previous) if outcome.previous else "",
        "registries": outcome.registries,
    }
    if outcome.cluster_backup is not None:
        data["cluster_backup"] = str(outcome.cluster_backup)
    emit.result(StepStatus.SUCCEEDED, f"{outcome.auth_file} holds the login for {prepared.key}", data)
    return EXIT_OK


def _store(args: argparse.Namespace) -> int:
    from engine.credentials import store_password, write_password_file

    plan = load_plan(args)
    emit = emitter(args, "credentials")
    registry = args.registry or plan.mirror.registry
    username = args.username or plan.mirror.username
    if not registry or not username:
        raise InputError(
            "the mirror registry and user are not known",
            fix="Set mirror.registry and mirror.username in the plan.",
        )
    password = (
        _read_stdin_password()
        if args.password_stdin
        else _ask(f"Password of {username} on the mirror registry {registry}: ")
    )
    if args.plain_file:
        path = write_password_file(args.plain_file, password)
        emit.warning(
            f"The password is now in the plain-text file {path} (mode 0600), as you chose; "
            f"set mirror.password_file: {path} in the plan to use it."
        )
        emit.result(StepStatus.SUCCEEDED, f"password written to {path}", {"file": str(path)})
        return EXIT_OK
    info = store_password(registry, username, password, emit)
    emit.result(
        StepStatus.SUCCEEDED,
        f"password of {username} on {registry} stored in {info.backend}",
        {"backend": info.backend},
    )
    return EXIT_OK


def _trust(args: argparse.Namespace) -> int:
    from engine.changes import render_changes
    from engine.context import Context
    from engine.trust import (
        HostTrustLayout,
        apply_cluster_trust,
        apply_host_trust,
        detect_family,
        load_ca,
        plan_cluster_trust,
        plan_host_trust,
    )

    plan = load_plan(args)
    emit = emitter(args, "credentials")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    registry = args.registry or plan.mirror.registry
    ca_path = args.ca or plan.resolve_path(plan.mirror.ca_file)
    if not registry or not ca_path:
        raise InputError(
            "the mirror registry or its CA file is not known",
            fix="Give --ca FILE, or set mirror.registry and mirror.ca_file in the plan.",
        )
    ca = load_ca(ca_path)
    if not ca.is_ca:
        emit.warning(
            f"{ca_path} is not a CA certificate (no CA:TRUE); trusting it still works for this server only."
        )
    changes = []
    host_plan = None
    if not args.cluster_only:
        root = Path(args.root)
        host_plan = plan_host_trust(registry, ca, HostTrustLayout(detect_family(root), root))
        changes += host_plan.changes
    cluster_steps = []
    if not args.host_only:
        cluster_steps = plan_cluster_trust(ctx, registry, ca, during_update=args.during_update)
        changes += [s.change for s in cluster_steps]
    if not changes:
        emit.result(StepStatus.SUCCEEDED, f"the CA for {registry} is already trusted", {"changed": False})
        return EXIT_OK
    if not confirm(args, f"Trust the CA {ca.subject} for {registry}?", render_changes(changes)):
        emit.result(StepStatus.SKIPPED, "dry run: nothing was changed")
        return EXIT_OK
    host_changed = apply_host_trust(ctx, host_plan) if host_plan is not None else False
    if cluster_steps:
        apply_cluster_trust(ctx, cluster_steps)
    emit.result(
        StepStatus.SUCCEEDED,
        f"CA {ca.subject} trusted for {registry}",
        {"host_changed": host_changed, "cluster_changes": len(cluster_steps)},
    )
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from engine.context import Context
    from engine.pullsecret import restore_cluster_pull_secret

    plan = load_plan(args)
    emit = emitter(args, "credentials")
    ctx = Context(plan, emit, wait_for_lock=getattr(args, "wait", False))
    change = restore_cluster_pull_secret(ctx, apply=False)
    if not confirm(args, "Restore the cluster's global pull secret?", change.render()):
        emit.result(StepStatus.SKIPPED, "dry run: nothing was changed")
        return EXIT_OK
    restore_cluster_pull_secret(ctx, apply=True)
    emit.result(StepStatus.SUCCEEDED, "the global pull secret is restored")
    return EXIT_OK


def _keyring(args: argparse.Namespace) -> int:
    from engine.credentials import keyring_info

    emit = emitter(args, "credentials")
    info = keyring_info()
    if info.usable:
        emit.info(f"Passwords are kept in {info.describe()}.")
    else:
        emit.warning(info.describe().capitalize() + ": the mirror password is asked each time.")
    emit.result(
        StepStatus.SUCCEEDED,
        info.describe(),
        {"backend": info.backend, "usable": info.usable, "plaintext": info.plaintext},
    )
    return EXIT_OK
