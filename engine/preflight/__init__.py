"""Preflight: everything the documented procedure needs, checked before anything is changed (docs/steps/preflight.md).

:func:`run_preflight` emits one :class:`~engine.events.CheckResult` per check — pass, warn or fail, what it saw
(``detail``), why it matters (``why``, one line from the docs) and what to do (``fix``) — and returns them all.
A check that cannot run (no cluster on a connected-only host, a graph that cannot be reached) is a ``warn``
saying why; nothing is silently skipped. Nothing is changed, except that the admin's statement about the etcd
backup is recorded in the journal as a decision.

The checks, in order:

1. ``oc client`` — found, and its version against the target's (the docs ask for the target's ``oc``).
2. ``cluster API`` — reachable, and who am I; ``rights`` — a SelfSubjectAccessReview for every right a later
   step needs, so a missing right shows now and not halfway through.
3. ``ClusterVersion`` (current version, channel), ``Failing``, ``Invalid``, ``Progressing``, ``Upgradeable``
   (absent is fine; ``False`` blocks minor updates only), ``RetrievedUpdates``.
4. ``ClusterOperators``, ``Nodes``, ``MachineConfigPools`` (not paused, updated, not degraded),
   ``PodDisruptionBudgets`` that allow no disruption (named with their pods and nodes), ``CloudCredential`` in
   ``Manual`` mode without ``upgradeable-to`` at the target minor; ``Installed operators`` whose CSV declares
   ``olm.maxOpenShiftVersion`` below the target minor (named, with the channel/version to update to first).
5. ``etcd backup`` — when the admin says it was taken (journaled), with the documented backup command.
6. Mirror registry: reachable, TLS chain trusted, subjectAltName present, not expiring within 30 days,
   credentials accepted, push right (an upload is started and cancelled).
7. ``media free space`` — when the mode uses removable media.
8. ``update path`` — the target is reachable in the channel's graph; ``release signature`` — its signature is
   applied on the cluster or can be found in the store.
9. ``Sigstore signature`` (4.21+ or a ClusterImagePolicy covering the release) — the ``.sig`` tag is in the
   mirror and verifies; ``Admin-ack gates`` — the gates that apply, with their text (:mod:`.sigstore`).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.context import Context
from engine.events import CheckResult
from engine.preflight.base import (
    BACKUP_SCRIPT,
    FAIL,
    PASS,
    STEP,
    WARN,
    PreflightOptions,
    Right,
    _Run,
    required_rights,
)
from engine.preflight.cluster import (
    _CONDITION_WHY,
    _check_cloud_credential,
    _check_cluster,
    _check_cluster_version,
    _check_nodes,
    _check_operators,
    _check_pdbs,
    _check_pools,
    _check_rights,
    _conditions,
)
from engine.preflight.host import _check_etcd_backup, _check_media, _check_oc, backup_command
from engine.preflight.operators import _check_installed_operators
from engine.preflight.registry import _check_mirror, release_size
from engine.preflight.release import _check_signature, _check_target
from engine.preflight.sigstore import (
    CHECK_ADMIN_ACK,
    CHECK_SIGSTORE,
    WHY_ADMIN_ACK,
    WHY_SIGSTORE,
    _check_admin_gates,
    _check_sigstore,
)
from engine.workflow import ctx_journal, journal_outcome


def run_preflight(ctx: Context, options: PreflightOptions | None = None) -> list[CheckResult]:
    """Run every check; return the results (also emitted as events). Changes nothing on the cluster."""
    options = options or PreflightOptions()
    run = _Run(ctx, options)
    run.guarded("oc client", "oc", lambda: _check_oc(run))
    _check_cluster(run)
    cluster_checks: list[tuple[str, str, Callable[[], None]]] = [
        ("ClusterVersion", "clusterversion", lambda: _check_cluster_version(run)),
        ("rights", "rights", lambda: _check_rights(run)),
        ("ClusterVersion conditions", "failing", lambda: _conditions(run)),
        ("ClusterOperators", "operators", lambda: _check_operators(run)),
        ("Nodes", "nodes", lambda: _check_nodes(run)),
        ("MachineConfigPools", "mcp", lambda: _check_pools(run)),
        ("PodDisruptionBudgets", "pdb", lambda: _check_pdbs(run)),
        ("CloudCredential", "cco", lambda: _check_cloud_credential(run)),
        ("Installed operators", "olm", lambda: _check_installed_operators(run)),
    ]
    for name, why, fn in cluster_checks:
        ctx.check_cancel()
        if run.cluster_ok:
            run.guarded(name, why, fn)
        elif name == "ClusterVersion conditions":
            for cond, cond_why in _CONDITION_WHY.items():
                run.skipped(cond, cond_why)
        else:
            run.skipped(name, why)
    run.guarded("etcd backup", "etcd", lambda: _check_etcd_backup(run))
    ctx.check_cancel()
    run.guarded("mirror registry", "mirror", lambda: _check_mirror(run))
    ctx.check_cancel()
    digest_box: list[str] = []
    run.guarded("update path", "path", lambda: digest_box.append(_check_target(run)))
    digest = digest_box[0] if digest_box else ctx.plan.release.digest
    run.guarded("media free space", "media", lambda: _check_media(run, digest))
    run.guarded("release signature", "signature", lambda: _check_signature(run, digest))
    run.guarded(CHECK_SIGSTORE, WHY_SIGSTORE, lambda: _check_sigstore(run, digest))
    if run.cluster_ok:
        run.guarded(CHECK_ADMIN_ACK, WHY_ADMIN_ACK, lambda: _check_admin_gates(run))
    else:
        run.skipped(CHECK_ADMIN_ACK, WHY_ADMIN_ACK)
    failed = [r for r in run.results if r.status == FAIL]
    warned = [r for r in run.results if r.status == WARN]
    passed = len(run.results) - len(failed) - len(warned)
    journal_outcome(
        ctx_journal(ctx),
        STEP,
        "failed" if failed else "succeeded",
        (f"{len(failed)} failed: " + ", ".join(r.name for r in failed))
        if failed
        else f"{passed} passed, {len(warned)} warnings",
        failed=[r.name for r in failed],
        warnings=[r.name for r in warned],
    )
    return run.results


def accept_failures(ctx: Context, names: list[str], reason: str) -> None:
    """The admin's explicit decision to go on despite failed checks: journaled, and the step counts as done."""
    journal = ctx.journal
    journal.record_decision(STEP, "accept-failures", list(names), reason=reason)
    journal_outcome(
        journal, STEP, "succeeded", f"{len(names)} failed check(s) accepted by the admin: " + ", ".join(names)
    )


def summarize(results: list[CheckResult]) -> tuple[int, int, int]:
    """(passed, warned, failed)."""
    return (
        sum(r.status == PASS for r in results),
        sum(r.status == WARN for r in results),
        sum(r.status == FAIL for r in results),
    )


__all__ = [
    "BACKUP_SCRIPT",
    "PreflightOptions",
    "Right",
    "accept_failures",
    "backup_command",
    "release_size",
    "required_rights",
    "run_preflight",
    "summarize",
]
