"""Sigstore release verification on the simulated node, and the admin-ack gates, as a real 4.20/4.21 cluster
has them. Read by the CVO simulation (``cvo.py``) through three small hooks.

What is modelled, and from where:

- **The ``openshift`` ClusterImagePolicy** (openshift/cluster-update-keys
  ``manifests.rhel/0000_90_openshift-cluster-image-policy.yaml``; openshift/api ``config/v1``
  ``ClusterImagePolicy``): scopes and a ``PublicKey`` root of trust. The lab's policy names the lab's upstream
  release repository and the lab's cosign key (feature ``sigstore_policy``).
- **CRI-O pulling the release payload through a mirror** (containers/image ``docker/docker_image_src.go``
  ``appendSignaturesFromSigstoreAttachments``): the signatures are read from the repository the image was
  *actually* pulled from — the mirror — as the tag ``sha256-<hex>.sig``; each
  ``application/vnd.dev.cosign.simplesigning.v1+json`` layer is a candidate. Acceptance
  (containers/image ``signature/policy_eval_sigstore.go`` and ``signature/internal/cosign_payload.go``
  ``VerifyCosignPayload``): the ECDSA/SHA-256 signature over the payload bytes, the exact payload fields, the
  ``docker-manifest-digest`` equal to the pulled digest, the ``docker-reference`` in the image's own repository
  (``matchRepoDigestOrExact`` for a digest reference). No signature at all gives "A signature was required, but
  no signature exists".
- **What the CVO shows** (openshift/cluster-version-operator ``pkg/cvo/updatepayload.go``
  ``fetchUpdatePayloadToDir`` / ``podCompletionCheckFn``, seen on a real cluster in cluster-version-operator
  PR 1105): the payload is pulled by a pod ``version-<version>-<5 random>`` in ``openshift-cluster-version``
  labelled ``k8s-app=retrieve-openshift-release`` whose first init container ``cleanup`` waits with reason
  ``SignatureValidationFailed`` and the kubelet message ``image pull failed for <image> because the signature
  validation failed: Source image rejected: …``; the CVO gives up on the pending pod and reports
  ``ReleaseAccepted=False``/``RetrievePayload`` with ``pod … failed at pending with reason "" and message ""
  and status initcontainer cleanup is waiting with reason "SignatureValidationFailed" and message "…"``.
- **The admin gate** (openshift/machine-config-operator ``pkg/controller/container-runtime-config``
  ``syncAdminAckConfigMap`` / ``updateGuardKeyIfNeeded``): while the cluster has mirror configuration (ICSP,
  IDMS or ITMS) the MCO keeps ``ack-4.20-sigstore-in-4.21`` with its message in ``admin-gates``
  (``openshift-config-managed``), and removes it otherwise.
- **The CVO's admin-ack check** (cluster-version-operator ``pkg/cvo/upgradeable.go``
  ``clusterAdminAcksCompletedUpgradeable``/``checkAdminGate``): a gate ``ack-<major>.<minor>-…`` applies when
  its minor is the cluster's current minor; unless ``admin-acks`` (``openshift-config``) has it ``"true"``,
  ``Upgradeable=False`` with reason ``AdminAckRequired`` and the gate's text; several failing checks give
  ``MultipleReasons``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import string
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .config import ClusterConfig
from .initial import CONFIGMAP, ICSP, IDMS, ITMS, NODE, POD, rt
from .payload import ImageRef, PayloadError, RegistryClient
from .store import Store, now_iso

log = logging.getLogger("sandbox.apiserver.sigpolicy")
Obj = dict[str, Any]

CLUSTERIMAGEPOLICY = rt("config.openshift.io", "v1", "clusterimagepolicies")
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGSTORE_GATE = "ack-4.20-sigstore-in-4.21"
# machine-config-operator pkg/controller/container-runtime-config (SigstoreMsg), verbatim
SIGSTORE_GATE_MESSAGE = (
    "This cluster has mirrors configured. 4.21 will require Sigstore signatures for "
    "quay.io/openshift-release-dev/ocp-release release verification. Please ensure that any registries configured "
    "as mirrors of quay.io/openshift-release-dev/ocp-release images contain the Sigstore signature images "
    "associated with any release images before updating to 4.21. See "
    "https://docs.redhat.com/en/documentation/openshift_container_platform/4.20/html/nodes/nodes-sigstore-using"
    ".html#nodes-sigstore-prepare-for-4.21_nodes-sigstore-using for more details."
)
ADMIN_GATE_RE = re.compile(r"^ack-[4-5][.]([0-9]{1,})-[^-]")  # upgradeable.go adminAckGateFmt
NO_SIGNATURE = "A signature was required, but no signature exists"


class SignatureValidationFailed(PayloadError):
    """CRI-O refused the image: what the kubelet puts in the container's waiting message."""

    def __init__(self, image: str, reason: str) -> None:
        super().__init__(
            "RetrievePayload",
            f"image pull failed for {image} because the signature validation failed: Source image rejected: {reason}",
        )


