"""Checks of the target release: the update path in the graph and the release signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import (
    AirgapError,
    ClusterError,
    SignatureError,
)
from engine.preflight.base import FAIL, PASS, WARN, _Run

if TYPE_CHECKING:
    from engine.graph import Graph


def _check_target(run: _Run) -> str:
    """The update path check; returns the target digest when known."""
    from engine.graph import plan_path
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
        if _skips_a_minor(run, current):
            _refuse_giant_hop(run, None, current)
            return digest
        run.check("update path", WARN, f"not checked: {exc.message}", fix=exc.fix, why="path")
        return digest
    if _skips_a_minor(run, current):
        _refuse_giant_hop(run, graph, current)
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


def _skips_a_minor(run: _Run, current: str) -> bool:
    """The target is more than one minor ahead and the plan holds no stored path of hops that each stay within the
    next minor (``release.path``, run hop by hop by ``upgrade run-path``)."""
    from engine.graph import giant_hop

    if not giant_hop(current, run.target):
        return False
    hops = [str(h.get("version", "")) for h in (run.ctx.plan.release.path or []) if isinstance(h, dict)]
    if not hops or hops[-1] != run.target:
        return True
    chain = [current, *hops]
    return any(giant_hop(a, b) for a, b in zip(chain, chain[1:], strict=False))


def _refuse_giant_hop(run: _Run, graph: Graph | None, current: str) -> None:
    """A target more than one minor ahead: the CVO would refuse it (GiantHop) after the mirror, the signature
    and the MHC pause were done. Refuse it here, naming the release to update to first (from the plan's channel
    graph, else from the next minor's channel)."""
    from engine.graph import giant_hop, intermediate
    from engine.release import get_graph
    from engine.util import minor_of

    target = run.target
    via = intermediate(graph, current, target) if graph is not None else ""
    cur = minor_of(current)
    if not via and cur is not None:
        kind = (run.ctx.plan.release.channel or run.channel or "stable-").split("-", 1)[0] or "stable"
        try:
            nxt, _source = get_graph(
                run.ctx, f"{kind}-{cur[0]}.{cur[1] + 1}", graph_file=run.options.graph_file
            )
            via = intermediate(nxt, current, target)
        except AirgapError:
            via = ""
    if via:
        first = via
    elif cur is not None:
        first = f"a {cur[0]}.{cur[1] + 1} release"
    else:
        first = "the next minor version"
    run.check(
        "update path",
        FAIL,
        f"{giant_hop(current, target)}: update to {first} first, then to {target}",
        fix=(
            "Store the whole path in the plan (ocp-airgap release --plan P --write-plan, or the wizard's Release "
            "step; on the disconnected side, the plan the media carries holds it) and update along it hop by hop "
            f"(ocp-airgap upgrade run-path, or the Update step). Or target {first} now (--write-plan --next-hop, "
            f"or set release.version to {via}), update, then run the steps again for {target}."
            if via
            else f"Choose {first} as the target first (ocp-airgap release --plan P)."
        ),
        why="path",
    )


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
