"""The whole update path, hop by hop (``ocp-airgap upgrade run-path``).

The plan's ``release.path`` lists every release between the cluster's version and the target (the release step
stores it). One run:

1. finds where the cluster is on the path (its last Completed version, or a hop already in progress, which it
   follows) — a rerun after an interruption continues at the right hop;
2. applies every remaining hop's release signature ConfigMap up front (from the media on the disconnected side);
3. pauses the MachineHealthChecks once (:mod:`engine.mhc`), for the whole path;
4. with ``control_plane_only`` (the documented EUS-to-EUS procedure): pauses every worker (non-master)
   MachineConfigPool, journaled intent then outcome, so they are unpaused at the end of the path by this run or
   the next one — the workers then reboot once, into the target, instead of once per minor;
5. for each hop: sets the hop's channel (``oc adm upgrade channel``), checks the gates that need the admin
   (admin-acks of the minor being left, the CloudCredential ``upgradeable-to`` annotation in Manual mode, the
   ClusterVersion's ``Upgradeable``) — a gate stops the run with the reason and the fix (exit 4, not ready) —
   then starts the hop by digest (:func:`engine.upgrade.prepare_start` / :func:`~engine.upgrade.start`, with
   every guard) and follows it (:func:`engine.upgrade.watch`) until Completed and the pools that are not paused
   are updated;
6. unpauses the worker pools it paused, waits for them to roll, and resumes the MachineHealthChecks once.

The journal records the path (``step-started upgrade`` with ``path``), each hop begun and finished (notes with
``hop``), each pool paused and unpaused (step ``pools``), and the outcome (``step-finished upgrade`` with
``path``). :func:`engine.workflow.path_run` reads where the cluster is on the path from these records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.changes import Change
from engine.cluster import CLOUD_CREDENTIAL, CLUSTER_VERSION, CONFIGMAP, MCP, condition, current_version
from engine.context import Context
from engine.errors import InputError, NotReady
from engine.journal import Journal
from engine.util import minor_of, version_key
from engine.workflow import path_run

STEP = "upgrade"
POOLS = "pools"
"""The journal step of the worker pools paused for a control-plane-only update."""
CCO_ANNOTATION = "cloudcredential.openshift.io/upgradeable-to"
ADMIN_GATES = ("openshift-config-managed", "admin-gates")
ADMIN_ACKS = ("openshift-config", "admin-acks")

Confirm = Callable[[str, list[Change]], bool]
"""Asks the admin to confirm changes (question, previews) → go on?"""


# ----- where the cluster is ---------------------------------------------------------------------------------
@dataclass
class PathPosition:
    path: list[str]
    current: str
    """The cluster's last Completed version."""
    remaining: list[str]
    """Hops still to do, in order."""
    in_progress: str = ""
    """A hop the cluster is updating to now."""

    @property
    def index(self) -> int:
        """1-based number of the hop to do next (len(path)+1 when none is left)."""
        return len(self.path) - len(self.remaining) + 1

    def describe(self) -> str:
        if not self.remaining:
            return f"at {self.current}: the whole path {' -> '.join(self.path)} is done"
        nxt = self.in_progress or self.remaining[0]
        return (
            f"at {self.current}, hop {self.index} of {len(self.path)} "
            f"({'updating to' if self.in_progress else 'next:'} {nxt}); path {' -> '.join(self.path)}"
        )


def position(path: Sequence[str], cv: dict[str, Any]) -> PathPosition:
    """Where a cluster with ClusterVersion ``cv`` is on ``path``."""
    cur = current_version(cv)
    status = cv.get("status") or {}
    head = (status.get("history") or [{}])[0]
    remaining = [v for v in path if version_key(v) > version_key(cur)]
    in_progress = ""
    if head.get("state") == "Partial" and head.get("version") in remaining:
        in_progress = str(head["version"])
    return PathPosition(list(path), cur, remaining, in_progress)


# ----- worker pools (control-plane-only) ---------------------------------------------------------------------
MODE_KEY = "control-plane-only"
"""The journal decision (step ``upgrade``) holding the admin's choice of the control-plane-only mode."""


def crosses_intermediate_minor(path: Sequence[str]) -> bool:
    """The path passes through a minor version on the way to the target's (e.g. 4.16 → 4.17 → 4.18): the case of
    the documented EUS-to-EUS control-plane-only update, where the worker pools can skip the intermediate minor."""
    if len(path) < 2:
        return False
    final = minor_of(path[-1])
    return any(minor_of(v) != final for v in path[:-1])


