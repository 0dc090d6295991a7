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
    """What the step does, in two lines at 80 columns (the help says more)."""
    help: str
    """Help shown by '?': the step in two or three sentences, then 'Needs:' (prerequisites) and 'Changes:'
    (what it changes). Texts are English msgids: shown through :func:`tui.i18n._`."""
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


def update_path_cmds(plan: Plan, control_plane_only: bool) -> list[str]:
    """The equivalent commands of an update along the plan's whole path (``upgrade run-path``), in the chosen
    mode: the worker pools paused before the first hop and unpaused after the last in control-plane-only mode."""
    run = "ocp-airgap upgrade run-path --plan P --yes" + (
        " --control-plane-only" if control_plane_only else ""
    )
    out = [run]
    pause = 'oc patch mcp/worker --type merge --patch \'{{"spec":{{"paused":{0}}}}}\''
    if control_plane_only:
        out.append(pause.format("true"))
    channel = ""
    for hop in plan.release.path:
        if hop.get("channel") and hop["channel"] != channel:
            channel = str(hop["channel"])
            out.append(f"oc adm upgrade channel {channel}")
        digest = str(hop.get("digest") or "<digest>")
        repo = plan.mirror_repository if plan.mirror.registry else "${LOCAL_REGISTRY}/${LOCAL_REPOSITORY}"
        out.append(
            f"oc adm upgrade --allow-explicit-upgrade --to-image {repo}@{digest}   # {hop.get('version')}"
        )
    if control_plane_only:
        out.append(pause.format("false"))
    return out


