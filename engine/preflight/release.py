"""Checks of the target release: the update path in the graph and the release signature."""

from __future__ import annotations

from engine.errors import (
    AirgapError,
    ClusterError,
    SignatureError,
)
from engine.preflight.base import FAIL, PASS, WARN, _Run


def _check_target(run: _Run) -> str:
    """The update path check; returns the target digest when known."""
    from engine.graph import Graph, plan_path
    from engine.release import get_graph

    ctx = run.ctx
    plan = ctx.plan
    digest = plan.release.digest
    if not run.target:
        run.check(
            "update path", WARN, "no target release in the plan", fix="Set release.version.", why="path"
        )
        return digest
    current = run.current
    if not current:
        run.check(
            "update path",
            WARN,
            f"not checked: the current version is unknown ({run.cluster_reason})",
            fix="Run preflight where the cluster is reachable, or check with: ocp-airgap release --current V",
            why="path",
        )
        return digest
    channel = plan.release.channel or run.channel
    graph: Graph | None = None
    try:
        graph, _source = get_graph(ctx, channel, graph_file=run.options.graph_file)
    except AirgapError as exc:
        run.check("update path", WARN, f"not checked: {exc.message}", fix=exc.fix, why="path")
        return digest
    try:
        choice = plan_path(graph, current, run.target)
    except AirgapError as exc:
        run.check("update path", FAIL, exc.message, fix=exc.fix, why="path")
        return digest
    node = graph.releases.get(run.target)
    if not digest and node is not None:
        digest = node.digest
    elif digest and node is not None and node.digest and node.digest != digest:
        run.check(
            "update path",
            FAIL,
            f"release.digest {digest} is not the graph's {node.digest} for {run.target}",
            fix="Run 'ocp-airgap release --plan P --write-plan' to store the right digest.",
            why="path",
        )
        return digest
    if choice.recommended is not None:
        hops = len(choice.recommended.hops)
        note = f" (update to {choice.recommended.versions[1]} first)" if hops > 1 else ""
        run.check("update path", PASS, f"{choice.recommended.describe()} in {channel}{note}", why="path")
    else:
        assert choice.shortest is not None
        risks = "; ".join(r.describe() for r in choice.shortest.risks)
        run.check(
            "update path",
            WARN,
            f"{choice.shortest.describe()} in {channel} needs conditional updates: {risks}",
            fix="Read the risks; the update step asks you to accept them explicitly.",
            why="path",
        )
    return digest


def _check_signature(run: _Run, digest: str) -> None:
    from engine.signatures import fetch_signatures, visible_signature_configmaps

    ctx = run.ctx
    plan = ctx.plan
    if not digest:
        run.check(
            "release signature",
            WARN,
            "not checked: the target digest is not known",
            fix="Run 'ocp-airgap release --plan P --write-plan' first.",
            why="signature",
        )
        return
    if run.cluster_ok:
        try:
            names = visible_signature_configmaps(ctx.cluster, digest)
        except ClusterError:
            names = []
        if names:
            run.check(
                "release signature",
                PASS,
                f"applied on the cluster: configmap {', '.join(names)} in openshift-config-managed",
                why="signature",
            )
            return
    try:
        found = fetch_signatures(
            plan.endpoints.signature_store, digest, ca_file=plan.resolve_path(plan.endpoints.ca_file)
        )
    except SignatureError as exc:
        reachable = "has no signature" in exc.message
        run.check("release signature", FAIL if reachable else WARN, exc.message, fix=exc.fix, why="signature")
        return
    except AirgapError as exc:
        run.check("release signature", WARN, exc.message, fix=exc.fix, why="signature")
        return
    run.check(
        "release signature",
        PASS,
        f"{len(found)} signature(s) for {digest} in the store; not applied yet "
        "(ocp-airgap signature apply --plan P)",
        why="signature",
    )
