"""Admin-ack gates: what the cluster asks the admin to acknowledge before an update to the next minor version.

As the CVO reads them (openshift/cluster-version-operator ``pkg/cvo/upgradeable.go``
``clusterAdminAcksCompletedUpgradeable`` / ``checkAdminGate``):

- the gates are the keys of ConfigMap ``admin-gates`` in ``openshift-config-managed``, named
  ``ack-<major>.<minor>-<what>`` (regex ``^ack-[4-5][.]([0-9]{1,})-[^-]``); the value is the text the admin must
  read (operators add them: e.g. the MCO adds ``ack-4.20-sigstore-in-4.21`` while mirrors are configured);
- a gate applies when its ``<major>.<minor>`` is the cluster's current minor;
- it is acknowledged when ConfigMap ``admin-acks`` in ``openshift-config`` has the same key set to ``"true"``;
- an applicable, unacknowledged gate makes ``Upgradeable=False`` with reason ``AdminAckRequired`` and the gate's
  text as message (``MultipleReasons`` with other failing checks), which blocks updates to another minor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.cluster import CONFIGMAP, Cluster
from engine.errors import NotFound

GATES_NAMESPACE = "openshift-config-managed"
GATES_NAME = "admin-gates"
ACKS_NAMESPACE = "openshift-config"
ACKS_NAME = "admin-acks"
GATE_RE = re.compile(r"^ack-[4-5][.]([0-9]{1,})-[^-]")
SIGSTORE_GATE = "ack-4.20-sigstore-in-4.21"


@dataclass
class Gate:
    key: str
    text: str
    minor: str
    """``4.20`` of ``ack-4.20-…``."""
    acked: bool
    applies: bool
    """Its minor is the cluster's current minor (the CVO only evaluates those)."""

    @property
    def blocking(self) -> bool:
        return self.applies and not self.acked


def gate_minor(key: str) -> str:
    if not GATE_RE.match(key):
        return ""
    return key[len("ack-") :].split("-", 1)[0]


def _minor(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else ""


def read_gates(cluster: Cluster, current_version: str) -> list[Gate] | None:
    """Every gate of ``admin-gates`` with its acknowledgement; None when the cluster has no ``admin-gates``
    ConfigMap (clusters before 4.8)."""
    try:
        gates = cluster.get(CONFIGMAP, GATES_NAME, GATES_NAMESPACE)
    except NotFound:
        return None
    acks: dict[str, Any] = {}
    try:
        acks = cluster.get(CONFIGMAP, ACKS_NAME, ACKS_NAMESPACE)
    except NotFound:
        acks = {}
    ack_data = acks.get("data") or {}
    current = _minor(current_version)
    out = []
    for key, text in sorted((gates.get("data") or {}).items()):
        minor = gate_minor(key)
        out.append(
            Gate(
                key=key,
                text=str(text or ""),
                minor=minor,
                acked=ack_data.get(key) == "true",
                applies=bool(minor) and minor == current,
            )
        )
    return out


def ack_command(cluster: Cluster, key: str) -> list[str]:
    """The documented command: ``oc -n openshift-config patch cm admin-acks --patch '{"data":{KEY:"true"}}'
    --type=merge``."""
    return [
        "oc",
        *cluster.oc_args(),
        "-n",
        ACKS_NAMESPACE,
        "patch",
        "configmap",
        ACKS_NAME,
        "--patch",
        '{"data":{"' + key + '":"true"}}',
        "--type=merge",
    ]
