"""Checks of the Sigstore release signature and of the admin-ack gates.

``Sigstore signature`` — for a 4.21+ target, or a cluster whose ClusterImagePolicy covers the release
repository: the signature image ``sha256-<hex>.sig`` is in the mirror beside the release and verifies with the
policy's key (or ``endpoints.sigstore_key``) for the target digest and the policy's ``signedIdentity``; and the
cluster's mirror sets (IDMS/ICSP) — or the one the mirror step writes — redirect the policy's scope to the mirror.

``Admin-ack gates`` — every gate of ``admin-gates`` that applies to the cluster's minor version, with its text;
an unacknowledged one fails (it blocks the minor update) with the ``adminack/<gate>`` fix.
"""

from __future__ import annotations

from engine import adminacks, sigstore
from engine.cluster import ICSP, IDMS
from engine.errors import AirgapError, NotFound, RegistryError
from engine.preflight.base import FAIL, PASS, WARN, _Run

CHECK_SIGSTORE = "Sigstore signature"
CHECK_MIRROR_SCOPE = "Sigstore mirror scope"
CHECK_ADMIN_ACK = "Admin-ack gates"
WHY_SIGSTORE = (
    "From 4.21 CRI-O verifies the release image's Sigstore signature when it pulls it, from the mirror when a "
    "mirror set redirects the pull: without the signature tag in the mirror the release payload cannot even be "
    "loaded."
)
WHY_ADMIN_ACK = "An unacknowledged admin-ack gate makes Upgradeable=False, which refuses minor updates."


def _mirror_sources(run: _Run) -> list[str]:
    cluster = run.ctx.cluster
    sources: list[str] = []
    for res, key in ((IDMS, "imageDigestMirrors"), (ICSP, "repositoryDigestMirrors")):
        try:
            for obj in cluster.list(res):
                sources += [str(r.get("source", "")) for r in (obj.get("spec") or {}).get(key) or []]
        except NotFound:
            continue
    return [s for s in sources if s]


def _check_sigstore(run: _Run, digest: str) -> None:
    ctx = run.ctx
    plan = ctx.plan
    image_repo = sigstore.repository_of(plan.endpoints.release_source)
    policy: sigstore.Policy | None = None
    if run.cluster_ok:
        policy = sigstore.policy_covering(sigstore.cluster_policies(ctx.cluster), image_repo)
    required = sigstore.requires_sigstore(run.target) or policy is not None
    if not required:
        run.check(
            CHECK_SIGSTORE,
            PASS,
            f"not required: {run.target or 'the target'} is before 4.21 and no ClusterImagePolicy of the cluster "
            f"covers {image_repo}",
            why=WHY_SIGSTORE,
        )
        return
    if not digest:
        run.check(
            CHECK_SIGSTORE,
            WARN,
            "not checked: the target digest is not known",
            fix="Run 'ocp-airgap release --plan P --write-plan' first.",
            why=WHY_SIGSTORE,
        )
        return
    if policy is None and plan.endpoints.sigstore_key:
        policy = sigstore.policy_from_key_file(plan.resolve_path(plan.endpoints.sigstore_key), image_repo)
    if plan.mirroring.mode == "to-media" or not plan.mirror.registry:
        run.check(
            CHECK_SIGSTORE,
            WARN,
            "not checked here: the mirror registry is on the far side; 'ocp-airgap mirror --to-dir' copies the "
            "signature onto the media and 'mirror verify' checks it there",
            why=WHY_SIGSTORE,
        )
        return
    from engine.mirror.core import _registries

    regs = _registries(ctx, 2)
    try:
        client = regs.get(plan.mirror.registry)
        repo = plan.mirror.repository
        if policy is None:
            result = sigstore.inspect_release(client, repo, digest)
            if result.problems:
                run.check(
                    CHECK_SIGSTORE,
                    FAIL,
                    f"{plan.mirror_repository}:{result.tag}: {'; '.join(result.problems)}",
                    fix="Run 'ocp-airgap mirror' again: it copies the signature tag with the release.",
                    why=WHY_SIGSTORE,
                )
            else:
                run.check(
                    CHECK_SIGSTORE,
                    WARN,
                    f"{result.tag} is in the mirror and names {digest}, but no key to verify it: the cluster has no "
                    "ClusterImagePolicy for the release yet (4.21 brings it)",
                    fix="Set endpoints.sigstore_key to the release's Sigstore public key to check it now.",
                    why=WHY_SIGSTORE,
                )
            return
        result = sigstore.verify_release(client, repo, digest, policy, image_repo)
    except RegistryError as exc:
        run.check(CHECK_SIGSTORE, WARN, f"not checked: {exc.message}", fix=exc.fix, why=WHY_SIGSTORE)
        return
    finally:
        regs.close()
    if result.ok:
        run.check(
            CHECK_SIGSTORE,
            PASS,
            f"{plan.mirror_repository}:{result.tag} verifies for {digest}: identity {result.identity}, "
            f"{result.key_type} key {result.key_id} of {result.policy}",
            why=WHY_SIGSTORE,
        )
    else:
        try:
            sigstore.require_valid(result, plan.mirror_repository)
        except AirgapError as exc:
            run.check(CHECK_SIGSTORE, FAIL, exc.message, fix=exc.fix, why=WHY_SIGSTORE)
    if policy is not None and run.cluster_ok:
        _check_scope(run, policy, image_repo)


