"""What every preflight check shares: the run (results, what was learned about the cluster), options, the rights
the later steps need, and the one-line "why" of each check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.cluster import (
    CATALOG_SOURCE,
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
    SECRET,
    Resource,
)
from engine.context import Context
from engine.errors import (
    AirgapError,
    Forbidden,
)
from engine.events import CheckResult, CheckStatus
from engine.util import minor_of

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
    "olm": "An installed operator that declares olm.maxOpenShiftVersion below the target minor blocks the "
    "minor update (OLM reports Upgradeable=False).",
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


def required_rights(cluster_version: str = "", *, machine_api: bool = True) -> list[Right]:
    """Every right a later step needs (ImageDigestMirrorSet from 4.13 on, ImageContentSourcePolicy before; the
    MachineHealthCheck rights only where the Machine API capability is enabled)."""
    mirror_set = IDMS
    minor = minor_of(cluster_version)
    if minor is not None and minor < (4, 13):
        mirror_set = ICSP
    rights = [
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
    if not machine_api:
        rights = [r for r in rights if r.resource != MHC]
    return rights


@dataclass
class PreflightOptions:
    etcd_backup_at: datetime | None = None
    """When the admin says the last etcd backup was taken (recorded in the journal)."""
    graph_file: str = ""
    """A saved update graph, for the disconnected side."""
    ask_password: Callable[[str], str] | None = None
    """How to ask for the mirror password when neither the auth file nor the keyring has it."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    accept_blocking_pdbs: str = ""
    """The admin's reason to update although PodDisruptionBudgets allow no disruption (journaled); empty: FAIL."""


PDB_DECISION = "accept-blocking-pdbs"
"""Journal decision key (step preflight): the PodDisruptionBudgets the admin accepted to update with."""


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
        cur, tgt = minor_of(self.current), minor_of(self.target)
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
