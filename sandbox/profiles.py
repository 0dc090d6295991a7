"""Lab profiles: the shapes of cluster the lab can play, so the engine is tried against the clusters admins
actually run, not only the default one.

A profile names the releases to build (oldest first: the first is the cluster's current version) and a set of
*features*: switches that the lab's parts read (the simulated API server through ``cluster.features`` in its
configuration file, the release builder and the signer through :func:`sandbox.lab.up`). Each feature is
documented where it is defined below, with the real behaviour it reproduces.

``ocp-airgap sandbox up --profile NAME`` and ``sandbox.lab.up(directory, profile=NAME)`` choose one; ``default``
is what the lab always was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UnknownProfile(ValueError):
    pass


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    versions: tuple[str, ...] = ()
    """Releases to build, oldest first; empty means the lab's default versions."""
    features: dict[str, Any] = field(default_factory=dict)
    """Switches read by the lab's parts; unknown keys are an error (see FEATURES)."""
    extra_versions: dict[str, bool] | None = None
    """Versions listed in the update graph but not built (version → fast-only); None: the lab's defaults."""


FEATURES: dict[str, str] = {
    # name → what it reproduces (kept short; the code that reads it names its source)
    "machine_api": "False: installed with capabilities.baselineCapabilitySet None and without the MachineAPI "
    "capability (bare-metal UPI, SNO): no machine.openshift.io API group, no Machines, MachineSets or "
    "MachineHealthChecks, no machine-api ClusterOperator",
    "single_node": "True: single-node OpenShift, one node that is control plane and worker (master pool of one, "
    "empty worker pool)",
    "sigstore_policy": "the 'openshift' ClusterImagePolicy (lab cosign key, scope: the lab's release repository); "
    "the node runtime refuses a release pulled from a mirror without a valid sha256-<hex>.sig "
    "(sandbox/apiserver/sigpolicy.py)",
    "admin_gates": "admin-gates / admin-acks ConfigMaps; the MCO's ack-4.20-sigstore-in-4.21 gate while mirror "
    "configuration exists; the CVO's AdminAckRequired Upgradeable check",
    "sigstore_unsigned": "versions whose cosign signature image is not published in the upstream registry",
    "blocking_operator": "an installed operator (cluster-logging 5.8.1) whose CSV declares olm.maxOpenShiftVersion "
    "4.16, so OLM reports Upgradeable=False and the minor update is refused until it is updated (sandbox/catalogs.py)",
    "release_key": "'sha1-self-signed': the release key as 4.12's cluster-update-keys shipped it (RSA, SHA-1 "
    "self-signature, text header before the armor)",
    "signature_writer": "'go-pre-2019': release signatures as Go's openpgp wrote them before June 2019 (partial "
    "body lengths, first chunk of 2 bytes)",
    "signature_hash": "hash of the release signatures: 'SHA256' (default) or 'SHA1'",
    "release_admin_gates": "minor -> {gate: text}: the admin gates a release of that minor ships, in admin-gates "
    "while the cluster runs that minor (needs admin_gates)",
}
"""Every feature a profile may set, with what it models. Parts of the lab register theirs here."""


PROFILES: dict[str, Profile] = {
    "default": Profile(
        "default",
        "OpenShift 4.16 with the Machine API, IDMS-era mirror config, current release keys",
    ),
    "no-machine-api": Profile(
        "no-machine-api",
        "OpenShift 4.16 installed with baselineCapabilitySet None, MachineAPI not enabled (bare-metal UPI)",
        features={"machine_api": False},
    ),
    "sno": Profile(
        "sno",
        "single-node OpenShift 4.16 (one control-plane node that is also the worker) with baselineCapabilitySet "
        "None, no Machine API; the API outage while that node reboots is not simulated",
        features={"machine_api": False, "single_node": True},
    ),
    "ocp-4.20-to-4.21": Profile(
        "ocp-4.20-to-4.21",
        "OpenShift 4.20 → 4.21: Sigstore ClusterImagePolicy on the release, the 4.20 Sigstore admin gate",
        versions=("4.20.8", "4.20.12", "4.21.3"),
        features={"sigstore_policy": True, "admin_gates": True},
    ),
    "operators": Profile(
        "operators",
        "the default cluster with an installed operator that blocks the minor update (olm.maxOpenShiftVersion)",
        features={"blocking_operator": True},
    ),
    "ocp-4.12": Profile(
        "ocp-4.12",
        "OpenShift 4.12: ICSP only (no IDMS/ITMS), SHA-1 self-signed release key, Go-written signatures",
        versions=("4.12.45", "4.12.49", "4.13.27"),
        features={
            "release_key": "sha1-self-signed",
            "signature_writer": "go-pre-2019",
            "signature_hash": "SHA256",
        },
    ),
    "eus": Profile(
        "eus",
        "OpenShift 4.16 EUS to 4.18 EUS through 4.17: three minors, eus-4.18 channel, a conditional edge "
        "(4.17.3 -> 4.18.2) the path avoids",
        versions=("4.16.20", "4.17.5", "4.18.2"),
        extra_versions={"4.16.19": False, "4.17.3": False},
        features={
            "admin_gates": True,
            "release_admin_gates": {
                "4.17": {
                    "ack-4.17-kube-1.31-api-removals-in-4.18": "Kubernetes 1.31 and therefore OpenShift 4.18 "
                    "remove several APIs which require admin consideration. Please see the knowledge article "
                    "https://sandbox.ocp-airgap.invalid/articles/api-removals-in-4.18 for details and instructions."
                }
            },
        },
    ),
}


def get(name: str) -> Profile:
    try:
        profile = PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown lab profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
    unknown = sorted(set(profile.features) - set(FEATURES))
    if unknown:
        raise UnknownProfile(f"lab profile {name!r} sets unknown features: {', '.join(unknown)}")
    return profile


def describe() -> list[str]:
    width = max(len(name) for name in PROFILES)
    return [f"{p.name:<{width}}  {p.description}" for p in PROFILES.values()]
