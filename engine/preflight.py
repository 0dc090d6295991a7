"""Preflight: everything the documented procedure needs, checked before anything is changed (PROCEDURES.md §A).

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
   ``Manual`` mode without ``upgradeable-to`` at the target minor.
5. ``etcd backup`` — when the admin says it was taken (journaled), with the documented backup command.
6. Mirror registry: reachable, TLS chain trusted, subjectAltName present, not expiring within 30 days,
   credentials accepted, push right (an upload is started and cancelled).
7. ``media free space`` — when the mode uses removable media.
8. ``update path`` — the target is reachable in the channel's graph; ``release signature`` — its signature is
   applied on the cluster or can be found in the store.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from cryptography import x509

from engine.cluster import (
    CATALOG_SOURCE,
    CLOUD_CREDENTIAL,
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    CONFIGMAP,
    ICSP,
    IDMS,
    IMAGE_CONFIG,
    MCP,
    MHC,
    NODE,
    PDB,
    POD,
    SECRET,
    Resource,
    condition,
    current_version,
    selector_matches,
)
from engine.context import Context
from engine.errors import (
    AirgapError,
    ClusterError,
    CredentialsError,
    Forbidden,
    InputError,
    RegistryAuthError,
    SignatureError,
    TLSError,
)
from engine.events import CheckResult, CheckStatus

STEP = "preflight"
PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL

BACKUP_SCRIPT = ["chroot", "/host", "/usr/local/bin/cluster-backup.sh", "/home/core/assets/backup"]
BACKUP_FRESH = timedelta(hours=24)
EXPIRY_WARNING = timedelta(days=30)
CLOUD_CREDENTIAL_ANNOTATION = "cloudcredential.openshift.io/upgradeable-to"

WHY = {
    "oc": "For a disconnected update the docs ask for the oc of the version being updated to.",
    "cluster": "Every step talks to the cluster's API as a user with admin rights.",
    "rights": "A missing right found now is better than a 403 halfway through the update.",
    "clusterversion": "The update starts from the version the cluster runs, in its channel.",
    "failing": "oc adm upgrade refuses to start while the cluster reports Failing=True.",
    "invalid": "With Invalid=True the Cluster Version Operator ignores the requested update.",
    "progressing": "An update is already running; a new one must wait until it has completed.",
    "upgradeable": "Upgradeable=False blocks updates to another minor version; z-stream updates pass.",
    "retrieved": "A disconnected cluster cannot fetch its list of updates; the update is then requested by digest.",
    "operators": "The update waits for every ClusterOperator; an unavailable or degraded one stalls it.",
    "nodes": "Nodes that are not Ready cannot be drained and updated.",
    "mcp": "Nodes of a paused MachineConfigPool are skipped by the update; a degraded pool stalls it.",
    "pdb": "A PodDisruptionBudget that allows no disruption blocks the node drain; if all its pods are on "
    "one node the drain can never finish.",
    "cco": "With manually maintained cloud credentials, the cloud resources must be updated for the new "
    "release first.",
    "etcd": "A recent etcd backup is the way back if the update fails and the cluster must be restored.",
    "mirror": "The cluster pulls every image of the release from the mirror registry; it must keep running.",
    "tls": "oc, skopeo, podman and the nodes refuse a registry whose certificate they cannot verify.",
    "san": "A self-signed certificate must carry a subjectAltName for the registry host.",
    "expiry": "The mirror must keep serving for as long as the cluster runs.",
    "credentials": "Mirroring logs in to the mirror registry with the credentials of the auth file.",
    "push": "Mirroring writes to the mirror registry: the login must be allowed to push.",
    "media": "The release must fit on the removable media that carries it across the air gap.",
    "path": "The channel's update graph must have a path from the current version to the target.",
    "signature": "Without the signature ConfigMap a disconnected cluster cannot verify the release.",
}


@dataclass(frozen=True)
class Right:
    verb: str
    resource: Resource
    namespace: str = ""
    name: str = ""
    needed_for: str = ""

    def describe(self) -> str:
        what = (
            f"{self.resource.plural}.{self.resource.group}" if self.resource.group else self.resource.plural
        )
        if self.name:
            what += f"/{self.name}"
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {what}{where}"


def required_rights(cluster_version: str = "") -> list[Right]:
    """Every right a later step needs (ImageDigestMirrorSet from 4.13 on, ImageContentSourcePolicy before)."""
    mirror_set = IDMS
    minor = _minor(cluster_version)
    if minor is not None and minor < (4, 13):
        mirror_set = ICSP
    return [
        Right("get", CLUSTER_VERSION, name="version", needed_for="read the cluster version"),
        Right("patch", CLUSTER_VERSION, name="version", needed_for="start the update"),
        Right("list", CLUSTER_OPERATOR, needed_for="follow the operators"),
        Right("list", NODE, needed_for="follow the nodes"),
        Right("list", MCP, needed_for="follow the MachineConfigPools"),
        Right("list", PDB, needed_for="find drain blockers"),
        Right("list", MHC, "openshift-machine-api", needed_for="find the MachineHealthChecks"),
        Right("patch", MHC, "openshift-machine-api", needed_for="pause and resume MachineHealthChecks"),
        Right("create", CONFIGMAP, "openshift-config-managed", needed_for="apply the release signature"),
        Right("update", CONFIGMAP, "openshift-config-managed", needed_for="update the release signature"),
        Right("get", CONFIGMAP, "openshift-config-managed", needed_for="read the trusted release keys"),
        Right("create", CONFIGMAP, "openshift-config", needed_for="trust the mirror CA on the cluster"),
        Right("patch", CONFIGMAP, "openshift-config", needed_for="add the mirror CA to the trusted CAs"),
        Right("patch", IMAGE_CONFIG, name="cluster", needed_for="point the cluster at the mirror CA"),
        Right("create", mirror_set, needed_for="redirect image pulls to the mirror"),
        Right(
            "patch",
            CATALOG_SOURCE,
            "openshift-marketplace",
            needed_for="point the operator catalog at the mirror",
        ),
        Right("get", SECRET, "openshift-config", "pull-secret", needed_for="read the global pull secret"),
    ]


def _minor(version: str) -> tuple[int, int] | None:
    m = re.match(r"^v?(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _version_tuple(version: str) -> tuple[int, ...]:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    return tuple(int(x) for x in m.groups(default="0")) if m else ()


@dataclass
class PreflightOptions:
    etcd_backup_at: datetime | None = None
    """When the admin says the last etcd backup was taken (recorded in the journal)."""
    graph_file: str = ""
    """A saved update graph, for the disconnected side."""
    ask_password: Callable[[str], str] | None = None
    """How to ask for the mirror password when neither the auth file nor the keyring has it."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class _Run:
    def __init__(self, ctx: Context, options: PreflightOptions) -> None:
        self.ctx = ctx
        self.options = options
        self.results: list[CheckResult] = []
        self.cv: dict[str, Any] | None = None
        self.cluster_ok = False
        self.cluster_reason = ""
        self.current = ""
        self.channel = ""
        self.user = ""

    def check(self, name: str, status: CheckStatus, detail: str, fix: str = "", why: str = "") -> None:
        self.results.append(self.ctx.emit.check(name, status, detail, fix=fix, why=WHY.get(why, why)))

    def skipped(self, name: str, why: str) -> None:
        self.check(
            name,
            WARN,
            f"not checked: {self.cluster_reason}",
            fix="Run preflight where the cluster is reachable.",
            why=why,
        )

    @property
    def target(self) -> str:
        return self.ctx.plan.release.version

    @property
    def minor_update(self) -> bool | None:
        cur, tgt = _minor(self.current), _minor(self.target)
        if cur is None or tgt is None:
            return None
        return tgt > cur

    def guarded(self, name: str, why: str, fn: Callable[[], None]) -> None:
        """Run one check; an error it hits becomes that check's failure, never the end of preflight."""
        try:
            fn()
        except Forbidden as exc:
            self.check(name, FAIL, exc.message, fix=exc.fix, why=why)
        except AirgapError as exc:
            self.check(name, FAIL, exc.message, fix=exc.fix, why=why)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.check(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}", why=why)


