"""The resource types the simulated API server serves, with the discovery data and the table columns
``kubectl get`` prints for them (the same columns a real OpenShift 4 cluster prints)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    value: Callable[[Obj, dt.datetime], Any]
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    columns: tuple[Column, ...] = field(default=(), compare=False)
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """``plural.group`` (``configmaps`` for the core group): how kube names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> list[Obj]:
        entries: list[Obj] = []
        main: Obj = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries.append(main)
        for sub in self.subresources:
            verbs = ["get", "patch", "update"] if sub == "status" else ["create"]
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind if sub == "status" else "Eviction",
                    "verbs": verbs,
                    **({"group": "policy", "version": "v1"} if sub == "eviction" else {}),
                }
            )
        return entries


# --------------------------------------------------------------------------------------------- helpers


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery ``duration.HumanDuration``: the AGE/SINCE strings kubectl shows."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(value: str | None, now: dt.datetime) -> str:
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def condition(obj: Obj, ctype: str) -> Obj:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return {}


def _cond_status(ctype: str) -> Callable[[Obj, dt.datetime], Any]:
    return lambda o, now: condition(o, ctype).get("status", "")


def _name(o: Obj, now: dt.datetime) -> Any:
    return o["metadata"]["name"]


def _age(o: Obj, now: dt.datetime) -> Any:
    return age(o["metadata"].get("creationTimestamp"), now)


NAME = Column("Name", "string", _name, "Name must be unique within a namespace.", "name")
AGE = Column("Age", "string", _age, "CreationTimestamp is a timestamp representing the server time.")


def _cv_version(o: Obj, now: dt.datetime) -> Any:
    for h in (o.get("status") or {}).get("history") or []:
        if h.get("state") == "Completed":
            return h.get("version", "")
    return ""


def _co_version(o: Obj, now: dt.datetime) -> Any:
    for v in (o.get("status") or {}).get("versions") or []:
        if v.get("name") == "operator":
            return v.get("version", "")
    return ""


def _since(ctype: str) -> Callable[[Obj, dt.datetime], Any]:
    def f(o: Obj, now: dt.datetime) -> Any:
        t = condition(o, ctype).get("lastTransitionTime")
        return age(t, now) if t else ""

    return f


def _message(ctype: str) -> Callable[[Obj, dt.datetime], Any]:
    return lambda o, now: condition(o, ctype).get("message", "")


def _status_field(name: str, default: Any = "") -> Callable[[Obj, dt.datetime], Any]:
    return lambda o, now: (o.get("status") or {}).get(name, default)