# ----- initial objects -------------------------------------------------------------------------------------
def initial_objects(store: Store, cluster: ClusterConfig, created: str) -> None:
    feat = cluster.features
    pol = feat.get("sigstore_policy")
    if isinstance(pol, dict) and pol.get("key_pem"):
        store.upsert(
            CLUSTERIMAGEPOLICY,
            {
                "apiVersion": "config.openshift.io/v1",
                "kind": "ClusterImagePolicy",
                "metadata": {
                    "name": "openshift",
                    "creationTimestamp": created,
                    "annotations": {
                        "kubernetes.io/description": "Require Red Hat signatures for "
                        "quay.io/openshift-release-dev/ocp-release container images."
                    },
                },
                "spec": {
                    "scopes": list(pol.get("scopes") or []),
                    "policy": {
                        "rootOfTrust": {
                            "policyType": "PublicKey",
                            "publicKey": {"keyData": base64.b64encode(str(pol["key_pem"]).encode()).decode()},
                        },
                        "signedIdentity": {"matchPolicy": "MatchRepoDigestOrExact"},
                    },
                },
            },
        )
    if feat.get("admin_gates"):
        store.upsert(
            CONFIGMAP,
            {
                "metadata": {
                    "name": "admin-gates",
                    "namespace": "openshift-config-managed",
                    "creationTimestamp": created,
                },
                "data": {},
            },
        )
        store.upsert(
            CONFIGMAP,
            {
                "metadata": {
                    "name": "admin-acks",
                    "namespace": "openshift-config",
                    "creationTimestamp": created,
                }
            },
        )


# ----- the MCO's gate ---------------------------------------------------------------------------------------
def has_mirror_config(store: Store) -> bool:
    return any(store.list(r)[0] for r in (ICSP, IDMS, ITMS))


def sync_admin_gates(store: Store, cluster: ClusterConfig) -> None:
    """machine-config-operator ``updateGuardKeyIfNeeded`` for the Sigstore gate."""
    if not cluster.features.get("admin_gates"):
        return
    cm = store.find(CONFIGMAP, "openshift-config-managed", "admin-gates")
    if cm is None:
        return
    data = cm.get("data") or {}
    needed = has_mirror_config(store)
    if needed and data.get(SIGSTORE_GATE) != SIGSTORE_GATE_MESSAGE:

        def add(o: Obj) -> None:
            o.setdefault("data", {})
            if o["data"] is None:
                o["data"] = {}
            o["data"][SIGSTORE_GATE] = SIGSTORE_GATE_MESSAGE

        store.mutate(CONFIGMAP, "openshift-config-managed", "admin-gates", add)
    elif not needed and data.get(SIGSTORE_GATE):

        def remove(o: Obj) -> None:
            (o.get("data") or {}).pop(SIGSTORE_GATE, None)

        store.mutate(CONFIGMAP, "openshift-config-managed", "admin-gates", remove)