def chosen_mode(journal: Journal | None) -> bool:
    """Whether the next path run is control-plane-only: a path run still open keeps the mode it began in;
    otherwise the admin's latest recorded choice (:func:`choose_mode`); off by default."""
    if journal is None:
        return False
    run = path_run(journal.records, STEP)
    if run is not None and run["status"] == "running":
        return bool(run["control_plane_only"])
    return bool(journal.decision(STEP, MODE_KEY))


def choose_mode(journal: Journal, control_plane_only: bool, *, operator: str = "") -> None:
    """Record the admin's choice of mode for the path run (the wizard's key; kept across restarts)."""
    journal.record_decision(
        STEP,
        MODE_KEY,
        control_plane_only,
        reason=(
            "worker pools paused for the whole path: one worker reboot instead of one per minor"
            if control_plane_only
            else "every pool updates at each hop"
        )
        + (f" (chosen by {operator})" if operator else ""),
    )


def pool_states(journal: Journal) -> dict[str, str]:
    """machineconfigpool/<name> → 'pausing' | 'paused' | 'unpausing' for pools this tool paused and has not
    unpaused yet (intent before the patch, outcome after)."""
    states: dict[str, str] = {}
    for r in journal.records:
        if r.step != POOLS or r.kind != "change":
            continue
        res, action, phase = str(r.data.get("resource")), r.data.get("action"), r.data.get("phase")
        if action == "pause":
            states[res] = "pausing" if phase == "intent" else "paused"
        elif action == "unpause":
            if phase == "intent":
                states[res] = "unpausing"
            else:
                states.pop(res, None)
    return states


def _pool_command(ctx: Context, name: str, paused: bool) -> list[str]:
    return [
        "oc",
        *ctx.cluster.oc_args(),
        "patch",
        f"mcp/{name}",
        "--type",
        "merge",
        "--patch",
        json.dumps({"spec": {"paused": paused}}),
    ]


def prepare_pool_pause(ctx: Context) -> list[Change]:
    """Every worker (non-master) pool not paused yet; pools an admin paused before are left alone (and stay
    paused afterwards)."""
    changes = []
    for mcp in ctx.cluster.list(MCP):
        name = mcp["metadata"]["name"]
        if name == "master" or (mcp.get("spec") or {}).get("paused"):
            continue
        changes.append(
            Change(
                title=f"Pause the {name} MachineConfigPool for the control-plane-only update",
                resource=f"machineconfigpool/{name}",
                before={"spec": {"paused": False}},
                after={"spec": {"paused": True}},
                command=_pool_command(ctx, name, True),
            )
        )
    return changes


def prepare_pool_unpause(ctx: Context) -> list[Change]:
    """The pools the journal says this tool paused (and still are paused)."""
    held = pool_states(ctx.journal)
    changes = []
    for res in sorted(held):
        name = res.split("/", 1)[1]
        mcp = ctx.cluster.get_or_none(MCP, name)
        if mcp is None or not (mcp.get("spec") or {}).get("paused"):
            ctx.journal.change(POOLS, "unpause", res, phase="done", note="already unpaused, or gone")
            continue
        changes.append(
            Change(
                title=f"Unpause the {name} MachineConfigPool: its nodes update (one reboot) to the target",
                resource=res,
                before={"spec": {"paused": True}},
                after={"spec": {"paused": False}},
                command=_pool_command(ctx, name, False),
            )
        )
    return changes


def set_pools(ctx: Context, changes: list[Change], *, paused: bool) -> list[str]:
    """Patch each pool (after confirmation): journal the intent before, the outcome after."""
    action = "pause" if paused else "unpause"
    done = []
    for change in changes:
        name = change.resource.split("/", 1)[1]
        ctx.journal.change(POOLS, action, change.resource, before=change.before, after=change.after, phase="intent",
                           command=" ".join(change.command))  # fmt: skip
        ctx.emit.command(change.command)
        ctx.cluster.merge_patch(MCP, name, {"spec": {"paused": paused}})
        ctx.journal.change(POOLS, action, change.resource, phase="done")
        ctx.emit.info(f"{change.resource} {'paused' if paused else 'unpaused'}")
        done.append(change.resource)
    return done