def _node_status(o: Obj, now: dt.datetime) -> Any:
    ready = condition(o, "Ready").get("status")
    text = "Ready" if ready == "True" else ("NotReady" if ready in ("False", "Unknown") else "Unknown")
    if (o.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(o: Obj, now: dt.datetime) -> Any:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in (o["metadata"].get("labels") or {}) if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _node_version(o: Obj, now: dt.datetime) -> Any:
    return ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")


def _label(key: str) -> Callable[[Obj, dt.datetime], Any]:
    return lambda o, now: (o["metadata"].get("labels") or {}).get(key, "")


def _pod_ready(o: Obj, now: dt.datetime) -> Any:
    statuses = (o.get("status") or {}).get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{total}"


def _pod_restarts(o: Obj, now: dt.datetime) -> Any:
    return sum(int(s.get("restartCount", 0)) for s in (o.get("status") or {}).get("containerStatuses") or [])


def _pdb_field(section: str, name: str) -> Callable[[Obj, dt.datetime], Any]:
    return lambda o, now: str((o.get(section) or {}).get(name, "N/A"))


def _data_count(o: Obj, now: dt.datetime) -> Any:
    return len(o.get("data") or {}) + len(o.get("binaryData") or {})


# --------------------------------------------------------------------------------------------- the types

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        ("status",),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        (NAME, Column("Status", "string", lambda o, n: (o.get("status") or {}).get("phase", "")), AGE),
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        ("no",),
        ("status",),
        columns=(
            NAME,
            Column("Status", "string", _node_status, "The status of the node"),
            Column("Roles", "string", _node_roles, "The roles of the node"),
            AGE,
            Column("Version", "string", _node_version, "Kubelet Version reported by the node."),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        ("status", "eviction"),
        categories=("all",),
        columns=(
            NAME,
            Column(
                "Ready",
                "string",
                _pod_ready,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            Column(
                "Status",
                "string",
                lambda o, n: (o.get("status") or {}).get("phase", ""),
                "The aggregate status of the containers in this pod.",
            ),
            Column(
                "Restarts",
                "string",
                _pod_restarts,
                "The number of times the containers in this pod have been restarted.",
            ),
            AGE,
            Column(
                "Node",
                "string",
                lambda o, n: (o.get("spec") or {}).get("nodeName", "<none>"),
                "Name of the node the pod runs on.",
                priority=1,
            ),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        True,
        ("cm",),
        columns=(NAME, Column("Data", "integer", _data_count, "Number of data entries."), AGE),
    ),
    ResourceType(
        "",
        "v1",
        "secrets",
        "secret",
        "Secret",
        True,
        columns=(
            NAME,
            Column("Type", "string", lambda o, n: o.get("type", "Opaque"), "The type of the secret"),
            Column("Data", "integer", _data_count, "The number of entries in the secret"),
            AGE,
        ),
    ),
    ResourceType(
        "",
        "v1",
        "events",
        "event",
        "Event",
        True,
        ("ev",),
        columns=(
            Column("Last Seen", "string", lambda o, n: age(o.get("lastTimestamp"), n)),
            Column("Type", "string", lambda o, n: o.get("type", "")),
            Column("Reason", "string", lambda o, n: o.get("reason", "")),
            Column(
                "Object",
                "string",
                lambda o, n: (
                    f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                    f"{(o.get('involvedObject') or {}).get('name', '')}"
                ),
            ),
            Column("Message", "string", lambda o, n: o.get("message", "")),
        ),
    ),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        ("status",),
        columns=(
            NAME,
            Column("Min Available", "string", _pdb_field("spec", "minAvailable")),
            Column("Max Unavailable", "string", _pdb_field("spec", "maxUnavailable")),
            Column(
                "Allowed Disruptions",
                "integer",
                lambda o, n: (o.get("status") or {}).get("disruptionsAllowed", 0),
            ),
            AGE,
        ),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "clusterversions",
        "clusterversion",
        "ClusterVersion",
        False,
        (),
        ("status",),
        columns=(
            NAME,
            Column("Version", "string", _cv_version),
            Column("Available", "string", _cond_status("Available")),
            Column("Progressing", "string", _cond_status("Progressing")),
            Column("Since", "date", _since("Progressing")),
            Column("Status", "string", _message("Progressing")),
        ),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "clusteroperators",
        "clusteroperator",
        "ClusterOperator",
        False,
        ("co",),
        ("status",),
        columns=(
            NAME,
            Column("Version", "string", _co_version, "The version the operator is at."),
            Column(
                "Available",
                "string",
                _cond_status("Available"),
                "Whether the operator is running and stable.",
            ),
            Column(
                "Progressing",
                "string",
                _cond_status("Progressing"),
                "Whether the operator is processing changes.",
            ),
            Column("Degraded", "string", _cond_status("Degraded"), "Whether the operator is degraded."),
            Column(
                "Since", "date", _since("Available"), "The time the operator's Available status last changed."
            ),
            Column(
                "Message", "string", _message("Degraded"), "A message describing the status of the operator."
            ),
        ),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "images",
        "image",
        "Image",
        False,
        (),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "clusterimagepolicies",
        "clusterimagepolicy",
        "ClusterImagePolicy",
        False,
        (),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "imagedigestmirrorsets",
        "imagedigestmirrorset",
        "ImageDigestMirrorSet",
        False,
        ("idms",),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "config.openshift.io",
        "v1",
        "imagetagmirrorsets",
        "imagetagmirrorset",
        "ImageTagMirrorSet",
        False,
        ("itms",),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "machineconfiguration.openshift.io",
        "v1",
        "machineconfigpools",
        "machineconfigpool",
        "MachineConfigPool",
        False,
        ("mcp",),
        ("status",),
        columns=(
            NAME,
            Column(
                "Config",
                "string",
                lambda o, n: ((o.get("status") or {}).get("configuration") or {}).get("name", ""),
            ),
            Column(
                "Updated",
                "string",
                _cond_status("Updated"),
                "When all the machines in the pool are updated to the correct machine config.",
            ),
            Column(
                "Updating",
                "string",
                _cond_status("Updating"),
                "When at least one of machine is not either not updated or is in the process of updating "
                "to the desired machine config.",
            ),
            Column(
                "Degraded",
                "string",
                _cond_status("Degraded"),
                "When progress is blocked on updating one or more nodes or the pool configuration is failing.",
            ),
            Column(
                "MachineCount",
                "integer",
                _status_field("machineCount", 0),
                "Total number of machines in the machine config pool",
            ),
            Column(
                "ReadyMachineCount",
                "integer",
                _status_field("readyMachineCount", 0),
                "Total number of ready machines targeted by the pool",
            ),
            Column(
                "UpdatedMachineCount",
                "integer",
                _status_field("updatedMachineCount", 0),
                "Total number of machines targeted by the pool that have the CurrentMachineConfig as their config",
            ),
            Column(
                "DegradedMachineCount",
                "integer",
                _status_field("degradedMachineCount", 0),
                "Total number of machines marked degraded (or unreconcilable)",
            ),
            AGE,
        ),
    ),
    ResourceType(
        "machine.openshift.io",
        "v1beta1",
        "machines",
        "machine",
        "Machine",
        True,
        (),
        ("status",),
        categories=("machine-api",),
        columns=(
            NAME,
            Column("Phase", "string", _status_field("phase"), "Phase of machine"),
            Column("Type", "string", _label("machine.openshift.io/instance-type"), "Type of instance"),
            Column(
                "Region", "string", _label("machine.openshift.io/region"), "Region associated with machine"
            ),
            Column("Zone", "string", _label("machine.openshift.io/zone"), "Zone associated with machine"),
            AGE,
            Column(
                "Node",
                "string",
                lambda o, n: ((o.get("status") or {}).get("nodeRef") or {}).get("name", ""),
                "Node associated with machine",
                priority=1,
            ),
        ),
    ),
    ResourceType(
        "machine.openshift.io",
        "v1beta1",
        "machinesets",
        "machineset",
        "MachineSet",
        True,
        (),
        ("status", "scale"),
        categories=("machine-api",),
        columns=(
            NAME,
            Column("Desired", "integer", lambda o, n: (o.get("spec") or {}).get("replicas", 0)),
            Column("Current", "integer", _status_field("replicas", 0)),
            Column("Ready", "integer", _status_field("readyReplicas", 0)),
            Column("Available", "string", _status_field("availableReplicas", 0)),
            AGE,
        ),
    ),
    ResourceType(
        "machine.openshift.io",
        "v1beta1",
        "machinehealthchecks",
        "machinehealthcheck",
        "MachineHealthCheck",
        True,
        ("mhc", "mhcs"),
        ("status",),
        categories=("machine-api",),
        columns=(
            NAME,
            Column(
                "MaxUnhealthy",
                "string",
                lambda o, n: str((o.get("spec") or {}).get("maxUnhealthy", "100%")),
                "Maximum number of unhealthy machines allowed",
            ),
            Column(
                "ExpectedMachines",
                "integer",
                _status_field("expectedMachines", 0),
                "Number of machines currently monitored",
            ),
            Column(
                "CurrentHealthy",
                "integer",
                _status_field("currentHealthy", 0),
                "Current observed healthy machines",
            ),
        ),
    ),
    ResourceType(
        "operator.openshift.io",
        "v1",
        "cloudcredentials",
        "cloudcredential",
        "CloudCredential",
        False,
        (),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "operator.openshift.io",
        "v1alpha1",
        "imagecontentsourcepolicies",
        "imagecontentsourcepolicy",
        "ImageContentSourcePolicy",
        False,
        (),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "operators.coreos.com",
        "v1alpha1",
        "catalogsources",
        "catalogsource",
        "CatalogSource",
        True,
        ("catsrc",),
        ("status",),
        categories=("olm",),
        columns=(
            NAME,
            Column(
                "Display",
                "string",
                lambda o, n: (o.get("spec") or {}).get("displayName", ""),
                "The pretty name of the catalog",
            ),
            Column(
                "Type",
                "string",
                lambda o, n: (o.get("spec") or {}).get("sourceType", ""),
                "The type of the catalog",
            ),
            Column(
                "Publisher",
                "string",
                lambda o, n: (o.get("spec") or {}).get("publisher", ""),
                "The publisher of the catalog",
            ),
            AGE,
        ),
    ),
    # OLM and the marketplace (sandbox/apiserver/olm.py)
    ResourceType(
        "config.openshift.io",
        "v1",
        "operatorhubs",
        "operatorhub",
        "OperatorHub",
        False,
        (),
        ("status",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "operators.coreos.com",
        "v1alpha1",
        "subscriptions",
        "subscription",
        "Subscription",
        True,
        ("sub", "subs"),
        ("status",),
        categories=("olm",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "operators.coreos.com",
        "v1alpha1",
        "clusterserviceversions",
        "clusterserviceversion",
        "ClusterServiceVersion",
        True,
        ("csv", "csvs"),
        ("status",),
        categories=("olm",),
        columns=(NAME, AGE),
    ),
    ResourceType(
        "olm.operatorframework.io",
        "v1",
        "clustercatalogs",
        "clustercatalog",
        "ClusterCatalog",
        False,
        (),
        ("status",),
        columns=(NAME, AGE),
    ),
)

BY_PATH: dict[tuple[str, str, str], ResourceType] = {
    (r.group, r.version, r.plural): r for r in RESOURCE_TYPES
}
BY_KEY: dict[str, ResourceType] = {r.key: r for r in RESOURCE_TYPES}

# Extra discovery-only resources (create-only review APIs and the "who am I" user API).
REVIEW_RESOURCES: dict[tuple[str, str], list[Obj]] = {
    ("authorization.k8s.io", "v1"): [
        {
            "name": "selfsubjectaccessreviews",
            "singularName": "selfsubjectaccessreview",
            "namespaced": False,
            "kind": "SelfSubjectAccessReview",
            "verbs": ["create"],
        },
    ],
    ("authentication.k8s.io", "v1"): [
        {
            "name": "selfsubjectreviews",
            "singularName": "selfsubjectreview",
            "namespaced": False,
            "kind": "SelfSubjectReview",
            "verbs": ["create"],
        },
    ],
    ("user.openshift.io", "v1"): [
        {"name": "users", "singularName": "user", "namespaced": False, "kind": "User", "verbs": ["get"]},
    ],
}


SERVED_SINCE: dict[tuple[str, str], tuple[int, int]] = {
    # openshift/api config/v1 types_image_digest_mirror_set.go and types_image_tag_mirror_set.go: the
    # ImageDigestMirrorSet and ImageTagMirrorSet CRDs ship with OpenShift 4.13 (they replace the
    # operator.openshift.io/v1alpha1 ImageContentSourcePolicy); a 4.12 API server does not serve them.
    ("config.openshift.io", "imagedigestmirrorsets"): (4, 13),
    ("config.openshift.io", "imagetagmirrorsets"): (4, 13),
    # OLM v1's ClusterCatalog (operator-framework/operator-controller api/v1 clustercatalog_types.go) is served
    # from OpenShift 4.18 on.
    ("olm.operatorframework.io", "clustercatalogs"): (4, 18),
}


def served(rt: ResourceType, cluster_minor: tuple[int, int] | None) -> bool:
    """Whether a cluster at ``cluster_minor`` (None: unknown, serve everything) serves this resource type."""
    since = SERVED_SINCE.get((rt.group, rt.plural))
    return since is None or cluster_minor is None or cluster_minor >= since


def group_versions(cluster_minor: tuple[int, int] | None = None) -> dict[str, list[str]]:
    """Group name -> versions, preferred first (core group excluded)."""
    out: dict[str, list[str]] = {}
    for r in RESOURCE_TYPES:
        if r.group and served(r, cluster_minor):
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
    for group, version in REVIEW_RESOURCES:
        out.setdefault(group, [])
        if version not in out[group]:
            out[group].append(version)
    for versions in out.values():
        versions.sort(key=lambda v: (0 if v == "v1" else 1, v))
    return out


def resources_for(group: str, version: str, cluster_minor: tuple[int, int] | None = None) -> list[Obj]:
    out: list[Obj] = []
    for r in RESOURCE_TYPES:
        if r.group == group and r.version == version and served(r, cluster_minor):
            out.extend(r.discovery())
    out.extend(REVIEW_RESOURCES.get((group, version), []))
    return out
