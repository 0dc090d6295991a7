"""Checks of the live cluster: API and rights, ClusterVersion and its conditions, operators, nodes,
MachineConfigPools, PodDisruptionBudgets, CloudCredential."""

from __future__ import annotations

from typing import Any

from engine.cluster import (
    CLOUD_CREDENTIAL,
    CLUSTER_OPERATOR,
    MCP,
    NODE,
    PDB,
    POD,
    condition,
    current_version,
    selector_matches,
)
from engine.errors import (
    ClusterError,
    Forbidden,
    InputError,
    TLSError,
)
from engine.preflight.base import (
    CLOUD_CREDENTIAL_ANNOTATION,
    FAIL,
    PASS,
    PDB_DECISION,
    STEP,
    WARN,
    _Run,
    required_rights,
)
from engine.util import minor_of, version_tuple


def _check_cluster(run: _Run) -> None:
    ctx = run.ctx
    connected_side = ctx.plan.mirroring.mode == "to-media"
    try:
        cluster = ctx.cluster
        ctx.emit.command(["oc", *cluster.oc_args(), "whoami"])
        run.user = cluster.whoami()
    except (ClusterError, TLSError, InputError) as exc:
        run.cluster_reason = f"the cluster is not reachable ({exc.message})"
        status = WARN if connected_side else FAIL
        detail = exc.message + (" — expected on the connected side (mode to-media)" if connected_side else "")
        run.check("cluster API", status, detail, fix=exc.fix, why="cluster")
        return
    run.cluster_ok = True
    run.check("cluster API", PASS, f"{cluster.server} as {run.user}", why="cluster")
    if cluster.insecure:
        run.check(
            "cluster API TLS",
            WARN,
            f"the kubeconfig skips TLS verification of {cluster.server} (insecure-skip-tls-verify: true): "
            "anyone between this host and the API server can read the token and change what is sent",
            fix="Put the API server's CA in the kubeconfig (oc login --certificate-authority=<ca.crt> "
            f"{cluster.server}) and remove insecure-skip-tls-verify.",
            why="cluster",
        )


def _check_rights(run: _Run) -> None:
    cluster = run.ctx.cluster
    from engine.cluster import machine_api_enabled

    rights = required_rights(run.current, machine_api=machine_api_enabled(run.cv or {}))
    missing: list[str] = []
    for right in rights:
        try:
            allowed, _reason = cluster.can_i(right.verb, right.resource, right.namespace, right.name)
        except Forbidden as exc:
            run.check(
                "rights",
                WARN,
                f"cannot ask the API which rights {run.user} has ({exc.message})",
                fix=exc.fix,
                why="rights",
            )
            return
        if not allowed:
            missing.append(f"{right.describe()} (to {right.needed_for})")
    run.ctx.emit.command(
        ["oc", *cluster.oc_args(), "auth", "can-i", "patch", "clusterversions.config.openshift.io"]
    )
    if missing:
        run.check(
            "rights",
            FAIL,
            f"user {run.user} lacks {len(missing)} of {len(rights)} rights: " + "; ".join(missing),
            fix="Log in as a cluster administrator (oc login -u kubeadmin ...), or ask for the role: "
            f"oc adm policy add-cluster-role-to-user cluster-admin {run.user}",
            why="rights",
        )
    else:
        run.check(
            "rights", PASS, f"user {run.user} has all {len(rights)} rights the steps need", why="rights"
        )


def _check_cluster_version(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "clusterversion", "version"])
    cv = cluster.cluster_version()
    run.cv = cv
    run.current = current_version(cv)
    run.channel = str((cv.get("spec") or {}).get("channel") or "")
    detail = f"{run.current}, channel {run.channel or '(none)'}"
    if run.target:
        cur, tgt = version_tuple(run.current), version_tuple(run.target)
        if tgt and cur and tgt < cur:
            run.check(
                "ClusterVersion",
                FAIL,
                f"{detail}; the target {run.target} is older: downgrades are not supported",
                fix="Set release.version in the plan to a newer release.",
                why="clusterversion",
            )
            return
        if tgt == cur:
            run.check(
                "ClusterVersion",
                WARN,
                f"{detail}; the cluster already runs the target {run.target}",
                fix="Choose the next release in release.version.",
                why="clusterversion",
            )
            return
        detail += f"; target {run.target}"
    if not run.channel:
        run.check(
            "ClusterVersion",
            WARN,
            detail,
            fix="Set a channel (oc adm upgrade channel stable-4.N) or release.channel in the plan.",
            why="clusterversion",
        )
    else:
        run.check("ClusterVersion", PASS, detail, why="clusterversion")


