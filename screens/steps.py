"""What the wizard shows of each step: its title, what it does and why (from the documented procedure), its
help, and the equivalent commands. The steps themselves — order, prerequisites, host roles, journal names and
states — belong to :mod:`engine.workflow`; ``tests/core/test_workflow.py`` checks the two list the same steps.

This module is plain data (no Textual).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.plan import Plan


@dataclass(frozen=True)
class StepInfo:
    id: str
    """The step's name in the journal."""
    title: str
    """Short title for the step list (fits 18 columns)."""
    about: str
    """What the step does and why, two or three short lines from the documented procedure."""
    help: str
    """Longer help shown by '?'."""
    skippable: bool = False
    cluster: bool = True
    """Needs access to the cluster."""
    commands: Callable[[Plan], list[str]] = field(default=lambda plan: [])
    """The equivalent commands, from the plan, shown before the engine runs (the engine then shows its own)."""
    engine: str = ""
    """The engine module the step runs (``engine.<name>``); empty for the welcome step."""


def _v(value: str, placeholder: str) -> str:
    return value or placeholder


def _rel(plan: Plan) -> str:
    return _v(plan.release.version, "${OCP_RELEASE}") + "-" + plan.release.architecture


def _preflight_cmds(plan: Plan) -> list[str]:
    return [
        "oc version --client",
        "oc whoami",
        "oc get clusterversion version -o yaml",
        "oc get clusteroperators",
        "oc get nodes",
        "oc get machineconfigpools",
        "oc get poddisruptionbudgets -A",
    ]


def _credentials_cmds(plan: Plan) -> list[str]:
    reg = _v(plan.mirror.registry, "<mirror_registry>")
    return [
        "oc extract secret/pull-secret -n openshift-config --confirm --to=.",
        "echo -n '<user_name>:<password>' | base64 -w0",
        f'jq \'.auths["{reg}"] = {{"auth": "<credentials>"}}\' .dockerconfigjson > ${{LOCAL_SECRET_JSON}}',
        "cp ca.crt /usr/share/pki/ca-trust-source/anchors/ && update-ca-trust",
    ]


def _release_cmds(plan: Plan) -> list[str]:
    src = plan.endpoints.release_source
    return [
        "oc adm upgrade",
        f"oc adm release info -o 'jsonpath={{.digest}}{{\"\\n\"}}' {src}:{_rel(plan)}",
    ]


def _mirror_cmds(plan: Plan) -> list[str]:
    src = f"{plan.endpoints.release_source}:{_rel(plan)}"
    to = (
        f"{_v(plan.mirror.registry, '${LOCAL_REGISTRY}')}/{_v(plan.mirror.repository, '${LOCAL_REPOSITORY}')}"
    )
    media = _v(plan.mirroring.media_path, "${REMOVABLE_MEDIA_PATH}")
    auth = "${LOCAL_SECRET_JSON}"
    if plan.mirroring.mode == "to-media":
        return [
            f"oc adm release mirror -a {auth} --to-dir={media}/mirror {src} --dry-run",
            f"oc adm release mirror -a {auth} --to-dir={media}/mirror {src}",
        ]
    if plan.mirroring.mode == "from-media":
        return [
            f'oc image mirror -a {auth} --from-dir={media}/mirror "file://openshift/release:{_rel(plan)}*" {to}'
        ]
    return [
        f"oc adm release mirror -a {auth} --from={src} --to={to} --dry-run",
        f"oc adm release mirror -a {auth} --from={src} --to={to} --apply-release-image-signature",
    ]


def _mirror_config_cmds(plan: Plan) -> list[str]:
    return ["oc apply -f imageDigestMirrorSet.yaml", "oc get imagedigestmirrorset -o yaml"]


def _signature_cmds(plan: Plan) -> list[str]:
    return [
        "oc apply -f ${REMOVABLE_MEDIA_PATH}/mirror/config/signature-sha256-<digest16>.json",
        "oc get configmap -n openshift-config-managed -l release.openshift.io/verification-signatures",
    ]