# ----- gates that need the admin ------------------------------------------------------------------------------
def gates(ctx: Context, hop: str) -> list[tuple[str, str]]:
    """(reason, fix) for everything that keeps the hop to ``hop`` from starting until the admin acts.

    Only a hop to another minor is gated (z-stream updates pass, as the CVO's preconditions do)."""
    cluster = ctx.cluster
    cv = cluster.cluster_version()
    cur = current_version(cv)
    cur_minor, hop_minor = minor_of(cur), minor_of(hop)
    if cur_minor is None or hop_minor is None or cur_minor == hop_minor:
        return []
    out: list[tuple[str, str]] = []
    # admin-acks: the CVO reads gates "ack-<major.minor>-<name>" of openshift-config-managed/admin-gates for the
    # minor the cluster is on, and wants "true" for each in openshift-config/admin-acks
    gates_cm = cluster.get_or_none(CONFIGMAP, ADMIN_GATES[1], ADMIN_GATES[0]) or {}
    acks_cm = cluster.get_or_none(CONFIGMAP, ADMIN_ACKS[1], ADMIN_ACKS[0]) or {}
    acks = acks_cm.get("data") or {}
    prefix = f"ack-{cur_minor[0]}.{cur_minor[1]}-"
    for key, text in sorted((gates_cm.get("data") or {}).items()):
        if key.startswith(prefix) and acks.get(key) != "true":
            out.append(
                (
                    f"the admin-ack {key} is needed to leave {cur_minor[0]}.{cur_minor[1]}: {text}",
                    f"Read it; when it is handled: oc -n openshift-config patch cm admin-acks --type=merge "
                    f'--patch \'{{"data":{{"{key}":"true"}}}}\'',
                )
            )
    # CloudCredential in Manual mode: the annotation names the minor the credentials are ready for
    cc = cluster.get_or_none(CLOUD_CREDENTIAL, "cluster")
    if cc is not None and (cc.get("spec") or {}).get("credentialsMode") == "Manual":
        value = str(((cc.get("metadata") or {}).get("annotations") or {}).get(CCO_ANNOTATION, ""))
        marked = minor_of(value.lstrip("v"))
        if marked is None or marked < hop_minor:
            out.append(
                (
                    f"the cloud credentials are in Manual mode and {CCO_ANNOTATION}="
                    f"{value or '(none)'} does not cover {hop}",
                    "Update the cloud provider credentials for the new release (the CredentialsRequests of "
                    f"{hop}: oc adm release extract --credentials-requests), then: oc annotate cloudcredential "
                    f"cluster --overwrite {CCO_ANNOTATION}={hop}",
                )
            )
    upg = condition(cv, "Upgradeable") or {}
    if upg.get("status") == "False" and not out:
        out.append(
            (
                f"the cluster is not upgradeable to another minor version: {upg.get('reason', '')}: "
                f"{upg.get('message', '')}",
                "Resolve what the message names (oc adm upgrade shows it), then run the same command again.",
            )
        )
    return out


# ----- the run ----------------------------------------------------------------------------------------------
@dataclass
class PathResult:
    path: list[str]
    hops_done: list[str] = field(default_factory=list)
    pools_unpaused: list[str] = field(default_factory=list)
    mhcs_resumed: list[str] = field(default_factory=list)
    final: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "hops_done": self.hops_done,
            "pools_unpaused": self.pools_unpaused,
            "mhcs_resumed": self.mhcs_resumed,
            "final": self.final,
        }


def _hop_ctx(ctx: Context, version: str) -> Context:
    return Context(ctx.plan.for_hop(version), ctx.emit, ctx.cancel, ctx._cluster, ctx._journal)