_CONDITION_WHY = {
    "Failing": "failing",
    "Invalid": "invalid",
    "Progressing": "progressing",
    "Upgradeable": "upgradeable",
    "RetrievedUpdates": "retrieved",
}


def _conditions(run: _Run) -> None:
    if run.cv is None:
        for name, why in _CONDITION_WHY.items():
            run.check(name, WARN, "not checked: the ClusterVersion could not be read (see above)", why=why)
        return
    cv = run.cv

    def text(c: dict[str, Any]) -> str:
        reason = f" ({c.get('reason')})" if c.get("reason") else ""
        message = str(c.get("message") or "").replace("\n", " ")
        return f"{c.get('status')}{reason}" + (f": {message}" if message else "")

    failing = condition(cv, "Failing")
    if failing and failing.get("status") == "True":
        run.check(
            "Failing",
            FAIL,
            text(failing),
            fix="Resolve the failure first (oc adm upgrade shows it; oc get co shows which operator).",
            why="failing",
        )
    elif failing and failing.get("status") == "Unknown":
        run.check("Failing", WARN, text(failing), fix="Wait and check again: oc adm upgrade", why="failing")
    else:
        run.check("Failing", PASS, text(failing) if failing else "not reported", why="failing")

    invalid = condition(cv, "Invalid")
    if invalid and invalid.get("status") == "True":
        run.check(
            "Invalid",
            FAIL,
            text(invalid),
            fix="Correct spec.desiredUpdate (oc get clusterversion version -o yaml), e.g. clear it with "
            "oc adm upgrade --clear.",
            why="invalid",
        )
    else:
        run.check("Invalid", PASS, "not set" if not invalid else text(invalid), why="invalid")

    progressing = condition(cv, "Progressing")
    if progressing and progressing.get("status") == "True":
        run.check(
            "Progressing",
            FAIL,
            f"an update is already in progress: {progressing.get('message', '')}",
            fix="Wait for it to complete (ocp-airgap upgrade watch --plan P), then run preflight again.",
            why="progressing",
        )
    else:
        run.check(
            "Progressing", PASS, text(progressing) if progressing else "not reported", why="progressing"
        )

    upgradeable = condition(cv, "Upgradeable")
    minor = run.minor_update
    if upgradeable is None or upgradeable.get("status") != "False":
        run.check(
            "Upgradeable",
            PASS,
            "absent: nothing blocks updates" if upgradeable is None else text(upgradeable),
            why="upgradeable",
        )
    elif minor is False:
        run.check(
            "Upgradeable",
            PASS,
            f"{text(upgradeable)} — blocks minor updates only; {run.current} -> {run.target} is a z-stream update",
            why="upgradeable",
        )
    else:
        run.check(
            "Upgradeable",
            FAIL if minor else WARN,
            text(upgradeable),
            fix="Resolve what the message names before updating to another minor version "
            "(or choose a z-stream target).",
            why="upgradeable",
        )

    retrieved = condition(cv, "RetrievedUpdates")
    if retrieved is None or retrieved.get("status") == "True":
        run.check("RetrievedUpdates", PASS, "True" if retrieved else "not reported", why="retrieved")
    else:
        run.check(
            "RetrievedUpdates",
            PASS,
            f"{retrieved.get('status')} ({retrieved.get('reason', '')}) — expected on a disconnected cluster: "
            "the update is requested explicitly by digest",
            why="retrieved",
        )


def _check_operators(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "clusteroperators"])
    cos = cluster.list(CLUSTER_OPERATOR)
    unavailable, degraded, progressing = [], [], []
    for co in cos:
        name = co["metadata"]["name"]
        av, deg, prog = (condition(co, t) for t in ("Available", "Degraded", "Progressing"))
        if not av or av.get("status") != "True":
            unavailable.append(name)
        if deg and deg.get("status") == "True":
            degraded.append(
                f"{name} ({deg.get('reason', '')}: {deg.get('message', '')})".replace(" (: )", "")
            )
        if prog and prog.get("status") == "True":
            progressing.append(name)
    if unavailable or degraded:
        parts = []
        if unavailable:
            parts.append("not available: " + ", ".join(unavailable))
        if degraded:
            parts.append("degraded: " + "; ".join(degraded))
        run.check(
            "ClusterOperators",
            FAIL,
            "; ".join(parts),
            fix="Fix those operators first: oc describe clusteroperator <name>",
            why="operators",
        )
    elif progressing:
        run.check(
            "ClusterOperators",
            WARN,
            f"{len(cos)} available, none degraded; progressing: {', '.join(progressing)}",
            fix="Wait until they settle: oc get clusteroperators",
            why="operators",
        )
    else:
        run.check("ClusterOperators", PASS, f"all {len(cos)} available, none degraded", why="operators")