def _update_cmds(plan: Plan) -> list[str]:
    if len(plan.path_versions) > 1:
        return update_path_cmds(plan, False)
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
        "Choose the plan and where this host sits. Started again, the wizard shows where things stand.",
        "The plan is a YAML file holding every choice: the cluster, the mirror registry, the release and how "
        "the release reaches the mirror. Where this host runs decides that: a host that reaches the internet "
        "and the mirror mirrors directly; otherwise the connected host writes removable media and the "
        "disconnected host uploads from it.\n\n"
        "Needs: nothing. A kubeconfig lets the wizard read the cluster and find its journal.\n\n"
        "Changes: only the plan file (when you save it). The plan never holds a secret.",
        cluster=False,
    ),
    StepInfo(
        "preflight",
        "Preflight",
        "Checks the cluster, the mirror registry and this host against the documented prerequisites. "
        "Nothing is changed.",
        "Every documented prerequisite is checked: oc of the target version, cluster-admin rights, "
        "ClusterVersion and operators healthy, nodes Ready, no paused MachineConfigPool, manual cloud "
        "credentials ready, no PodDisruptionBudget that blocks every drain, a recent etcd backup and a "
        "reachable mirror registry. Each failed check says why it matters and how to fix it; x makes the "
        "fixes ocp-airgap offers (each shown first).\n\n"
        "Needs: a plan with a kubeconfig and the mirror registry.\n\n"
        "Changes: nothing on the cluster; the journal records your etcd backup statement. A fix (x) changes "
        "only the resource it shows, after you confirm it.",
        commands=_preflight_cmds,
        engine="preflight",
    ),
    StepInfo(
        "credentials",
        "Credentials",
        "Puts the mirror's credentials in a private auth file (0600); the cluster trusts the mirror's CA.",
        "The cluster's pull secret is read and an entry for the mirror registry (base64 of user:password) is "
        "added, in a separate auth file the mirroring tools use. The mirror password is kept in the system "
        "keyring, never in the plan. Never use this write-capable file as the cluster's install pull secret.\n\n"
        "Needs: Preflight done (or its failures accepted); the mirror user and password.\n\n"
        "Changes: writes the auth file on this host; adds the registry's CA to the cluster's trusted CAs "
        "(a ConfigMap in openshift-config and image.config.openshift.io/cluster).",
        commands=_credentials_cmds,
        engine="pullsecret",
    ),
    StepInfo(
        "release",
        "Release",
        "Chooses the target on the update graph and finds its digest: the update refers to it by digest.",
        "The channel's update graph gives the path from the cluster's version to the target. Conditional "
        "edges carry known risks: read them before you accept them. The release digest (sha256:...) is what "
        "the update will reference.\n\n"
        "Needs: Credentials done; the target version and channel.\n\n"
        "Changes: only the plan (target version and digest) and the journal.",
        commands=_release_cmds,
        engine="release",
    ),
    StepInfo(
        "mirror",
        "Mirroring",
        "Copies the release to the mirror registry, to removable media or from it. A dry run comes first.",
        "'oc adm release mirror' copies the release image and every component. A dry run shows what would be "
        "copied before anything is. On a host without internet the release goes to removable media first "
        "(--to-dir) and is uploaded from it on the other side (--from-dir). Mirroring resumes where it "
        "stopped and verifies every blob by digest.\n\n"
        "Needs: Release done (the digest known); the auth file; for media, an absolute path to it.\n\n"
        "Changes: the mirror registry (or the media). Nothing is deleted.",
        commands=_mirror_cmds,
        engine="mirror",
    ),
    StepInfo(
        "mirror-config",
        "Mirror config",
        "Makes the cluster pull the release from the mirror: an ImageDigestMirrorSet (ICSP before 4.13).",
        "The mirror set redirects pulls by digest from the source repositories to the mirror. It is written "
        "to every node's registries.conf and rolls out through the MachineConfigPools; it does not reboot "
        "the nodes. Only the cluster's global pull secret can authenticate to mirrors.\n\n"
        "Needs: Mirroring done.\n\n"
        "Changes: creates or updates the ImageDigestMirrorSet (or ImageContentSourcePolicy) on the cluster, "
        "after you see the difference.",
        commands=_mirror_config_cmds,
        engine="mirrorconfig",
    ),
    StepInfo(
        "signature",
        "Signature",
        "Applies the release signature, verified here first: without it the cluster refuses the update.",
        "The Cluster Version Operator verifies the release image with its signature. On a disconnected "
        "cluster the signature comes as a ConfigMap in openshift-config-managed labelled "
        "release.openshift.io/verification-signatures, for every update. ocp-airgap verifies the signature "
        "against the keys the cluster trusts before applying it.\n\n"
        "Needs: Mirroring done (the digest known); on the disconnected host, the signature file from the "
        "media.\n\n"
        "Changes: creates or updates one ConfigMap in openshift-config-managed.",
        commands=_signature_cmds,
        engine="signatures",
    ),
    StepInfo(
        "catalog",
        "Operator catalog",
        "Optional: reads the installed operators, mirrors a catalog filtered to them and updates those that "
        "block the target; s skips it.",
        "The installed operators are read, with those that block the target minor version. A catalog filtered "
        "to those operators is mirrored and the cluster is pointed at it; the blocking operators are then "
        "moved to a channel that reaches a compatible version. r instead points one CatalogSource at an index "
        "image you mirrored yourself. Skip the step if no operator is installed.\n\n"
        "Needs: the packages and channels (defaults: the installed operators and their channels); for r, the "
        "catalog's name and the new index image by digest.\n\n"
        "Changes: the mirror registry (the filtered catalog), the cluster's catalog source and its mirror sets, "
        "and the channel of each blocking operator's Subscription, each shown first; the previous image is "
        "recorded in the journal for restore.",
        skippable=True,
        commands=_catalog_cmds,
        engine="catalog",
    ),
    StepInfo(
        "mhc-pause",
        "Pause MHCs",
        "Pauses every MachineHealthCheck, so nodes rebooting during the update are not judged unhealthy and "
        "replaced.",
        "Each MachineHealthCheck is annotated cluster.x-k8s.io/paused before the update; the annotation is "
        "removed afterwards (Resume & summary). The journal records exactly which ones this tool paused, so "
        "those an administrator paused before are left alone on resume.\n\n"
        "Needs: Signature done.\n\n"
        "Changes: adds the paused annotation to each MachineHealthCheck in openshift-machine-api.",
        commands=_mhc_pause_cmds,
        engine="mhc",
    ),
    StepInfo(
        "upgrade",
        "Update & monitor",
        "Starts the update by digest from the mirror (never forced) and follows it; quitting does not stop it.",
        "'oc adm upgrade --allow-explicit-upgrade --to-image <mirror>@<digest>' sets spec.desiredUpdate of "
        "ClusterVersion 'version'. The wizard then follows the progress, the operators, the pools and the "
        "nodes; start it again after a dropped session and it reattaches. A path through an intermediate minor "
        "(EUS to EUS) offers p, control plane only: the worker pools stay paused for the whole path, so each "
        "worker reboots once instead of once per minor; the pause is journaled and undone at the end, or by "
        "the next run after an interruption.\n\n"
        "Needs: Mirror config, Signature and Pause MHCs done; the digest in the plan.\n\n"
        "Changes: spec.desiredUpdate of the ClusterVersion: the cluster updates itself from there; with p, "
        "spec.paused of the worker MachineConfigPools until the path is done.",
        commands=_update_cmds,
        engine="upgrade",
    ),
    StepInfo(
        "mhc-resume",
        "Resume & summary",
        "Resumes only the MHCs this tool paused and sums up; w writes the runbook and change record.",
        "After the update the paused annotation is removed from the MachineHealthChecks paused for it. The "
        "summary names what remains: budgets relaxed by a fix (b restores them) and further updates of a "
        "multi-hop path. The change record lists who did what and when, with before and after; the runbook "
        "lists the equivalent commands.\n\n"
        "Needs: the update completed.\n\n"
        "Changes: removes the paused annotation from the MachineHealthChecks this tool paused; b puts back "
        "the budgets a fix relaxed.",
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