def _check_scope(run: _Run, policy: sigstore.Policy, image_repo: str) -> None:
    plan = run.ctx.plan
    scope = policy.scope_for(image_repo) or image_repo
    sources = _mirror_sources(run)
    covering = [s for s in sources if image_repo == s or image_repo.startswith(s.rstrip("/") + "/")]
    if covering:
        run.check(
            CHECK_MIRROR_SCOPE,
            PASS,
            f"the cluster's mirror sets redirect {', '.join(covering)} (policy scope {scope}) to the mirror, where "
            "the signature is",
            why=WHY_SIGSTORE,
        )
        return
    run.check(
        CHECK_MIRROR_SCOPE,
        PASS,
        f"no mirror set on the cluster covers {scope} yet; the mirror configuration step applies one for "
        f"{plan.endpoints.release_source} → {plan.mirror_repository}, where the signature is",
        why=WHY_SIGSTORE,
    )


def _check_admin_gates(run: _Run) -> None:
    ctx = run.ctx
    gates = adminacks.read_gates(ctx.cluster, run.current)
    if gates is None:
        run.check(CHECK_ADMIN_ACK, PASS, "the cluster has no admin-gates ConfigMap", why=WHY_ADMIN_ACK)
        return
    applying = [g for g in gates if g.applies]
    if not applying:
        run.check(
            CHECK_ADMIN_ACK,
            PASS,
            f"no gate applies to {run.current or 'the current version'}",
            why=WHY_ADMIN_ACK,
        )
        return
    for g in applying:
        ctx.emit.info(f"admin gate {g.key} ({'acknowledged' if g.acked else 'not acknowledged'}): {g.text}")
    blocking = [g for g in applying if not g.acked]
    if not blocking:
        run.check(
            CHECK_ADMIN_ACK,
            PASS,
            "acknowledged: " + "; ".join(f"{g.key}: {g.text}" for g in applying),
            why=WHY_ADMIN_ACK,
        )
        return
    minor = run.minor_update
    status = FAIL if minor or minor is None else WARN
    run.check(
        CHECK_ADMIN_ACK,
        status,
        "; ".join(f"{g.key} is not acknowledged: {g.text}" for g in blocking)
        + ("" if status == FAIL else " (does not block an update within the minor version)"),
        fix="Do what the gate says, then acknowledge it: "
        + ", ".join(f"ocp-airgap fix apply adminack/{g.key} --acknowledge --plan P" for g in blocking),
        why=WHY_ADMIN_ACK,
    )