def _check_nodes(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "nodes"])
    nodes = cluster.list(NODE)
    not_ready = []
    cordoned = []
    for node in nodes:
        name = node["metadata"]["name"]
        ready = condition(node, "Ready")
        if not ready or ready.get("status") != "True":
            not_ready.append(name)
        if (node.get("spec") or {}).get("unschedulable"):
            cordoned.append(name)
    if not_ready:
        run.check(
            "Nodes",
            FAIL,
            f"not Ready: {', '.join(not_ready)} (of {len(nodes)})",
            fix="Bring them back (oc describe node <name>) before updating.",
            why="nodes",
        )
    elif cordoned:
        run.check(
            "Nodes",
            WARN,
            f"all {len(nodes)} Ready; cordoned: {', '.join(cordoned)}",
            fix="Uncordon them if that was not on purpose: oc adm uncordon <name>",
            why="nodes",
        )
    else:
        run.check("Nodes", PASS, f"all {len(nodes)} Ready", why="nodes")


def _check_pools(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "machineconfigpools"])
    pools = cluster.list(MCP)
    paused, degraded, updating = [], [], []
    for pool in pools:
        name = pool["metadata"]["name"]
        if (pool.get("spec") or {}).get("paused"):
            paused.append(name)
        deg = condition(pool, "Degraded")
        if deg and deg.get("status") == "True":
            degraded.append(f"{name} ({deg.get('message', '') or deg.get('reason', '')})")
        upd = condition(pool, "Updated")
        st = pool.get("status") or {}
        if (upd and upd.get("status") != "True") or st.get("updatedMachineCount") != st.get("machineCount"):
            updating.append(
                f"{name} ({st.get('updatedMachineCount', '?')} of {st.get('machineCount', '?')} updated)"
            )
    problems = []
    if paused:
        problems.append("paused: " + ", ".join(paused))
    if degraded:
        problems.append("degraded: " + "; ".join(degraded))
    if problems:
        fix = []
        if paused:
            fix.append(
                "Unpause: "
                + "; ".join(
                    f'oc patch mcp/{p} --type=merge --patch \'{{"spec":{{"paused":false}}}}\'' for p in paused
                )
                + " (keep a pool paused only for a deliberate canary rollout: its nodes are not updated)"
            )
        if degraded:
            fix.append("Fix the degraded pools first: oc describe mcp <name>")
        run.check("MachineConfigPools", FAIL, "; ".join(problems), fix=" ".join(fix), why="mcp")
    elif updating:
        run.check(
            "MachineConfigPools",
            WARN,
            "still updating: " + "; ".join(updating),
            fix="Wait until every pool is updated: oc get mcp",
            why="mcp",
        )
    else:
        run.check("MachineConfigPools", PASS, f"all {len(pools)} updated, none paused or degraded", why="mcp")


