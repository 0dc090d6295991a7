"""Checks of this host: the oc client, the etcd backup statement, free space on the removable media."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.cluster import (
    NODE,
)
from engine.context import Context
from engine.errors import (
    AirgapError,
    ClusterError,
    InputError,
    TLSError,
)
from engine.preflight.base import BACKUP_FRESH, BACKUP_SCRIPT, FAIL, PASS, STEP, WARN, _Run
from engine.preflight.registry import release_size
from engine.util import format_bytes, version_tuple


def _check_oc(run: _Run) -> None:
    from engine.oc import find_oc, oc_version

    try:
        oc = find_oc(run.ctx.plan.oc_path)
    except AirgapError as exc:
        run.check("oc client", WARN, exc.message, fix=exc.fix, why="oc")
        return
    version = oc_version(oc)
    client = version.semver
    target = version_tuple(run.target)
    run.ctx.emit.command(["oc", "version", "--client"])
    if client is None:
        run.check(
            "oc client",
            WARN,
            f"{oc} is a development build ({version.client}); cannot compare it with {run.target}",
            fix=f"Use the oc of release {run.target}.",
            why="oc",
        )
    elif not target:
        run.check(
            "oc client", PASS, f"{oc} version {version.client} (no target release in the plan)", why="oc"
        )
    elif client[:2] < target[:2]:
        run.check(
            "oc client",
            WARN,
            f"{oc} is version {version.client}, older than the target {run.target}",
            fix=f"Download the oc of {run.target} (openshift-client-linux-{run.target}.tar.gz) for the manual "
            "steps; ocp-airgap itself does every step natively.",
            why="oc",
        )
    else:
        run.check("oc client", PASS, f"{oc} version {version.client} (target {run.target})", why="oc")


def backup_command(ctx: Context) -> list[str]:
    """The documented backup command for a control-plane node of the cluster."""
    node = "<control-plane-node>"
    try:
        for sel in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"):
            nodes = ctx.cluster.list(NODE, label_selector=sel)
            if nodes:
                node = sorted(n["metadata"]["name"] for n in nodes)[0]
                break
    except (ClusterError, InputError, TLSError):
        pass
    return ["oc", "debug", "--as-root", f"node/{node}", "--", *BACKUP_SCRIPT]


def _check_etcd_backup(run: _Run) -> None:
    ctx = run.ctx
    command = (
        backup_command(ctx)
        if run.cluster_ok
        else ["oc", "debug", "--as-root", "node/<control-plane-node>", "--", *BACKUP_SCRIPT]
    )
    ctx.emit.command(command, note="the documented etcd backup")
    stated = run.options.etcd_backup_at
    journal = None
    if run.cluster_ok:
        journal = ctx.journal
    if stated is not None:
        if stated.tzinfo is None:
            stated = stated.replace(tzinfo=UTC)
        if journal is not None:
            journal.record_decision(STEP, "etcd-backup", stated.isoformat(), reason="stated by the admin")
    elif journal is not None:
        previous = journal.decision(STEP, "etcd-backup")
        if previous:
            try:
                stated = datetime.fromisoformat(str(previous))
            except ValueError:
                stated = None
    shown = " ".join(command)
    if stated is None:
        run.check(
            "etcd backup",
            WARN,
            "not stated: when was the last etcd backup taken?",
            fix=f"Take one ({shown}) and give its time with --etcd-backup-at (e.g. 'now').",
            why="etcd",
        )
        return
    age = run.options.now - stated
    when = stated.strftime("%Y-%m-%d %H:%M UTC")
    if age < timedelta(0):
        run.check(
            "etcd backup",
            WARN,
            f"stated as {when}, which is in the future",
            fix="Check the time given.",
            why="etcd",
        )
    elif age > BACKUP_FRESH:
        run.check(
            "etcd backup",
            WARN,
            f"taken {when}, {age.days} day(s) {age.seconds // 3600} hour(s) ago",
            fix=f"Take a fresh backup right before updating: {shown}",
            why="etcd",
        )
    else:
        run.check(
            "etcd backup", PASS, f"taken {when} (stated by the admin, recorded in the journal)", why="etcd"
        )


def _existing_parent(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_media(run: _Run, digest: str) -> None:
    plan = run.ctx.plan
    if plan.mirroring.mode not in ("to-media", "from-media"):
        run.check(
            "media free space", PASS, f"mode {plan.mirroring.mode} uses no removable media", why="media"
        )
        return
    media = Path(plan.resolve_path(plan.mirroring.media_path))
    if plan.mirroring.mode == "from-media":
        if media.is_dir() and any(media.iterdir()):
            run.check("media free space", PASS, f"reading the release from {media}", why="media")
        else:
            run.check(
                "media free space",
                WARN,
                f"{media} is empty or missing: no mirrored release on it yet",
                fix="Mount the media written on the connected side.",
                why="media",
            )
        return
    base = _existing_parent(media)
    free = shutil.disk_usage(base).free
    if not digest:
        run.check(
            "media free space",
            WARN,
            f"{format_bytes(free)} free at {base}; the release size is not known (no target digest yet)",
            fix="Run 'ocp-airgap release --plan P --write-plan'; a release is typically 10-20 GiB.",
            why="media",
        )
        return
    try:
        size, images = release_size(run.ctx, f"{plan.endpoints.release_source}@{digest}")
    except AirgapError as exc:
        run.check(
            "media free space",
            WARN,
            f"{format_bytes(free)} free at {base}; the release size could not be read ({exc.message})",
            fix=exc.fix or "Make sure the media has room for the release (typically 10-20 GiB).",
            why="media",
        )
        return
    if free < size:
        run.check(
            "media free space",
            FAIL,
            f"{format_bytes(free)} free at {base}, the release needs {format_bytes(size)} ({images} images)",
            fix="Use larger media, or free space on it.",
            why="media",
        )
    else:
        run.check(
            "media free space",
            PASS,
            f"{format_bytes(free)} free at {base}; the release needs {format_bytes(size)} ({images} images)",
            why="media",
        )