# ----- 1. oc -------------------------------------------------------------------------------------------


def _check_oc(run: _Run) -> None:
    from engine.oc import find_oc, oc_version

    try:
        oc = find_oc(run.ctx.plan.oc_path)
    except AirgapError as exc:
        run.check("oc client", WARN, exc.message, fix=exc.fix, why="oc")
        return
    version = oc_version(oc)
    client = version.semver
    target = _version_tuple(run.target)
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


# ----- 2. cluster and rights -----------------------------------------------------------------------------


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


def _check_rights(run: _Run) -> None:
    cluster = run.ctx.cluster
    rights = required_rights(run.current)
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


# ----- 3. ClusterVersion ---------------------------------------------------------------------------------


def _check_cluster_version(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "clusterversion", "version"])
    cv = cluster.cluster_version()
    run.cv = cv
    run.current = current_version(cv)
    run.channel = str((cv.get("spec") or {}).get("channel") or "")
    detail = f"{run.current}, channel {run.channel or '(none)'}"
    if run.target:
        cur, tgt = _version_tuple(run.current), _version_tuple(run.target)
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


# ----- 4. operators, nodes, pools, PDBs, cloud credentials -----------------------------------------------


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


def _check_pdbs(run: _Run) -> None:
    cluster = run.ctx.cluster
    run.ctx.emit.command(["oc", *cluster.oc_args(), "get", "poddisruptionbudgets", "--all-namespaces"])
    pdbs = cluster.list(PDB)
    blockers = []
    pods_by_ns: dict[str, list[dict[str, Any]]] = {}
    for pdb in pdbs:
        st = pdb.get("status") or {}
        if st.get("disruptionsAllowed", 1) != 0 or not st.get("expectedPods", 1):
            continue
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
    if blockers:
        run.check(
            "PodDisruptionBudgets",
            WARN,
            f"{len(blockers)} allow no disruption: " + "; ".join(blockers),
            fix="Before updating, run more replicas on different nodes or relax the budget for the update "
            '(e.g. oc patch pdb <name> -n <ns> --type=merge -p \'{"spec":{"minAvailable":0}}\'); '
            "otherwise the drain of those nodes waits forever.",
            why="pdb",
        )
    else:
        run.check("PodDisruptionBudgets", PASS, f"{len(pdbs)} budgets, all allow a disruption", why="pdb")


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
    target_minor = _minor(run.target)
    marked = _minor(annotation)
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