def run_path(
    ctx: Context,
    confirm: Confirm,
    *,
    control_plane_only: bool = False,
    accept_not_recommended: bool = False,
    interval: float = 2.0,
    timeout: float = 0.0,
    problem_grace: float = 120.0,
) -> PathResult:
    """Update the cluster along the plan's whole path (see the module's description). Raises NotReady (exit 4)
    when a gate needs the admin; run it again afterwards: it continues at the right hop."""
    from engine import mhc, signatures
    from engine import upgrade as up

    plan = ctx.plan
    versions = plan.path_versions
    if not versions:
        raise InputError(
            "the plan holds no update path (release.path)",
            fix="Store it with 'ocp-airgap release --plan P --write-plan' (the path is stored when the target "
            "takes more than one update), or update one release with 'ocp-airgap upgrade start'.",
        )
    missing = [h["version"] for h in plan.release.path if not h.get("digest")]
    if missing:
        raise InputError(
            f"the plan's path has no digest for {', '.join(missing)}",
            fix="Store the path again with 'ocp-airgap release --plan P --write-plan'.",
        )
    cluster, journal, emit = ctx.cluster, ctx.journal, ctx.emit
    cv = cluster.cluster_version()
    pos = position(versions, cv)
    emit.info(f"The cluster is {pos.describe()}.")
    result = PathResult(versions)
    recorded = path_run(journal.records, STEP)
    if recorded is None or recorded["status"] != "running" or recorded["path"] != versions:
        journal.step_started(STEP, path=versions, control_plane_only=control_plane_only, at=pos.current)
    elif recorded["control_plane_only"] and not control_plane_only:
        control_plane_only = True
        emit.info("This path run began in control-plane-only mode: it continues in that mode.")
    # hops the cluster completed while nobody watched (an interrupted run): record them as done
    noted = set((path_run(journal.records, STEP) or {}).get("done") or [])
    for version in versions:
        if version not in pos.remaining and version not in noted:
            n = versions.index(version) + 1
            journal.note(STEP, f"hop {n} of {len(versions)}: {version} Completed (seen on the cluster)",
                         hop=version, event="finished")  # fmt: skip
    try:
        if pos.remaining:
            _before_hops(ctx, confirm, pos, control_plane_only, signatures, mhc)
        for version in list(pos.remaining):
            ctx.check_cancel()
            hctx = _hop_ctx(ctx, version)
            hop = next(h for h in plan.release.path if h["version"] == version)
            n = versions.index(version) + 1
            head = (cluster.cluster_version().get("status") or {}).get("desired") or {}
            running = head.get("image") == hctx.plan.mirror_pullspec()
            if not running:
                _set_channel(hctx, confirm, str(hop.get("channel") or ""))
                blocking = gates(hctx, version)
                if blocking:
                    reason = "; ".join(r for r, _ in blocking)
                    journal.note(STEP, f"hop {n} of {len(versions)} to {version} waits for the admin: {reason}",
                                 hop=version, event="gated")  # fmt: skip
                    raise NotReady(
                        f"hop {n} of {len(versions)} ({current_version(cluster.cluster_version())} -> {version}) "
                        f"cannot start: {reason}",
                        fix=" ".join(f for _, f in blocking)
                        + " Then run the same command again: it continues at this hop.",
                    )
                _record_hop_target(hctx, version, hop)
                start_plan = up.prepare_start(hctx, accept_not_recommended=accept_not_recommended)
                if start_plan.change is not None:
                    if not confirm(
                        f"Start hop {n} of {len(versions)}: the update to {version}?", start_plan.changes
                    ):
                        raise InputError(
                            "the update was not started", fix="Run again and confirm (or --yes)."
                        )
                    journal.note(STEP, f"hop {n} of {len(versions)}: updating to {version}", hop=version,
                                 event="started")  # fmt: skip
                    up.start(hctx, start_plan)
            else:
                emit.info(f"Hop {n} of {len(versions)} to {version} is in progress: following it.")
                journal.note(STEP, f"hop {n} of {len(versions)}: following the update to {version}",
                             hop=version, event="started")  # fmt: skip
            up.watch(hctx, timeout=timeout, interval=interval, problem_grace=problem_grace, wait_pools=True)
            journal.note(
                STEP, f"hop {n} of {len(versions)}: {version} Completed", hop=version, event="finished"
            )
            result.hops_done.append(version)
            emit.info(f"Hop {n} of {len(versions)} done: the cluster is at {version}.")
        _after_hops(ctx, confirm, result, versions, interval, timeout, problem_grace, mhc)
    except BaseException as exc:
        if isinstance(exc, NotReady):
            raise  # the run waits for the admin: the path run stays open, a rerun continues it
        from engine.errors import AirgapError, Cancelled

        status = "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else "failed"
        text = exc.message if isinstance(exc, AirgapError) else type(exc).__name__
        journal.step_finished(STEP, status, f"path {' -> '.join(versions)}: {text}", path=versions)
        raise
    result.final = current_version(cluster.cluster_version())
    summary = f"path {' -> '.join(versions)} complete: the cluster is at {result.final}" + (
        f"; worker pools unpaused ({', '.join(result.pools_unpaused)})" if result.pools_unpaused else ""
    )
    journal.step_finished(STEP, "succeeded", summary, path=versions, version=result.final)
    emit.info(summary)
    return result