# ----- the CVO's admin-ack check ---------------------------------------------------------------------------
def _minor(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else version


def admin_ack_condition(store: Store, cluster: ClusterConfig, current_version: str) -> tuple[str, str] | None:
    """(reason, message) of ``UpgradeableAdminAckRequired`` when it fails, else None."""
    if not cluster.features.get("admin_gates"):
        return None
    gates = store.find(CONFIGMAP, "openshift-config-managed", "admin-gates")
    if gates is None:
        return "UnableToAccessAdminGatesConfigMap", "admin-gates configmap not found."
    acks = store.find(CONFIGMAP, "openshift-config", "admin-acks")
    if acks is None:
        return "UnableToAccessAdminAcksConfigMap", "admin-acks configmap not found."
    ack_data = acks.get("data") or {}
    reasons: dict[str, list[str]] = {}
    for key, value in (gates.get("data") or {}).items():
        m = ADMIN_GATE_RE.match(key)
        if not m:
            reasons.setdefault("AdminAckConfigMapGateNameError", []).append(
                f"admin-gates configmap gate name {key} has invalid format; must comply with "
                f'"{ADMIN_GATE_RE.pattern}".'
            )
            continue
        gate_minor = key[len("ack-") :].split("-", 1)[0]
        if gate_minor != _minor(current_version):
            continue
        if not value:
            reasons.setdefault("AdminAckConfigMapGateValueError", []).append(
                f"admin-gates configmap gate {key} must contain a non-empty value."
            )
            continue
        if ack_data.get(key) != "true":
            reasons.setdefault("AdminAckRequired", []).append(value)
    if not reasons:
        return None
    messages = [" ".join(sorted(v)) for v in reasons.values()]
    if len(reasons) == 1:
        return next(iter(reasons)), messages[0]
    return "MultipleReasons", " ".join(sorted(messages))


def merge_upgradeable(
    cluster_operators: Obj | None, admin_ack: tuple[str, str] | None, when: str
) -> Obj | None:
    """upgradeable.go ``setUpgradeableConditions``: one failing check gives its reason and message, several
    give ``MultipleReasons``. ``cluster_operators`` is the ClusterOperators check's condition (or None)."""
    checks: list[tuple[str, str]] = []
    if admin_ack is not None:
        checks.append(admin_ack)
    if cluster_operators is not None:
        checks.append((cluster_operators.get("reason", ""), cluster_operators.get("message", "")))
    if not checks:
        return None
    if len(checks) == 1:
        reason, message = checks[0]
    else:
        reason = "MultipleReasons"
        message = (
            "Cluster should not be upgraded between minor versions for multiple reasons: "
            + ",".join(r for r, _ in checks)
            + "\n* "
            + "\n* ".join(m for _, m in checks)
        )
    return {
        "type": "Upgradeable",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": when,
    }


# ----- CRI-O: the pull through the mirror ----------------------------------------------------------------------
def _policy_for(store: Store, logical: ImageRef) -> tuple[ec.EllipticCurvePublicKey, str] | None:
    """(key, scope) of the most specific ClusterImagePolicy scope covering the logical image, if any."""
    best: tuple[int, Obj, str] | None = None
    for pol in store.list(CLUSTERIMAGEPOLICY)[0]:
        for scope in (pol.get("spec") or {}).get("scopes") or []:
            s = str(scope).rstrip("/")
            covers = logical.name == s or logical.name.startswith(s + "/") or logical.registry == s
            if covers and (best is None or len(s) > best[0]):
                best = (len(s), pol, s)
    if best is None:
        return None
    trust = ((best[1].get("spec") or {}).get("policy") or {}).get("rootOfTrust") or {}
    pem = base64.b64decode(((trust.get("publicKey") or {}).get("keyData")) or "")
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):  # the lab only signs with ECDSA
        raise SignatureValidationFailed(str(logical), "unsupported public key type")
    return key, best[2]