# ----- 5. etcd backup ---------------------------------------------------------------------------------------


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


# ----- 6. mirror registry -------------------------------------------------------------------------------


def _split_host(registry: str) -> tuple[str, int]:
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest.lstrip(":") or 443)
    host, _, port = registry.partition(":")
    return host, int(port or 443)


def _peer_certificate(host: str, port: int) -> x509.Certificate:
    raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    raw.check_hostname = False
    raw.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        raw.wrap_socket(sock, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise TLSError(f"{host}:{port} presented no certificate", fix="Configure TLS on the registry.")
    return x509.load_der_x509_certificate(der)


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def _name_matches(host: str, names: list[str]) -> bool:
    host = host.lower()
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _mirror_auth(run: _Run) -> Any:
    from engine.authfile import AuthFile

    plan = run.ctx.plan
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    if auth.lookup(plan.mirror.registry, plan.mirror.repository) is not None:
        return auth, f"the auth file {auth.path}"
    if plan.mirror.username:
        from engine.credentials import mirror_password

        password = mirror_password(run.ctx, run.options.ask_password)
        return auth.with_login(
            plan.mirror.registry, plan.mirror.username, password, "the plan"
        ), "the keyring"
    return auth, ""


def _check_mirror(run: _Run) -> None:
    ctx = run.ctx
    plan = ctx.plan
    registry = plan.mirror.registry
    names = [
        "mirror reachable",
        "mirror TLS trust",
        "mirror certificate SAN",
        "mirror certificate expiry",
        "mirror credentials",
        "mirror push right",
    ]
    if not registry:
        for name in names:
            run.check(
                name,
                WARN,
                "not checked: mirror.registry is not set in the plan",
                fix="Set mirror.registry (host:port) in the plan.",
                why="mirror",
            )
        return
    if plan.mirroring.mode == "to-media":
        for name in names:
            run.check(
                name,
                WARN,
                "not checked: with mode to-media this host writes to the media, not to the mirror registry",
                fix="Run preflight on the disconnected side for the registry checks.",
                why="mirror",
            )
        return
    host, port = _split_host(registry)
    ctx.emit.command(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n", f"https://{registry}/v2/"])
    try:
        cert = _peer_certificate(host, port)
    except (OSError, ssl.SSLError, TLSError) as exc:
        run.check(
            "mirror reachable",
            FAIL,
            f"cannot open a TLS connection to {registry} ({exc})",
            fix=f"Check that the mirror registry runs and that {registry} is reachable from this host.",
            why="mirror",
        )
        for name in names[1:]:
            run.check(name, WARN, f"not checked: {registry} is not reachable", why="mirror")
        return
    run.check("mirror reachable", PASS, f"{registry} answers TLS", why="mirror")

    # chain trust (hostname checked separately, below)
    from engine.registry import build_ssl_context, translate_tls_error

    ca_file = plan.resolve_path(plan.mirror.ca_file)
    trusted = False
    try:
        verify = build_ssl_context(registry, ca_file)
        verify.check_hostname = False
        with (
            socket.create_connection((host, port), timeout=10) as sock,
            verify.wrap_socket(sock, server_hostname=host),
        ):
            trusted = True
    except ssl.SSLError as exc:
        err = translate_tls_error(registry, exc, "mirror.ca_file")
        run.check(
            "mirror TLS trust",
            FAIL,
            err.message if err else f"TLS verification of {registry} failed ({exc})",
            fix=(err.fix if err else "Set mirror.ca_file in the plan to the CA that signed it.")
            + " To trust it on this host and the cluster: ocp-airgap credentials trust-ca --plan P",
            why="tls",
        )
    except InputError as exc:
        run.check("mirror TLS trust", FAIL, exc.message, fix=exc.fix, why="tls")
    if trusted:
        source = f"mirror.ca_file {ca_file}" if ca_file else "the system trust"
        run.check(
            "mirror TLS trust", PASS, f"certificate chain of {registry} verified with {source}", why="tls"
        )

    san = _san_names(cert)
    if not san:
        run.check(
            "mirror certificate SAN",
            FAIL,
            f"the certificate of {registry} has no subjectAltName (only CN {cert.subject.rfc4514_string()})",
            fix=f"Reissue it with a subjectAltName for {host} "
            f"(openssl: -addext 'subjectAltName={'IP' if re.match(r'^[0-9.]+$', host) else 'DNS'}:{host}').",
            why="san",
        )
    elif not _name_matches(host, san):
        run.check(
            "mirror certificate SAN",
            FAIL,
            f"the certificate of {registry} is for {', '.join(san)}, not {host}",
            fix=f"Reach the registry by one of those names, or reissue the certificate with {host}.",
            why="san",
        )
    else:
        run.check("mirror certificate SAN", PASS, f"subjectAltName includes {host}", why="san")

    left = cert.not_valid_after_utc - run.options.now
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    if left <= timedelta(0):
        run.check(
            "mirror certificate expiry",
            FAIL,
            f"the certificate of {registry} expired on {until}",
            fix="Renew the registry certificate now.",
            why="expiry",
        )
    elif left < EXPIRY_WARNING:
        run.check(
            "mirror certificate expiry",
            WARN,
            f"the certificate of {registry} expires on {until} (in {left.days} days)",
            fix="Renew the registry certificate before it expires.",
            why="expiry",
        )
    else:
        run.check("mirror certificate expiry", PASS, f"valid until {until} ({left.days} days)", why="expiry")

    if not trusted:
        for name in names[4:]:
            run.check(
                name, WARN, f"not checked: the TLS certificate of {registry} is not trusted", why="mirror"
            )
        return
    _check_mirror_login(run)


def _check_mirror_login(run: _Run) -> None:
    from engine.registry import RegistryClient

    plan = run.ctx.plan
    registry = plan.mirror.registry
    repository = plan.mirror.repository
    try:
        auth, source = _mirror_auth(run)
    except (CredentialsError, InputError) as exc:
        run.check("mirror credentials", WARN, f"not checked: {exc.message}", fix=exc.fix, why="credentials")
        run.check("mirror push right", WARN, "not checked: no mirror credentials", why="push")
        return
    if not source:
        run.check(
            "mirror credentials",
            FAIL,
            f"no login for {registry}: neither the auth file nor the plan has one",
            fix="Add it: ocp-airgap credentials merge --plan P",
            why="credentials",
        )
        run.check("mirror push right", WARN, "not checked: no mirror credentials", why="push")
        return
    client = RegistryClient(registry, auth=auth, ca_file=plan.resolve_path(plan.mirror.ca_file))
    with client:
        creds = client.credentials(repository)
        who = creds.username if creds else "?"
        try:
            client.ping()
        except RegistryAuthError as exc:
            run.check("mirror credentials", FAIL, exc.message, fix=exc.fix, why="credentials")
            run.check("mirror push right", WARN, "not checked: the login was rejected", why="push")
            return
        run.check(
            "mirror credentials", PASS, f"{registry} accepts user {who} (from {source})", why="credentials"
        )
        run.ctx.emit.command(
            ["skopeo", "login", "--authfile", plan.resolve_path(plan.auth_file) or "<auth file>", registry],
            note="the same login by hand",
        )
        resp = client.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            push=True,
            headers={"Content-Length": "0"},
            content=b"",
        )
        if resp.status_code == 202:
            location = resp.headers.get("Location", "")
            if location:
                client.request(
                    "DELETE", urljoin(client.base + "/", location), repository=repository, push=True
                )
            run.check(
                "mirror push right",
                PASS,
                f"user {who} may push to {registry}/{repository} (an upload was started and cancelled)",
                why="push",
            )
        elif resp.status_code in (401, 403):
            run.check(
                "mirror push right",
                FAIL,
                f"user {who} may not push to {registry}/{repository} (the registry answered {resp.status_code})",
                fix=f"Use an account with write access to {registry}/{repository} (mirror.username), or ask the "
                "registry administrator to grant it.",
                why="push",
            )
        else:
            run.check(
                "mirror push right",
                FAIL,
                f"starting an upload to {registry}/{repository} got {resp.status_code}",
                fix="See the registry's logs.",
                why="push",
            )


# ----- 7. media -----------------------------------------------------------------------------------------


def _existing_parent(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def release_size(ctx: Context, pullspec: str) -> tuple[int, int]:
    """(bytes, images) of a release: every distinct blob of the release image and its components.

    Reads the release's image-references, then every component's manifest (in parallel); nothing is
    downloaded but manifests."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.authfile import AuthFile
    from engine.mirror import component_source
    from engine.registry import Reference, RegistryClient
    from engine.release import read_release_info

    plan = ctx.plan
    info = read_release_info(ctx, pullspec)
    refs = [Reference.parse(info.pullspec or pullspec)] + [component_source(plan, c) for c in info.components]
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    ca_file = plan.resolve_path(plan.endpoints.source_ca_file)
    clients: dict[str, RegistryClient] = {}
    for ref in refs:
        if ref.registry not in clients:
            clients[ref.registry] = RegistryClient(
                ref.registry, auth=auth, ca_file=ca_file, ca_setting="endpoints.source_ca_file"
            )

    def blobs(ref: Reference) -> dict[str, int]:
        client = clients[ref.registry]
        manifest = client.get_manifest(ref.repository, ref.ref)
        out = {d.digest: d.size for d in manifest.blobs()}
        for child in manifest.children():
            out.update({d.digest: d.size for d in client.get_manifest(ref.repository, child.digest).blobs()})
        return out

    sizes: dict[str, int] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(8, plan.mirroring.concurrency))) as pool:
            for found in pool.map(blobs, refs):
                ctx.check_cancel()
                sizes.update(found)
    finally:
        for client in clients.values():
            client.close()
    return sum(sizes.values()), len(refs)


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


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
            f"{_format_bytes(free)} free at {base}; the release size is not known (no target digest yet)",
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
            f"{_format_bytes(free)} free at {base}; the release size could not be read ({exc.message})",
            fix=exc.fix or "Make sure the media has room for the release (typically 10-20 GiB).",
            why="media",
        )
        return
    if free < size:
        run.check(
            "media free space",
            FAIL,
            f"{_format_bytes(free)} free at {base}, the release needs {_format_bytes(size)} ({images} images)",
            fix="Use larger media, or free space on it.",
            why="media",
        )
    else:
        run.check(
            "media free space",
            PASS,
            f"{_format_bytes(free)} free at {base}; the release needs {_format_bytes(size)} ({images} images)",
            why="media",
        )


# ----- 8. target release --------------------------------------------------------------------------------


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


# ----- the run ------------------------------------------------------------------------------------------


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
    failed = [r for r in run.results if r.status == FAIL]
    warned = [r for r in run.results if r.status == WARN]
    if run.cluster_ok:
        try:
            ctx.journal.note(
                STEP,
                f"preflight: {len(run.results)} checks, {len(failed)} failed, {len(warned)} warnings",
                failed=[r.name for r in failed],
            )
        except (InputError, OSError):
            pass
    return run.results


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
    "backup_command",
    "release_size",
    "required_rights",
    "run_preflight",
    "summarize",
]