def _before_hops(
    ctx: Context, confirm: Confirm, pos: PathPosition, cpo: bool, signatures: Any, mhc: Any
) -> None:
    emit = ctx.emit
    # 1. every remaining hop's signature, up front
    for version in pos.remaining:
        hctx = _hop_ctx(ctx, version)
        prepared = signatures.prepare(hctx)
        if prepared.change is not None and not confirm(
            f"Apply the release signature of {version}?", [prepared.change]
        ):
            raise InputError("the signature was not applied", fix="Run again and confirm (or --yes).")
        signatures.apply(hctx, prepared)
    # 2. MachineHealthChecks: paused once for the whole path
    if not mhc.skip_decided(ctx.journal):
        pause = mhc.prepare_pause(ctx)
        if pause.changes or pause.settle:
            if pause.changes and not confirm(
                f"Pause {len(pause.changes)} MachineHealthCheck(s) for the whole path?", pause.changes
            ):
                raise InputError(
                    "the MachineHealthChecks were not paused", fix="Run again and confirm (or --yes)."
                )
            mhc.pause(ctx, pause)
        else:
            emit.info("MachineHealthChecks: nothing to pause (already paused, or none).")
    # 3. control-plane-only: the worker pools
    if cpo:
        changes = prepare_pool_pause(ctx)
        settle = [r for r, s in pool_states(ctx.journal).items() if s == "pausing"]
        for res in settle:
            ctx.journal.change(POOLS, "pause", res, phase="done", note="found after an interrupted run")
        if changes:
            if not confirm(
                "Pause the worker MachineConfigPools (control-plane-only update: the workers update once, "
                "at the end)?",
                changes,
            ):
                raise InputError("the worker pools were not paused", fix="Run again and confirm (or --yes).")
            set_pools(ctx, changes, paused=True)


def _after_hops(
    ctx: Context,
    confirm: Confirm,
    result: PathResult,
    versions: list[str],
    interval: float,
    timeout: float,
    problem_grace: float,
    mhc: Any,
) -> None:
    from engine import upgrade as up

    changes = prepare_pool_unpause(ctx)
    if changes:
        if not confirm(
            "Unpause the worker MachineConfigPools (their nodes update to the target now)?", changes
        ):
            raise InputError(
                "the worker pools stay paused",
                fix="Run the same command again to unpause them: the journal keeps them as paused by ocp-airgap.",
            )
        result.pools_unpaused = set_pools(ctx, changes, paused=False)
        ctx.emit.info("Waiting for the worker pools to update (one reboot per worker) …")
        up.watch(_hop_ctx(ctx, versions[-1]), timeout=timeout, interval=interval, problem_grace=problem_grace,
                 wait_pools=True)  # fmt: skip
    resume = mhc.prepare_resume(ctx)
    if resume.changes or resume.settle:
        if resume.changes and not confirm(
            f"Resume {len(resume.changes)} MachineHealthCheck(s) now that the path is done?", resume.changes
        ):
            ctx.emit.info("Not resumed; later: ocp-airgap mhc resume --plan P")
            return
        data = mhc.resume(ctx, resume)
        result.mhcs_resumed = list(data.get("resumed") or [])


def _set_channel(ctx: Context, confirm: Confirm, channel: str) -> None:
    """``oc adm upgrade channel <channel>`` when the hop needs another channel than the cluster's."""
    if not channel:
        return
    cluster = ctx.cluster
    cv = cluster.cluster_version()
    have = str((cv.get("spec") or {}).get("channel") or "")
    if have == channel:
        return
    command = ["oc", *cluster.oc_args(), "adm", "upgrade", "channel", channel]
    change = Change(
        title=f"Set the update channel to {channel}",
        resource="clusterversion/version",
        before={"spec": {"channel": have}},
        after={"spec": {"channel": channel}},
        command=command,
    )
    if not confirm(f"Change the channel from {have or '(none)'} to {channel}?", [change]):
        raise InputError("the channel was not changed", fix="Run again and confirm (or --yes).")
    ctx.emit.command(command)
    cluster.merge_patch(CLUSTER_VERSION, "version", {"spec": {"channel": channel}})
    ctx.journal.change(STEP, "channel", "clusterversion/version", before={"channel": have},
                       after={"channel": channel}, command=" ".join(command))  # fmt: skip


def _record_hop_target(ctx: Context, version: str, hop: dict[str, Any]) -> None:
    """The hop's edge for the conditional-edge guard of :func:`engine.upgrade.prepare_start`."""
    cv = ctx.cluster.cluster_version()
    ctx.journal.record_decision(
        "release",
        "target",
        {
            "version": version,
            "digest": ctx.plan.release.digest,
            "path": ctx.plan.path_versions,
            "from": current_version(cv),
            "risks": [{"name": r, "message": "", "url": ""} for r in hop.get("risks") or []],
        },
        reason=f"hop of the update path to {ctx.plan.release.target or version}",
    )


__all__ = [
    "MODE_KEY",
    "PathPosition",
    "PathResult",
    "choose_mode",
    "chosen_mode",
    "crosses_intermediate_minor",
    "gates",
    "pool_states",
    "position",
    "prepare_pool_pause",
    "prepare_pool_unpause",
    "run_path",
    "set_pools",
]
