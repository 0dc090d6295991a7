"""The initial state of the simulated cluster: a healthy, disconnected OpenShift 4 cluster at
``cluster.current_version`` (3 control-plane and 3 worker nodes, pools, machine health checks, a PDB that
blocks drain, Manual-mode cloud credentials, the global pull secret, the release-verification ConfigMap...)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

from .config import ClusterConfig
from .resources import BY_PATH, ResourceType
from .store import Store
from .versions import kube_version, minor_of, rhcos_version

Obj = dict[str, Any]

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
REGION = "us-east-1"

# (name, related namespace) in the order the CVO updates them; machine-config is always last.
CLUSTER_OPERATORS: tuple[tuple[str, str], ...] = (
    ("etcd", "openshift-etcd"),
    ("kube-apiserver", "openshift-kube-apiserver"),
    ("kube-controller-manager", "openshift-kube-controller-manager"),
    ("kube-scheduler", "openshift-kube-scheduler"),
    ("openshift-apiserver", "openshift-apiserver"),
    ("cloud-credential", "openshift-cloud-credential-operator"),
    ("machine-api", "openshift-machine-api"),
    ("authentication", "openshift-authentication"),
    ("network", "openshift-network-operator"),
    ("dns", "openshift-dns"),
    ("ingress", "openshift-ingress"),
    ("image-registry", "openshift-image-registry"),
    ("monitoring", "openshift-monitoring"),
    ("console", "openshift-console"),
    ("marketplace", "openshift-marketplace"),
    ("operator-lifecycle-manager", "openshift-operator-lifecycle-manager"),
    ("machine-config", "openshift-machine-config-operator"),
)

CCO_MESSAGE = (
    "Upgradeable annotation cloudcredential.openshift.io/upgradeable-to on cloudcredential.operator.openshift.io/cluster "
    "object needs updating before upgrade. See Manually Creating IAM documentation for instructions on preparing a "
    "cluster for upgrade."
)
UPGRADEABLE_ANNOTATION = "cloudcredential.openshift.io/upgradeable-to"
MHC_PAUSED = "cluster.x-k8s.io/paused"


def rt(group: str, version: str, plural: str) -> ResourceType:
    return BY_PATH[(group, version, plural)]


NAMESPACE = rt("", "v1", "namespaces")
NODE = rt("", "v1", "nodes")
POD = rt("", "v1", "pods")
CONFIGMAP = rt("", "v1", "configmaps")
SECRET = rt("", "v1", "secrets")
EVENT = rt("", "v1", "events")
PDB = rt("policy", "v1", "poddisruptionbudgets")
CLUSTERVERSION = rt("config.openshift.io", "v1", "clusterversions")
CLUSTEROPERATOR = rt("config.openshift.io", "v1", "clusteroperators")
IMAGECONFIG = rt("config.openshift.io", "v1", "images")
IDMS = rt("config.openshift.io", "v1", "imagedigestmirrorsets")
ITMS = rt("config.openshift.io", "v1", "imagetagmirrorsets")
MCP = rt("machineconfiguration.openshift.io", "v1", "machineconfigpools")
MACHINE = rt("machine.openshift.io", "v1beta1", "machines")
MACHINESET = rt("machine.openshift.io", "v1beta1", "machinesets")
MHC = rt("machine.openshift.io", "v1beta1", "machinehealthchecks")
CLOUDCREDENTIAL = rt("operator.openshift.io", "v1", "cloudcredentials")
ICSP = rt("operator.openshift.io", "v1alpha1", "imagecontentsourcepolicies")
CATALOGSOURCE = rt("operators.coreos.com", "v1alpha1", "catalogsources")

MACHINE_API_NS = "openshift-machine-api"

# Every capability a 4.16 cluster knows (openshift/api config/v1 types_cluster_version.go, ClusterVersionCapability
# and ClusterVersionCapabilitySets["v4.16"]).
KNOWN_CAPABILITIES = (
    "Build",
    "CSISnapshot",
    "CloudControllerManager",
    "CloudCredential",
    "Console",
    "DeploymentConfig",
    "ImageRegistry",
    "Ingress",
    "Insights",
    "MachineAPI",
    "NodeTuning",
    "OperatorLifecycleManager",
    "Storage",
    "baremetal",
    "marketplace",
    "openshift-samples",
)
MACHINE_API_CAPABILITY = "MachineAPI"


def machine_api_enabled(cluster: ClusterConfig) -> bool:
    """The ``machine_api`` lab feature (sandbox.profiles.FEATURES): False plays a cluster installed with
    ``spec.capabilities.baselineCapabilitySet: None`` that did not add ``MachineAPI``. The CVO then does not apply
    manifests annotated ``capability.openshift.io/name: MachineAPI`` (cluster-version-operator
    ``lib/capability``; openshift/api ``machine/v1beta1`` CRDs and the machine-api-operator manifests carry that
    annotation): no Machine, MachineSet or MachineHealthCheck CRDs, no machine-api ClusterOperator, no
    openshift-machine-api namespace."""
    return bool(cluster.features.get("machine_api", True))


def single_node(cluster: ClusterConfig) -> bool:
    """The ``single_node`` lab feature: single-node OpenShift (SNO). One node is both control plane and worker: it
    carries the master, control-plane and worker role labels and no NoSchedule taint; the master pool has that one
    node and the worker pool none (machine-config-operator: a node with the master role belongs to the master
    pool only)."""
    return bool(cluster.features.get("single_node", False))


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_hash(*parts: str, n: int = 32) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def rendered_config(pool: str, version: str, registries: str = "") -> str:
    """The rendered MachineConfig name of ``pool`` at ``version``; ``registries`` identifies an image mirror
    configuration other than the install-time one (the name is a hash of the content, as in the real MCO)."""
    parts = (pool, version, registries) if registries else (pool, version)
    return f"rendered-{pool}-{short_hash(*parts)}"


def cond(ctype: str, status: str, reason: str = "", message: str = "", when: str | None = None) -> Obj:
    c: Obj = {"type": ctype, "status": status, "lastTransitionTime": when or iso(dt.datetime.now(dt.UTC))}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pdb_condition(allowed: bool, when: str | None = None) -> Obj:
    """A metav1.Condition: reason and message are required fields (clients validate them)."""
    return {
        "type": "DisruptionAllowed",
        "status": "True" if allowed else "False",
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
        "observedGeneration": 1,
        "lastTransitionTime": when or iso(dt.datetime.now(dt.UTC)),
    }


def retrieved_updates_condition(cluster: ClusterConfig, spec: Obj, version: str, when: str) -> Obj:
    channel = spec.get("channel") or ""
    if not channel:
        return cond(
            "RetrievedUpdates", "False", "NoChannel", "The update channel has not been configured.", when
        )
    upstream = spec.get("upstream") or "https://api.openshift.com/api/upgrades_info/v1/graph"
    host = upstream.split("://", 1)[-1].split("/", 1)[0]
    url = f"{upstream}?arch=amd64&channel={channel}&id={spec.get('clusterID', '')}&version={version}"
    return cond(
        "RetrievedUpdates",
        "False",
        "RemoteFailed",
        f'Unable to retrieve available updates: Get "{url}": dial tcp {host}: i/o timeout',
        when,
    )


def node_object(
    name: str, role: str, zone: str, version: str, created: str, *, machine: str | None, index: int
) -> Obj:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m6i.xlarge",
        "node.openshift.io/os_id": "rhcos",
        "topology.kubernetes.io/region": REGION,
        "topology.kubernetes.io/zone": zone,
        f"node-role.kubernetes.io/{role}": "",
    }
    if role == "master":
        labels["node-role.kubernetes.io/control-plane"] = ""
    config = rendered_config(role, version)
    # a node without a Machine (user-provisioned infrastructure) has no machine.openshift.io/machine annotation
    machine_annotation = {"machine.openshift.io/machine": f"{MACHINE_API_NS}/{machine}"} if machine else {}
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                **machine_annotation,
                "machineconfiguration.openshift.io/currentConfig": config,
                "machineconfiguration.openshift.io/desiredConfig": config,
                "machineconfiguration.openshift.io/state": "Done",
                "machineconfiguration.openshift.io/reason": "",
            },
            "creationTimestamp": created,
        },
        "spec": {
            "providerID": f"aws:///{zone}/i-0{short_hash(name, n=16)}",
            **(
                {"taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]}
                if role == "master"
                else {}
            ),
        },
        "status": node_status(name, version, ready=True, index=index),
    }


def node_status(name: str, version: str, *, ready: bool, index: int, when: str | None = None) -> Obj:
    now = when or iso(dt.datetime.now(dt.UTC))
    return {
        "addresses": [
            {"type": "InternalIP", "address": f"10.0.{index // 3 + 1}.{10 + index}"},
            {"type": "Hostname", "address": name},
        ],
        "allocatable": {"cpu": "3500m", "memory": "15214836Ki", "pods": "250"},
        "capacity": {"cpu": "4", "memory": "16266484Ki", "pods": "250"},
        "conditions": [
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                now,
            ),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
            cond(
                "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now
            ),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", now)
            if ready
            else cond("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", now),
        ],
        "nodeInfo": {
            "architecture": "amd64",
            "containerRuntimeVersion": "cri-o://1.29.9-3.rhaos4.16.git8b3b2b5.el9",
            "kernelVersion": "5.14.0-427.37.1.el9_4.x86_64",
            "kubeProxyVersion": kube_version(version),
            "kubeletVersion": kube_version(version),
            "operatingSystem": "linux",
            "osImage": f"Red Hat Enterprise Linux CoreOS {rhcos_version(version)} (Plow)",
            "machineID": short_hash(name),
            "systemUUID": short_hash("uuid", name),
            "bootID": short_hash("boot", name, now),
        },
    }


def machine_object(
    name: str, role: str, zone: str, machineset: str | None, infra: str, created: str, node: str | None
) -> Obj:
    labels = {
        "machine.openshift.io/cluster-api-cluster": infra,
        "machine.openshift.io/cluster-api-machine-role": role,
        "machine.openshift.io/cluster-api-machine-type": role,
        "machine.openshift.io/instance-type": "m6i.xlarge",
        "machine.openshift.io/region": REGION,
        "machine.openshift.io/zone": zone,
    }
    if machineset:
        labels["machine.openshift.io/cluster-api-machineset"] = machineset
    obj: Obj = {
        "metadata": {
            "name": name,
            "namespace": MACHINE_API_NS,
            "labels": labels,
            "creationTimestamp": created,
        },
        "spec": {
            "lifecycleHooks": {},
            "metadata": {},
            "providerID": f"aws:///{zone}/i-0{short_hash(name, n=16)}",
            "providerSpec": {
                "value": {
                    "apiVersion": "machine.openshift.io/v1beta1",
                    "kind": "AWSMachineProviderConfig",
                    "instanceType": "m6i.xlarge",
                    "placement": {"region": REGION, "availabilityZone": zone},
                }
            },
        },
        "status": {
            "phase": "Running",
            "lastUpdated": created,
            "providerStatus": {"instanceState": "running", "instanceId": f"i-0{short_hash(name, n=16)}"},
        },
    }
    if machineset:
        obj["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "machine.openshift.io/v1beta1",
                "kind": "MachineSet",
                "name": machineset,
                "uid": short_hash("ms", machineset),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    if node:
        obj["status"]["nodeRef"] = {"kind": "Node", "name": node, "uid": short_hash("node", node)}
    return obj


def pod_object(
    name: str,
    namespace: str,
    node: str,
    labels: dict[str, str],
    *,
    owner: tuple[str, str] | None,
    image: str,
    created: str,
) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": created}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "uid": short_hash(owner[0], owner[1]),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    container = name.rsplit("-", 2)[0] if owner and owner[0] == "ReplicaSet" else name.rsplit("-", 1)[0]
    return {
        "metadata": meta,
        "spec": {
            "nodeName": node,
            "containers": [{"name": container, "image": image}],
            "restartPolicy": "Always",
        },
        "status": pod_running_status(container, image, created),
    }


def pod_running_status(container: str, image: str, created: str) -> Obj:
    image_id = (
        image if "@" in image else f"{image.rsplit(':', 1)[0]}@sha256:{short_hash('image', image, n=64)}"
    )
    return {
        "phase": "Running",
        "conditions": [cond("Ready", "True", when=created), cond("PodScheduled", "True", when=created)],
        "containerStatuses": [
            {
                "name": container,
                "ready": True,
                "restartCount": 0,
                "image": image,
                "imageID": image_id,
                "started": True,
                "state": {"running": {"startedAt": created}},
            }
        ],
        "startTime": created,
    }


def cluster_operator(name: str, namespace: str, version: str, when: str) -> Obj:
    versions = [{"name": "operator", "version": version}]
    if name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        versions.append({"name": "raw-internal", "version": version})
        versions.append({"name": name, "version": kube_version(version).split("+")[0][1:]})
    conditions = [
        cond("Degraded", "False", "AsExpected", "", when),
        cond("Progressing", "False", "AsExpected", "", when),
        cond("Available", "True", "AsExpected", "", when),
        cond("Upgradeable", "True", "AsExpected", "", when),
    ]
    if name == "cloud-credential":
        conditions[3] = cond("Upgradeable", "False", "MissingUpgradeableAnnotation", CCO_MESSAGE, when)
    if name == "machine-config":
        conditions[2] = cond("Available", "True", "AsExpected", f"Cluster has deployed [{version}]", when)
    return {
        "metadata": {
            "name": name,
            "annotations": {"include.release.openshift.io/self-managed-high-availability": "true"},
        },
        "spec": {},
        "status": {
            "conditions": conditions,
            "versions": versions,
            "relatedObjects": [
                {"group": "", "resource": "namespaces", "name": namespace},
                {"group": "config.openshift.io", "resource": "clusteroperators", "name": name},
            ],
            "extension": None,
        },
    }


def cv_upgradeable_condition(blocking: list[tuple[str, str, str]], when: str) -> Obj | None:
    """ClusterVersion Upgradeable from the ClusterOperators reporting Upgradeable=False (4.16 wording)."""
    if not blocking:
        return None
    if len(blocking) == 1:
        name, reason, message = blocking[0]
        return cond(
            "Upgradeable",
            "False",
            reason,
            f"Cluster operator {name} should not be upgraded between minor versions: {message}",
            when,
        )
    lines = "\n".join(
        f"* Cluster operator {n} should not be upgraded between minor versions: {m}" for n, _, m in blocking
    )
    return cond(
        "Upgradeable",
        "False",
        "ClusterOperatorsNotUpgradeable",
        f"Multiple cluster operators should not be upgraded between minor versions:\n{lines}",
        when,
    )


def release_url(version: str) -> str:
    return f"https://access.redhat.com/errata/RHBA-2024:{int(short_hash(version, n=4), 16) % 9000 + 1000}"


def channels_for(version: str) -> list[str]:
    mm = minor_of(version) or (4, 16)
    out = []
    for minor in (mm[1], mm[1] + 1):
        for ch in ("candidate", "eus", "fast", "stable"):
            if ch == "eus" and minor % 2:
                continue
            out.append(f"{ch}-{mm[0]}.{minor}")
    return out


def build(store: Store, cluster: ClusterConfig) -> None:
    """Populate ``store`` with the initial objects."""
    now = dt.datetime.now(dt.UTC)
    installed = iso(now - dt.timedelta(days=42, hours=3))
    when = iso(now - dt.timedelta(days=12, hours=5))
    version = cluster.current_version
    infra = cluster.infrastructure_name

    def put(r: ResourceType, obj: Obj) -> None:
        obj.setdefault("metadata", {}).setdefault("creationTimestamp", installed)
        store.upsert(r, obj)

    namespaces = [
        "default",
        "kube-system",
        "kube-public",
        "openshift",
        "openshift-config",
        "openshift-config-managed",
        "openshift-cluster-version",
        "openshift-machine-api",
        "openshift-machine-config-operator",
        "openshift-marketplace",
        "openshift-ingress",
        "openshift-ingress-canary",
        "openshift-dns",
        "openshift-monitoring",
        "openshift-cloud-credential-operator",
        "openshift-etcd",
        "openshift-kube-apiserver",
        "openshift-kube-controller-manager",
        "openshift-kube-scheduler",
        "openshift-apiserver",
        "openshift-authentication",
        "openshift-network-operator",
        "openshift-image-registry",
        "openshift-console",
        "payments",
    ]
    machine_api = machine_api_enabled(cluster)
    if not machine_api:
        namespaces.remove(MACHINE_API_NS)
    for ns in namespaces:
        labels = {"kubernetes.io/metadata.name": ns}
        if ns.startswith(("openshift", "kube")):
            labels["openshift.io/cluster-monitoring"] = "true"
        put(NAMESPACE, {"metadata": {"name": ns, "labels": labels}})

    # ---- ClusterVersion
    spec: Obj = {
        "clusterID": cluster.cluster_id,
        "channel": cluster.channel,
        "upstream": cluster.upstream_graph,
    }
    payload_msg = f'Payload loaded version="{version}" image="{cluster.current_image}" architecture="amd64"'
    conditions = [
        retrieved_updates_condition(cluster, spec, version, when),
        cond("Available", "True", "", f"Done applying {version}", when),
        cond("Failing", "False", "", "", when),
        cond("Progressing", "False", "", f"Cluster version is {version}", when),
        cond(
            "ImplicitlyEnabledCapabilities", "False", "AsExpected", "Capabilities match configured spec", when
        ),
        cond("ReleaseAccepted", "True", "PayloadLoaded", payload_msg, when),
    ]
    upg = cv_upgradeable_condition([("cloud-credential", "MissingUpgradeableAnnotation", CCO_MESSAGE)], when)
    assert upg is not None
    conditions.append(upg)
    caps = list(KNOWN_CAPABILITIES)
    if not machine_api:
        # baselineCapabilitySet None plus the capabilities such a cluster typically adds back; the CVO reports
        # the enabled ones in status.capabilities.enabledCapabilities (openshift/api ClusterVersionCapabilitiesStatus)
        caps = [c for c in caps if c != MACHINE_API_CAPABILITY]
        spec["capabilities"] = {"baselineCapabilitySet": "None", "additionalEnabledCapabilities": list(caps)}
    put(
        CLUSTERVERSION,
        {
            "metadata": {"name": "version"},
            "spec": spec,
            "status": {
                "availableUpdates": None,
                "capabilities": {"enabledCapabilities": caps, "knownCapabilities": list(KNOWN_CAPABILITIES)},
                "conditions": conditions,
                "desired": {
                    "version": version,
                    "image": cluster.current_image,
                    "url": release_url(version),
                    "channels": channels_for(version),
                },
                "history": [
                    {
                        "state": "Completed",
                        "startedTime": installed,
                        "completionTime": iso(now - dt.timedelta(days=42)),
                        "version": version,
                        "image": cluster.current_image,
                        "verified": False,
                    }
                ],
                "observedGeneration": 1,
                "versionHash": base64.urlsafe_b64encode(hashlib.sha256(version.encode()).digest()[:8])
                .decode()
                .rstrip("="),
            },
        },
    )

    for name, ns in CLUSTER_OPERATORS:
        if name == "machine-api" and not machine_api:
            continue  # its manifests carry capability.openshift.io/name: MachineAPI
        put(CLUSTEROPERATOR, cluster_operator(name, ns, version, when))

    # ---- nodes, machines, machinesets
    sno = single_node(cluster)
    for i in range(1 if sno else 3):
        zone = ZONES[i]
        mname = f"{infra}-master-{i}"
        if sno:
            node = node_object(mname, "master", zone, version, installed, machine=None, index=i)
            node["metadata"]["labels"]["node-role.kubernetes.io/worker"] = ""
            node["spec"].pop("taints", None)  # the only node runs the workloads too
            put(NODE, node)
            continue
        if not machine_api:
            put(NODE, node_object(mname, "master", zone, version, installed, machine=None, index=i))
            continue
        put(MACHINE, machine_object(mname, "master", zone, None, infra, installed, mname))
        put(NODE, node_object(mname, "master", zone, version, installed, machine=mname, index=i))
    for i in range(0 if sno else 3):
        zone = ZONES[i]
        ms = f"{infra}-worker-{zone}"
        mname = f"{ms}-{short_hash('w', str(i), n=5)}"
        if not machine_api:
            put(NODE, node_object(mname, "worker", zone, version, installed, machine=None, index=3 + i))
            continue
        put(
            MACHINESET,
            {
                "metadata": {
                    "name": ms,
                    "namespace": MACHINE_API_NS,
                    "labels": {"machine.openshift.io/cluster-api-cluster": infra},
                },
                "spec": {
                    "replicas": 1,
                    "selector": {
                        "matchLabels": {
                            "machine.openshift.io/cluster-api-cluster": infra,
                            "machine.openshift.io/cluster-api-machineset": ms,
                        }
                    },
                    "template": {
                        "metadata": {
                            "labels": {
                                "machine.openshift.io/cluster-api-cluster": infra,
                                "machine.openshift.io/cluster-api-machine-role": "worker",
                                "machine.openshift.io/cluster-api-machine-type": "worker",
                                "machine.openshift.io/cluster-api-machineset": ms,
                            }
                        }
                    },
                },
                "status": {
                    "replicas": 1,
                    "readyReplicas": 1,
                    "availableReplicas": 1,
                    "fullyLabeledReplicas": 1,
                    "observedGeneration": 1,
                },
            },
        )
        put(MACHINE, machine_object(mname, "worker", zone, ms, infra, installed, mname))
        put(NODE, node_object(mname, "worker", zone, version, installed, machine=mname, index=3 + i))

    # ---- pools
    for pool in ("master", "worker"):
        config = rendered_config(pool, version)
        members = 3 if not sno else (1 if pool == "master" else 0)
        put(
            MCP,
            {
                "metadata": {
                    "name": pool,
                    "labels": {
                        "machineconfiguration.openshift.io/mco-built-in": "",
                        f"pools.operator.machineconfiguration.openshift.io/{pool}": "",
                    },
                },
                "spec": {
                    "configuration": {"name": config},
                    "machineConfigSelector": {
                        "matchLabels": {"machineconfiguration.openshift.io/role": pool}
                    },
                    "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{pool}": ""}},
                    "paused": False,
                    "maxUnavailable": 1,
                },
                "status": {
                    "configuration": {"name": config},
                    "machineCount": members,
                    "readyMachineCount": members,
                    "updatedMachineCount": members,
                    "degradedMachineCount": 0,
                    "unavailableMachineCount": 0,
                    "observedGeneration": 2,
                    "conditions": [
                        cond("RenderDegraded", "False", when=when),
                        cond("NodeDegraded", "False", when=when),
                        cond("Degraded", "False", when=when),
                        cond(
                            "Updated", "True", "", f"All nodes are updated with MachineConfig {config}", when
                        ),
                        cond("Updating", "False", when=when),
                    ],
                },
            },
        )

    # ---- machine health checks
    health_checks = (("worker-mhc", "worker", False), ("master-mhc", "master", True)) if machine_api else ()
    for name, role, paused in health_checks:
        meta: Obj = {"name": name, "namespace": MACHINE_API_NS}
        if paused:
            meta["annotations"] = {MHC_PAUSED: ""}
        put(
            MHC,
            {
                "metadata": meta,
                "spec": {
                    "selector": {
                        "matchLabels": {
                            "machine.openshift.io/cluster-api-machine-role": role,
                            "machine.openshift.io/cluster-api-machine-type": role,
                        }
                    },
                    "unhealthyConditions": [
                        {"type": "Ready", "status": "False", "timeout": "300s"},
                        {"type": "Ready", "status": "Unknown", "timeout": "300s"},
                    ],
                    "maxUnhealthy": "40%",
                    "nodeStartupTimeout": "10m",
                },
                "status": {
                    "expectedMachines": 3,
                    "currentHealthy": 3,
                    "remediationsAllowed": 1,
                    "conditions": [cond("RemediationAllowed", "True", when=when)],
                },
            },
        )

    # ---- workloads: one PDB blocking drain, an ingress router PDB that allows one disruption, daemonset pods
    workers = [n["metadata"]["name"] for n in store.list(NODE, None, "node-role.kubernetes.io/worker")[0]]
    masters = [n["metadata"]["name"] for n in store.list(NODE, None, "node-role.kubernetes.io/master")[0]]
    put(
        PDB,
        {
            "metadata": {"name": "payments-api-pdb", "namespace": "payments"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "payments-api"}}},
            "status": {
                "currentHealthy": 1,
                "desiredHealthy": 1,
                "disruptionsAllowed": 0,
                "expectedPods": 1,
                "observedGeneration": 1,
                "conditions": [pdb_condition(False, when)],
            },
        },
    )
    put(
        POD,
        pod_object(
            "payments-api-6c8f7d9b5-x2v7q",
            "payments",
            workers[0],
            {"app": "payments-api"},
            owner=("ReplicaSet", "payments-api-6c8f7d9b5"),
            image="registry.example.com/payments/api:1.4",
            created=when,
        ),
    )
    put(
        PDB,
        {
            "metadata": {"name": "router-default", "namespace": "openshift-ingress"},
            "spec": {
                "maxUnavailable": "50%",
                "selector": {
                    "matchLabels": {
                        "ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"
                    }
                },
            },
            "status": {
                "currentHealthy": 2,
                "desiredHealthy": 1,
                "disruptionsAllowed": 1,
                "expectedPods": 2,
                "observedGeneration": 1,
                "conditions": [pdb_condition(True, when)],
            },
        },
    )
    for i, node in enumerate(workers[1:3] or workers[:1]):  # single-node: the router runs on the only node
        put(
            POD,
            pod_object(
                f"router-default-5d8f9c7b6-{short_hash('r', str(i), n=5)}",
                "openshift-ingress",
                node,
                {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"},
                owner=("ReplicaSet", "router-default-5d8f9c7b6"),
                image=f"{cluster.upstream_registry}/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
                + short_hash("router", version, n=64),
                created=when,
            ),
        )
    for node in workers + masters:
        put(
            POD,
            pod_object(
                f"dns-default-{short_hash('dns', node, n=5)}",
                "openshift-dns",
                node,
                {"dns.operator.openshift.io/daemonset-dns": "default"},
                owner=("DaemonSet", "dns-default"),
                image=f"{cluster.upstream_registry}/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
                + short_hash("dns", version, n=64),
                created=when,
            ),
        )

    # ---- cloud credentials (Manual mode, no upgradeable-to annotation)
    put(
        CLOUDCREDENTIAL,
        {
            "metadata": {"name": "cluster"},
            "spec": {
                "credentialsMode": "Manual",
                "logLevel": "Normal",
                "managementState": "Managed",
                "operatorLogLevel": "Normal",
            },
            "status": {"observedGeneration": 1},
        },
    )

    # ---- config: pull secret, CA bundle, image config, release verification
    dockerconfig = json.dumps(cluster.pull_secret).encode()
    put(
        SECRET,
        {
            "metadata": {"name": "pull-secret", "namespace": "openshift-config"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(dockerconfig).decode()},
        },
    )
    put(
        CONFIGMAP,
        {
            "metadata": {"name": "user-ca-bundle", "namespace": "openshift-config"},
            "data": {"ca-bundle.crt": cluster.trusted_ca_pem},
        },
    )
    put(
        IMAGECONFIG,
        {
            "metadata": {"name": "cluster", "annotations": {"release.openshift.io/create-only": "true"}},
            "spec": {},
            "status": {"internalRegistryHostname": "image-registry.openshift-image-registry.svc:5000"},
        },
    )
    verification: Obj = {
        "metadata": {
            "name": "release-verification",
            "namespace": "openshift-config-managed",
            "annotations": {
                "release.openshift.io/verification-config-map": "",
                "include.release.openshift.io/self-managed-high-availability": "true",
                "include.release.openshift.io/single-node-developer": "true",
            },
        },
        "data": {
            "store-openshift-official-release-mirror": cluster.signature_store_url,
        },
    }
    if cluster.release_verification_public_key:
        verification["data"]["verifier-public-key-sandbox"] = cluster.release_verification_public_key
    put(CONFIGMAP, verification)
    for i, rule in enumerate(cluster.image_digest_mirrors):
        put(
            IDMS,
            {
                "metadata": {"name": "image-digest-mirror" if i == 0 else f"image-digest-mirror-{i}"},
                "spec": {
                    "imageDigestMirrors": [{"source": rule["source"], "mirrors": list(rule["mirrors"])}]
                },
            },
        )

    from .sigpolicy import initial_objects as sigstore_objects

    sigstore_objects(store, cluster, installed)

    # ---- OLM: OperatorHub and the installed operators (sandbox/apiserver/olm.py)
    from .olm import seed as seed_olm

    seed_olm(store, cluster)

    # ---- catalog source
    put(
        CATALOGSOURCE,
        {
            "metadata": {"name": "my-operator-catalog", "namespace": "openshift-marketplace"},
            "spec": {
                "sourceType": "grpc",
                "image": cluster.catalog_image,
                "displayName": "My Operator Catalog",
                "publisher": "grpc",
                "updateStrategy": {"registryPoll": {"interval": "30m"}},
            },
            "status": {
                "connectionState": {
                    "address": "my-operator-catalog.openshift-marketplace.svc:50051",
                    "lastConnect": when,
                    "lastObservedState": "READY",
                },
                "registryService": {
                    "createdAt": when,
                    "port": "50051",
                    "protocol": "grpc",
                    "serviceName": "my-operator-catalog",
                    "serviceNamespace": "openshift-marketplace",
                },
            },
        },
    )