def _never_disrupts(pdb: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
    """The budget allows no eviction now and none can come by itself: ``disruptionsAllowed`` 0 with pods expected
    (the disruption controller's count), or ``minAvailable`` at least the number of pods it protects."""
    st = pdb.get("status") or {}
    if st.get("disruptionsAllowed", 1) == 0 and st.get("expectedPods", 1):
        return True
    min_available = (pdb.get("spec") or {}).get("minAvailable")
    return isinstance(min_available, int) and bool(pods) and min_available >= len(pods)


def _check_pdbs(run: _Run) -> None:
    """A budget that allows no disruption stops the drain of its pods' nodes: the pool goes Degraded after an hour
    and the update stalls. FAIL (the fix relaxes it: ocp-airgap fix apply pdb/<ns>/<name>), unless the admin
    accepts it explicitly (journaled decision naming exactly those budgets)."""
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "poddisruptionbudgets", "--all-namespaces"])
    pdbs = cluster.list(PDB)
    blockers = []
    ids = []
    pods_by_ns: dict[str, list[dict[str, Any]]] = {}
    for pdb in pdbs:
        ns = pdb["metadata"].get("namespace", "")
        name = pdb["metadata"]["name"]
        if ns not in pods_by_ns:
            pods_by_ns[ns] = cluster.list(POD, ns)
        selector = (pdb.get("spec") or {}).get("selector") or {}
        pods = [
            p
            for p in pods_by_ns[ns]
            if selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})
        ]
        if not _never_disrupts(pdb, pods):
            continue
        spec = pdb.get("spec") or {}
        limit = (
            f"minAvailable {spec['minAvailable']}"
            if "minAvailable" in spec
            else f"maxUnavailable {spec.get('maxUnavailable')}"
        )
        named = ", ".join(
            f"{p['metadata']['name']} on {(p.get('spec') or {}).get('nodeName') or 'no node'}" for p in pods
        )
        blockers.append(f"{ns}/{name} ({limit}) protects {named or 'no running pod'}")
        ids.append(f"{ns}/{name}")
    if not blockers:
        run.check("PodDisruptionBudgets", PASS, f"{len(pdbs)} budgets, all allow a disruption", why="pdb")
        return
    detail = f"{len(blockers)} allow no disruption: " + "; ".join(blockers)
    journal = run.ctx.journal
    reason = run.options.accept_blocking_pdbs.strip()
    if reason:
        journal.record_decision(STEP, PDB_DECISION, {"pdbs": sorted(ids)}, reason=reason)
    accepted = journal.decision(STEP, PDB_DECISION)
    accepted_ids = set((accepted or {}).get("pdbs") or []) if isinstance(accepted, dict) else set()
    if set(ids) <= accepted_ids:
        run.check(
            "PodDisruptionBudgets",
            WARN,
            detail + " — accepted by the admin (journaled decision): the drain of those nodes will wait",
            fix="Relax them for the update instead: ocp-airgap fix apply --plan P pdb/<namespace>/<name>.",
            why="pdb",
        )
        return
    run.check(
        "PodDisruptionBudgets",
        FAIL,
        detail,
        fix="Before updating, run more replicas on different nodes or relax the budget for the update "
        "(ocp-airgap fix apply --plan P " + " ".join(f"pdb/{i}" for i in ids) + ", or "
        'oc patch pdb <name> -n <ns> --type=merge -p \'{"spec":{"minAvailable":0}}\'); otherwise the drain of '
        "those nodes waits forever and the pool goes Degraded. To update anyway, accept it explicitly: "
        "ocp-airgap preflight --plan P --accept-blocking-pdbs REASON (journaled).",
        why="pdb",
    )


def _check_cloud_credential(run: _Run) -> None:
    cluster = run.ctx.cluster
    cc = cluster.get_or_none(CLOUD_CREDENTIAL, "cluster")
    if cc is None:
        run.check(
            "CloudCredential", PASS, "no cloudcredential/cluster (no cloud credentials to manage)", why="cco"
        )
        return
    mode = str((cc.get("spec") or {}).get("credentialsMode") or "default")
    if mode != "Manual":
        run.check("CloudCredential", PASS, f"credentialsMode {mode}: managed by the operator", why="cco")
        return
    annotation = str(
        ((cc.get("metadata") or {}).get("annotations") or {}).get(CLOUD_CREDENTIAL_ANNOTATION, "")
    )
    target_minor = minor_of(run.target)
    marked = minor_of(annotation)
    if run.minor_update is None:
        run.check(
            "CloudCredential",
            WARN,
            f"Manual mode; cannot tell whether the update is gated (current {run.current or '?'}, "
            f"target {run.target or '?'})",
            fix="Set release.version in the plan.",
            why="cco",
        )
    elif run.minor_update is False:
        run.check(
            "CloudCredential",
            PASS,
            f"Manual mode; {run.current} -> {run.target} stays within the minor version, which is not gated",
            why="cco",
        )
    elif target_minor is not None and marked is not None and marked >= target_minor:
        run.check(
            "CloudCredential",
            PASS,
            f"Manual mode, {CLOUD_CREDENTIAL_ANNOTATION}={annotation} covers {run.target}",
            why="cco",
        )
    else:
        seen = (
            f"{CLOUD_CREDENTIAL_ANNOTATION}={annotation}"
            if annotation
            else f"no {CLOUD_CREDENTIAL_ANNOTATION} annotation"
        )
        run.check(
            "CloudCredential",
            FAIL,
            f"Manual mode with {seen}; the target is {run.target}",
            fix="Update the cloud provider credentials for the new release (the CredentialsRequests of "
            f"{run.target}), then: oc annotate cloudcredential cluster "
            f"{CLOUD_CREDENTIAL_ANNOTATION}={run.target or '<target>'} --overwrite",
            why="cco",
        )