def _catalog_cmds(plan: Plan) -> list[str]:
    return [
        "oc get catalogsource -n openshift-marketplace",
        "oc edit catalogsource <name> -n openshift-marketplace",
    ]


def _mhc_pause_cmds(plan: Plan) -> list[str]:
    return [
        "oc get machinehealthcheck -n openshift-machine-api",
        'oc -n openshift-machine-api annotate mhc <mhc-name> cluster.x-k8s.io/paused=""',
    ]


def _update_cmds(plan: Plan) -> list[str]:
    reg = _v(plan.mirror.registry, "${LOCAL_REGISTRY}")
    repo = _v(plan.mirror.repository, "${LOCAL_REPOSITORY}")
    digest = _v(plan.release.digest, "<digest>")
    return [
        f"oc adm upgrade --allow-explicit-upgrade --to-image {reg}/{repo}@{digest}",
        "oc adm upgrade",
        "oc get clusteroperators",
    ]


def _summary_cmds(plan: Plan) -> list[str]:
    return [
        "oc -n openshift-machine-api annotate mhc <mhc-name> cluster.x-k8s.io/paused-",
        "oc get clusterversion",
    ]


STEPS: tuple[StepInfo, ...] = (
    StepInfo(
        "welcome",
        "Welcome & plan",
        "Choose the plan (what to update, where the mirror is) and where this host sits: connected, "
        "disconnected, or both. Started again, the wizard reads the journal and shows where things stand.",
        "The plan is a YAML file holding every choice (cluster, mirror registry, release, mirroring mode). "
        "It never holds a secret. Each step below reads it; changes you make on a screen are saved to it.\n\n"
        "Where this host runs decides the mirroring mode: a host that reaches the internet and the mirror "
        "registry mirrors directly; otherwise the connected side writes to removable media and the "
        "disconnected side uploads from it.",
        cluster=False,
    ),
    StepInfo(
        "preflight",
        "Preflight",
        "Checks the cluster before anything changes: oc version, admin rights, ClusterVersion and operators "
        "healthy, nodes Ready, no paused MachineConfigPool, PodDisruptionBudgets, an etcd backup, the mirror.",
        "The documented prerequisites (11.4.1): oc of the target version, a mirror registry that keeps running, "
        "cluster-admin rights, a recent etcd backup, every MachineConfigPool running and not paused (nodes of a "
        "paused pool are skipped), manual cloud credentials updated first, and no PodDisruptionBudget that "
        "blocks every drain. Failed checks say why they matter and how to fix them.",
        commands=_preflight_cmds,
        engine="preflight",
    ),
    StepInfo(
        "credentials",
        "Credentials",
        "Merges the mirror registry's credentials into the pull secret (a 0600 auth file) and makes this host "
        "trust the registry's CA. Never use this write-capable file as the cluster's install pull secret.",
        "Documented in 11.3: extract the pull secret, add an 'auths' entry for the mirror registry "
        "(base64 of user:password), save it where the mirroring tools look, and trust the registry's CA on "
        "the mirror host. The mirror password is kept in the system keyring, never in the plan.",
        commands=_credentials_cmds,
        engine="pullsecret",
    ),
    StepInfo(
        "release",
        "Release",
        "Chooses the target release from the update graph (path from the current version, risks of "
        "conditional edges) and resolves its digest: the update must reference the release by digest.",
        "Plan the path with the channel's update graph: the target must be reachable from the current version. "
        "Conditional edges carry known risks; read them before choosing. The release digest (sha256:...) is "
        "what the update will reference (6.2.2.3 step 1).",
        commands=_release_cmds,
        engine="release",
    ),
    StepInfo(
        "mirror",
        "Mirroring",
        "Copies the release image and every component into the mirror registry (direct), onto removable "
        "media (connected side) or from media into the registry (disconnected side). A dry run comes first.",
        "6.2.2.3: 'oc adm release mirror' preview (--dry-run), then the copy. On a host without internet, "
        "mirror to --to-dir on removable media, carry it across, then 'oc image mirror --from-dir'. Mirroring "
        "resumes where it stopped and verifies every blob by digest.",
        commands=_mirror_cmds,
        engine="mirror",
    ),
    StepInfo(
        "mirror-config",
        "Mirror config",
        "Tells the cluster to pull the release from the mirror: an ImageDigestMirrorSet (ICSP before 4.13). "
        "It is written to every node's registries.conf and rolls out through the MachineConfigPools.",
        "11.4.5: an ImageContentSourcePolicy / ImageDigestMirrorSet redirects pulls by digest from the source "
        "repositories to the mirror. It does not reboot nodes, but it rolls out through the pools. Only the "
        "cluster's global pull secret can authenticate to mirrors.",
        commands=_mirror_config_cmds,
        engine="mirrorconfig",
    ),
    StepInfo(
        "signature",
        "Signature",
        "Applies the release image signature ConfigMap so the Cluster Version Operator can verify the "
        "release: without it a disconnected cluster refuses the update. Verified here before it is applied.",
        "5.4: the CVO compares the release image with its signature. Apply the signature ConfigMap "
        "(openshift-config-managed, label release.openshift.io/verification-signatures) for every update. "
        "ocp-airgap verifies the signature against the keys the cluster trusts before applying it.",
        commands=_signature_cmds,
        engine="signatures",
    ),
    StepInfo(
        "catalog",
        "Operator catalog",
        "Lists the installed operators and which block the target minor; mirrors a filtered catalog and points "
        "the cluster at it, then updates the blocking operators. Skip it if no operator is installed.",
        "10.4: mirror the new index image, then point the CatalogSource (openshift-marketplace) at it by "
        "digest. This step is optional: press s to skip it.",
        skippable=True,
        commands=_catalog_cmds,
        engine="catalog",
    ),
    StepInfo(
        "mhc-pause",
        "Pause MHCs",
        "Pauses every MachineHealthCheck: during the update nodes reboot, and an MHC could judge them "
        "unhealthy and replace them. The journal records exactly which ones this tool paused.",
        "11.4.2: annotate each MachineHealthCheck with cluster.x-k8s.io/paused before the update and remove "
        "the annotation afterwards. MHCs an administrator paused before are left alone on resume.",
        commands=_mhc_pause_cmds,
        engine="mhc",
    ),
    StepInfo(
        "upgrade",
        "Update & monitor",
        "Starts the update by digest from the mirror (never forced) and follows it: progress, operators, "
        "pools and nodes. Quitting does not stop the update; start the wizard again to reattach.",
        "11.4.4: 'oc adm upgrade --allow-explicit-upgrade --to-image <mirror>@<digest>' sets spec.desiredUpdate "
        "of ClusterVersion 'version'. Prerequisites: release mirrored, signature applied, digest known, MHCs "
        "paused. Progress shows in status.conditions and status.history.",
        commands=_update_cmds,
        engine="upgrade",
    ),
    StepInfo(
        "mhc-resume",
        "Resume & summary",
        "Resumes the MachineHealthChecks this tool paused (only those) and summarises what was done. Write "
        "the runbook and the change record for the on-call handoff with w.",
        "After the update, remove the paused annotation from the MHCs paused for it (11.4.2). The change "
        "record lists who did what and when, with before/after; the runbook lists the equivalent commands.",
        commands=_summary_cmds,
        engine="mhc",
    ),
)

STEP_IDS: tuple[str, ...] = tuple(s.id for s in STEPS)
BY_ID: dict[str, StepInfo] = {s.id: s for s in STEPS}

# Where the tool runs → mirroring mode. Which steps apply on each host, their order and prerequisites are
# engine.workflow's (one owner); this module only holds what the wizard shows of them.
WHERE_MODES: dict[str, str] = {"both": "direct", "connected": "to-media", "disconnected": "from-media"}


def where_from_mode(mode: str) -> str:
    for where, m in WHERE_MODES.items():
        if m == mode:
            return where
    return "both"