def check_pull(store: Store, logical: ImageRef, physical: ImageRef, client: RegistryClient) -> None:
    """Raise SignatureValidationFailed when a ClusterImagePolicy covers ``logical`` and the repository it was
    pulled from (``physical``) holds no signature that verifies."""
    found = _policy_for(store, logical)
    if found is None:
        return
    key, _scope = found
    digest = logical.digest or physical.digest
    tag = digest.replace(":", "-", 1) + ".sig"
    sig_ref = ImageRef(physical.registry, physical.repository, tag=tag)
    try:
        manifest, _media, _d = client.manifest(sig_ref, tag)
    except PayloadError:
        raise SignatureValidationFailed(str(logical), NO_SIGNATURE) from None
    reasons: list[str] = []
    for layer in manifest.get("layers") or []:
        if layer.get("mediaType") != SIMPLESIGNING:
            continue
        b64 = (layer.get("annotations") or {}).get(SIG_ANNOTATION, "")
        try:
            payload = client.blob(sig_ref, layer.get("digest", ""))
            key.verify(base64.b64decode(b64), payload, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, PayloadError):
            reasons.append("cryptographic signature verification failed: invalid signature")
            continue
        try:
            doc = json.loads(payload)
            critical = doc["critical"]
            signed_digest = critical["image"]["docker-manifest-digest"]
            signed_ref = critical["identity"]["docker-reference"]
            if critical["type"] != "cosign container image signature":
                raise KeyError("type")
        except (ValueError, KeyError, TypeError):
            reasons.append("invalid signature payload")
            continue
        if signed_digest != digest:
            reasons.append(f'Signature for docker digest "{signed_digest}" does not match')
            continue
        if signed_ref.split("@", 1)[0].rsplit(":", 1)[0] != logical.name and signed_ref.split("@", 1)[0] != (
            logical.name
        ):
            reasons.append(f'Signature for identity "{signed_ref}" is not accepted')
            continue
        return
    raise SignatureValidationFailed(str(logical), reasons[0] if reasons else NO_SIGNATURE)


def prune_payload_pods(store: Store) -> None:
    """updatepayload.go ``prunePods``: the pods of earlier payload retrievals go before each new one."""
    for old in store.list(POD, "openshift-cluster-version")[0]:
        if (old["metadata"].get("labels") or {}).get("k8s-app") == "retrieve-openshift-release":
            store.delete(POD, "openshift-cluster-version", old["metadata"]["name"])


def record_payload_pod(store: Store, version: str, image: str, exc: SignatureValidationFailed) -> str:
    """The CVO's payload pod left pending by the kubelet; returns the CVO's failure text for ClusterVersion."""
    prune_payload_pods(store)
    # the CVO pins the pod to its own node (NodeName: the CVO's node, a control plane node)
    masters = [
        n["metadata"]["name"]
        for n in store.list(NODE)[0]
        if "node-role.kubernetes.io/master" in (n["metadata"].get("labels") or {})
    ]
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    name = f"version-{version}-{suffix}"
    waiting = {"reason": "SignatureValidationFailed", "message": exc.message}
    store.upsert(
        POD,
        {
            "metadata": {
                "name": name,
                "namespace": "openshift-cluster-version",
                "labels": {"k8s-app": "retrieve-openshift-release"},
                "annotations": {"openshift.io/required-scc": "privileged"},
                "creationTimestamp": now_iso(),
            },
            "spec": {
                "activeDeadlineSeconds": 120,
                "restartPolicy": "OnFailure",
                "nodeName": masters[0] if masters else "master-0",
                "nodeSelector": {"node-role.kubernetes.io/master": ""},
                "initContainers": [
                    {"name": n, "image": image}
                    for n in (
                        "cleanup",
                        "make-temporary-directory",
                        "move-operator-manifests-to-temporary-directory",
                        "move-release-manifests-to-temporary-directory",
                    )
                ],
                "containers": [{"name": "rename-to-final-location", "image": image}],
            },
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [
                    {
                        "name": "cleanup",
                        "image": image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": waiting},
                    }
                ],
                "containerStatuses": [
                    {
                        "name": "rename-to-final-location",
                        "image": image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}},
                    }
                ],
            },
        },
    )
    log.info("payload pod %s pending: SignatureValidationFailed", name)
    return (
        f'pod {name} failed at pending with reason "" and message "" and status initcontainer cleanup is waiting '
        f'with reason "SignatureValidationFailed" and message "{exc.message}"'
    )
