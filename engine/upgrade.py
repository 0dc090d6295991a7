"""Start the update and follow it to completion (docs/steps/upgrade.md, the ClusterVersion API as the CVO and oc use it).

Starting does what ``oc adm upgrade --allow-explicit-upgrade --to-image <mirror>/<repo>@<digest>`` does, with the
same client-side guards (the ClusterVersion API as the CVO and oc use it), and nothing more:

1. the target must be a by-digest pull spec (a tag cannot be verified by the cluster);
2. a target equal to ``status.desired.image`` is already being applied: nothing to write (re-attach instead);
3. a target listed in ``status.availableUpdates`` takes its version from there (sent with the image, as oc
   does); one listed in
   ``status.conditionalUpdates`` whose ``Recommended`` condition is not True is refused unless the risks are
   explicitly accepted (and that decision is journaled); any other target is an explicit update, as is normal
   on a disconnected cluster with no update service;
4. ``Invalid``, ``Failing`` or ``Progressing`` True refuse the update (oc's ``--allow-upgrade-with-warnings``
   is deliberately not offered, nor ``--force``: the cluster's own verification is never bypassed);
5. the write is oc's exact JSON merge patch on ``clusterversion/version``:
   ``{"spec":{"desiredUpdate":{"architecture":"","version":"","image":"<image>","force":false}}}`` (with the
   listed version instead of ``""`` when the target is one of the cluster's available updates)
   (an existing ``acceptRisks`` is carried over, as oc does); a 409 Conflict is re-read, re-checked and retried.

Before that, the documented prerequisites are required: the release mirrored (journal record of the mirror step
for this digest, or the mirror registry answering for the digest), the signature ConfigMap applied (visible to
the CVO), and every MachineHealthCheck paused, or the admin's explicit, journaled decision to skip the pause.

Watching reads ``clusterversion/version`` (``Progressing`` parsed into N of M and %, ``ReleaseAccepted`` problems
explained with their fix, ``Failing``), the ClusterOperators' versions, the pools' updated/ready counts, nodes and
machines, and ends when the update is complete (the ClusterVersion API as the CVO and oc use it): ``history[0]`` is the target and
``Completed``, ``Progressing`` is False and ``Available`` True. It re-attaches to an update already running.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from engine.changes import Change
from engine.cluster import (
    CLUSTER_OPERATOR,
    CLUSTER_VERSION,
    MACHINE,
    MACHINE_API_ABSENT,
    MCP,
    NODE,
    Cluster,
    condition,
    current_version,
    machine_api_enabled,
    retry_on_conflict,
)
from engine.context import Context
from engine.errors import (
    AirgapError,
    InputError,
    NotReady,
    PreconditionFailed,
    RegistryError,
    SignatureError,
)
from engine.events import CheckStatus
from engine.lock import locked
from engine.mhc import MHC_NAMESPACE, is_paused, paused_by_tool, skip_decided
from engine.signatures import visible_signature_configmaps

STEP = "upgrade"
CVO_CATCH_UP_SECONDS = 360.0
"""How long the watch keeps waiting once the cause of a precondition refusal is gone: the CVO re-evaluates
Upgradeable at most every 2 minutes, then its sync worker retries the refused release with a back-off of up to its
reconcile interval (cluster-version-operator ``pkg/cvo/upgradeable.go``, ``pkg/cvo/sync_worker.go``)."""
MACHINE_NAMESPACE = "openshift-machine-api"
_WORKING = re.compile(r"^Working towards (?P<version>\S+?)(?::\s*(?P<rest>.*))?$")
_COUNTS = re.compile(r"^(?P<done>\d+) of (?P<total>\d+) done \((?P<pct>\d+)% complete\)(?:,\s*(?P<msg>.*))?$")


class UpdateBlocked(AirgapError):
    """The cluster refuses to take the update (e.g. the release signature cannot be verified)."""

    title = "Update blocked"


# ----------------------------------------------------------------------------------------------------------
# target and prerequisites
# ----------------------------------------------------------------------------------------------------------


def target_image(ctx: Context) -> str:
    """``<mirror registry>/<repository>@<digest>`` (LOCAL_REGISTRY/LOCAL_REPOSITORY@digest), or, after an
    oc-mirror run, where oc-mirror put the release image (``<repository>/openshift/release-images@<digest>``)."""
    from engine.mirror.ocmirror import journaled_layout

    plan = ctx.plan
    plan.require("mirror.registry", "mirror.repository", "release.digest")
    layout = journaled_layout(ctx, plan.release.digest)
    if layout and layout.get("release_repository"):
        return f"{layout['release_repository']}@{plan.release.digest}"
    return plan.mirror_pullspec()


def digest_of(image: str) -> str:
    return image.rsplit("@", 1)[1] if "@" in image else ""


@dataclass
class Prerequisite:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _mirror_has_digest(ctx: Context, digest: str, image: str = "") -> tuple[bool, str]:
    """Ask the mirror registry for the release manifest by digest (HEAD), with the plan's auth file and CA, in the
    repository of the update target (``<repository>/openshift/release-images`` after an oc-mirror run)."""
    from engine.authfile import AuthFile, find_auth_file
    from engine.oci.registry import RegistryClient

    plan = ctx.plan
    repository = plan.mirror.repository
    prefix = f"{plan.mirror.registry}/"
    if image.startswith(prefix) and "@" in image:
        repository = image[len(prefix) :].split("@", 1)[0]
    path = find_auth_file(plan.resolve_path(plan.auth_file))
    auth = AuthFile.load(path) if path else AuthFile.empty()
    with RegistryClient(
        plan.mirror.registry, auth=auth, ca_file=plan.resolve_path(plan.mirror.ca_file)
    ) as client:
        found = client.head_manifest(repository, digest)
    where = f"{plan.mirror.registry}/{repository}@{digest}"
    if found is None:
        return False, f"{where} is not in the mirror registry"
    return True, f"{where} is in the mirror registry"


def prerequisites(ctx: Context, image: str, cv: dict[str, Any] | None = None) -> list[Prerequisite]:
    """The documented prerequisites of §I, each with what was seen and the fix."""
    digest = digest_of(image)
    out: list[Prerequisite] = []
    # 1. release mirrored and verified
    # "in the mirror" is only ever proven by the registry, never by a record (the media's record, or a to-media
    # run, says nothing about what the mirror registry holds)
    try:
        ok, detail = _mirror_has_digest(ctx, digest, image)
    except (RegistryError, InputError) as exc:
        ok, detail = False, f"cannot check the mirror registry: {exc.message}"
    out.append(
        Prerequisite(
            "release mirrored",
            ok,
            detail,
            "" if ok else "Mirror the release into the mirror registry first: ocp-airgap mirror --plan P",
        )
    )
    # 2. signature ConfigMap applied
    names = visible_signature_configmaps(ctx.cluster, digest)
    out.append(
        Prerequisite(
            "signature ConfigMap applied",
            bool(names),
            f"the CVO can see {', '.join(names)}"
            if names
            else f"no labelled ConfigMap in openshift-config-managed holds a signature for {digest}",
            "" if names else "Apply the release signature: ocp-airgap signature apply --plan P",
        )
    )
    # 3. no installed operator blocks the target minor (or the admin's journaled decision)
    from engine.catalogs import gate

    live = cv if cv is not None else ctx.cluster.cluster_version()
    ok, detail, fix = gate.check(ctx, current_version(live), ctx.plan.release.version)
    out.append(Prerequisite("installed operators compatible", ok, detail, fix))
    # 4. MachineHealthChecks paused (or the decision to skip); none exist without the Machine API capability
    from engine.cluster import MHC

    if not machine_api_enabled(live):
        out.append(Prerequisite("MachineHealthChecks paused", True, MACHINE_API_ABSENT))
        return out
    mhcs = ctx.cluster.list(MHC, MHC_NAMESPACE)
    active = [m["metadata"]["name"] for m in mhcs if not is_paused(m)]
    if not active:
        out.append(
            Prerequisite(
                "MachineHealthChecks paused",
                True,
                f"all {len(mhcs)} paused ({len(paused_by_tool(ctx.journal))} by ocp-airgap)",
            )
        )
    elif skip_decided(ctx.journal):
        out.append(
            Prerequisite(
                "MachineHealthChecks paused",
                True,
                f"not paused ({', '.join(active)}), by the admin's journaled decision",
            )
        )
    else:
        out.append(
            Prerequisite(
                "MachineHealthChecks paused",
                False,
                f"active: {', '.join(active)}",
                "Pause them: ocp-airgap mhc pause --plan P (or record the decision not to: "
                "ocp-airgap mhc skip --plan P --reason ...)",
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------------
# oc adm upgrade's client-side guards
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Decision:
    kind: str
    """'already' (nothing to write) or 'start'"""
    image: str
    version: str = ""
    explicit: bool = False
    conditional: dict[str, Any] | None = None
    """the conditional update entry when the target is a not-recommended conditional one (accepted)"""
    warnings: list[str] = field(default_factory=list)
    update: dict[str, Any] = field(default_factory=dict)

    @property
    def patch(self) -> dict[str, Any]:
        return {"spec": {"desiredUpdate": self.update}}


def _same_target(a: str, b: str) -> bool:
    return a == b or (bool(digest_of(a)) and digest_of(a) == digest_of(b))


def _risks_text(entry: dict[str, Any]) -> str:
    parts = []
    for risk in entry.get("risks") or []:
        parts.append(f"{risk.get('name', '?')}: {risk.get('message', '').strip()} ({risk.get('url', '')})")
    return "; ".join(parts) or "no risk given"


def evaluate(cv: dict[str, Any], image: str, *, accept_not_recommended: bool = False) -> Decision:
    """oc adm upgrade --allow-explicit-upgrade --to-image IMAGE, client side (the ClusterVersion API as the CVO and oc use it)."""
    if "@sha256:" not in image:
        raise InputError(
            f"{image} is not a by-digest pull spec: release images that are not accessed via digest cannot be "
            "verified by the cluster",
            fix="Resolve the target's digest (ocp-airgap release) and update by digest.",
        )
    status = cv.get("status") or {}
    desired = status.get("desired") or {}
    if desired.get("image") == image:
        return Decision("already", image, version=str(desired.get("version", "")))
    decision = Decision("start", image)
    for available in status.get("availableUpdates") or []:
        if _same_target(str(available.get("image", "")), image):
            decision.version = str(available.get("version", ""))
            break
    else:
        for entry in status.get("conditionalUpdates") or []:
            release = entry.get("release") or {}
            if not _same_target(str(release.get("image", "")), image):
                continue
            rec = next((c for c in entry.get("conditions") or [] if c.get("type") == "Recommended"), None)
            if rec is not None and rec.get("status") == "True":
                decision.version = str(release.get("version", ""))
                break
            if not accept_not_recommended:
                raise PreconditionFailed(
                    f"the update to {release.get('version') or image} is not recommended for this cluster: "
                    f"{(rec or {}).get('message', '') or _risks_text(entry)}",
                    fix="Read the risks; if they do not apply to this cluster, accept them explicitly "
                    "(--accept-not-recommended; the decision is journaled).",
                )
            decision.version = str(release.get("version", ""))
            decision.conditional = entry
            decision.warnings.append(
                f"the update to {decision.version} is not recommended ({_risks_text(entry)}); "
                "proceeding because the risks were accepted"
            )
            break
        else:
            decision.explicit = True
            decision.warnings.append(
                "the requested update image is not one of the available updates (normal for a disconnected "
                "cluster without an update service): explicit update, as --allow-explicit-upgrade does"
            )
    problems = []
    for ctype, what in (
        ("Invalid", "the cluster version object is invalid, you must correct the invalid state first"),
        ("Failing", "the cluster is experiencing an error reconciling"),
        ("Progressing", "the cluster is already upgrading"),
    ):
        c = condition(cv, ctype)
        if c and c.get("status") == "True":
            problems.append(f"{what}: Reason: {c.get('reason', '')} Message: {c.get('message', '')}".strip())
    if problems:
        raise PreconditionFailed(
            "; ".join(problems),
            fix="Wait until the cluster is healthy and not updating (ocp-airgap upgrade watch, oc adm upgrade), "
            "then start the update; the guards of oc adm upgrade are never bypassed here.",
        )
    # oc sends the version with the image when the target is one the cluster lists (availableUpdates, or an
    # accepted conditionalUpdates entry: oc pkg/cli/admin/upgrade/upgrade.go Run); an explicit image goes with
    # version "" and the CVO fills the version in from the payload's release metadata.
    listed = "" if decision.explicit else decision.version
    update: dict[str, Any] = {"architecture": "", "version": listed, "image": image, "force": False}
    accept = ((cv.get("spec") or {}).get("desiredUpdate") or {}).get("acceptRisks")
    if accept:
        update["acceptRisks"] = accept
    decision.update = update
    return decision


# ----------------------------------------------------------------------------------------------------------
# start
# ----------------------------------------------------------------------------------------------------------


@dataclass
class StartPlan:
    image: str
    decision: Decision
    prerequisites: list[Prerequisite]
    change: Change | None
    command: list[str]

    @property
    def changes(self) -> list[Change]:
        return [self.change] if self.change else []


def oc_upgrade_command(cluster: Cluster, image: str) -> list[str]:
    return ["oc", *cluster.oc_args(), "adm", "upgrade", "--allow-explicit-upgrade", "--to-image", image]


def _graph_guard(ctx: Context, decision: Decision, image: str, current: str, accept: bool) -> None:
    """A disconnected cluster has no ``conditionalUpdates`` of its own, so oc's guard cannot see a conditional
    edge there. The release step records the update graph's edges from the current version and from every
    version on the chosen path: the edge judged is the one actually requested — the cluster's version now →
    the plan's target — whatever hop the release step stored, and its risks are refused unless accepted."""
    try:
        target = ctx.journal.decision("release", "target") or {}
    except AirgapError:
        return  # no cluster journal: nothing recorded by the release step
    if not isinstance(target, dict):
        return
    version = ctx.plan.release.version or decision.version
    if digest_of(image) == target.get("digest") and target.get("version"):
        version = str(target.get("version"))
    risks: list[dict[str, Any]] | None = None
    edges = target.get("edges")
    if isinstance(edges, dict) and isinstance(edges.get(current), dict):
        known = edges[current]
        if version in known:
            risks = list(known[version] or [])
        else:
            ctx.emit.warning(
                f"the update graph recorded by the release step has no edge {current} -> {version}: this is an "
                "explicit update outside the graph"
            )
            return
    elif target.get("from") == current and target.get("version") == version:
        risks = list(target.get("risks") or [])  # a record written before edges were kept
    elif target:
        ctx.emit.warning(
            f"the update {current} -> {version} was not checked against the update graph (the release step "
            f"recorded a path from {target.get('from') or '?'}): run ocp-airgap release --plan P --write-plan"
        )
        return
    if not risks:
        return
    entry = {"release": {"version": version, "image": image}, "risks": risks}
    if not accept:
        raise PreconditionFailed(
            f"the update graph marks {current} -> {version} as conditional: {_risks_text(entry)}",
            fix="Read the risks; if they do not apply to this cluster, accept them explicitly "
            "(--accept-not-recommended; the decision is journaled), or choose a recommended path "
            "(ocp-airgap release --plan P --write-plan --next-hop).",
        )
    decision.conditional = entry
    decision.version = decision.version or version
    decision.warnings.append(
        f"the update graph marks this update as conditional ({_risks_text(entry)}); "
        "proceeding because the risks were accepted"
    )


def prepare_start(ctx: Context, *, accept_not_recommended: bool = False) -> StartPlan:
    """Check prerequisites and guards; build the preview of the ClusterVersion patch."""
    image = target_image(ctx)
    cluster = ctx.cluster
    emit = ctx.emit
    cv = cluster.cluster_version()
    command = oc_upgrade_command(cluster, image)
    decision = evaluate(cv, image, accept_not_recommended=accept_not_recommended)
    if decision.kind == "already":
        emit.info(f"info: Cluster is already at {image} (an update to it is applied or in progress).")
        return StartPlan(image, decision, [], None, command)
    from engine.graph import giant_hop

    reconciling = str(((cv.get("status") or {}).get("desired") or {}).get("version") or current_version(cv))
    hop = giant_hop(reconciling, decision.version or ctx.plan.release.version)
    if hop:
        # the CVO's GiantHop precondition would refuse it after the patch; nothing is written
        raise PreconditionFailed(
            hop,
            fix="Update to a release of the next minor version first: ocp-airgap release --plan P --write-plan "
            "--next-hop (ocp-airgap preflight names it), then update again.",
        )
    if decision.conditional is None:
        _graph_guard(ctx, decision, image, current_version(cv), accept_not_recommended)
    prereqs = prerequisites(ctx, image, cv)
    for p in prereqs:
        emit.check(p.name, CheckStatus.PASS if p.ok else CheckStatus.FAIL, p.detail, p.fix)
    missing = [p for p in prereqs if not p.ok]
    if missing:
        raise PreconditionFailed(
            "the update cannot start: " + "; ".join(f"{p.name}: {p.detail}" for p in missing),
            fix=" ".join(p.fix for p in missing),
        )
    for w in decision.warnings:
        emit.warning(w)
    before = (cv.get("spec") or {}).get("desiredUpdate")
    change = Change(
        title=f"Update the cluster from {current_version(cv)} to {decision.version or ctx.plan.release.version or image}",
        resource="clusterversion/version",
        before={"spec": {"desiredUpdate": before}} if before else {"spec": {}},
        after=decision.patch,
        command=command,
    )
    return StartPlan(image, decision, prereqs, change, command)


@locked("upgrade start")
def start(ctx: Context, plan: StartPlan) -> dict[str, Any]:
    """Write the desired update (after the caller's confirmation); journal it."""
    cluster = ctx.cluster
    emit = ctx.emit
    journal = ctx.journal
    if plan.change is None:
        return {"started": False, "image": plan.image, "already": True}
    accept = plan.decision.conditional is not None
    # under the cluster lock: judge the ClusterVersion again, another run may have started an update meanwhile
    fresh = evaluate(cluster.cluster_version(), plan.image, accept_not_recommended=True)
    if fresh.kind == "already":
        emit.info(f"info: Cluster is already at {plan.image} (an update to it is applied or in progress).")
        return {"started": False, "image": plan.image, "already": True}
    if accept:
        journal.record_decision(
            STEP,
            "accept-not-recommended",
            True,
            f"accepted the risks of {plan.decision.version}: {_risks_text(plan.decision.conditional or {})}",
        )
    journal.step_started(
        STEP, image=plan.image, digest=digest_of(plan.image), version=ctx.plan.release.version
    )
    emit.command(plan.command)
    attempts: list[int] = []

    def attempt() -> dict[str, Any]:
        attempts.append(1)
        cv = cluster.cluster_version()
        if len(attempts) > 1:
            # re-check after a conflict: somebody (maybe our own first write) changed the ClusterVersion
            decision = evaluate(cv, plan.image, accept_not_recommended=accept)
            if decision.kind == "already":
                return cv
            patch = decision.patch
        else:
            patch = plan.decision.patch
        return cluster.merge_patch(CLUSTER_VERSION, "version", patch)

    def on_retry(n: int) -> None:
        emit.info(f"clusterversion/version changed meanwhile (409 Conflict); re-reading and retrying ({n}).")

    result = retry_on_conflict(attempt, on_retry=on_retry)
    after = (result.get("spec") or {}).get("desiredUpdate")
    journal.change(
        STEP,
        "update",
        "clusterversion/version",
        before=(plan.change.before or {}).get("spec", {}).get("desiredUpdate"),
        after=after,
        command=shlex.join(plan.command),
        image=plan.image,
        retries=len(attempts) - 1,
    )
    emit.info(f"Requested update to release image {plan.image}")
    return {"started": True, "image": plan.image, "retries": len(attempts) - 1, "desiredUpdate": after}


# ----------------------------------------------------------------------------------------------------------
# watch
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Progress:
    version: str = ""
    done: int | None = None
    total: int | None = None
    percent: int | None = None
    message: str = ""


def parse_progressing(message: str) -> Progress:
    """``Working towards 4.17.3: 512 of 845 done (60% complete), waiting on machine-config`` → its parts (the four
    forms of the ClusterVersion API as the CVO and oc use it)."""
    m = _WORKING.match(message or "")
    if not m:
        return Progress(message=message or "")
    rest = m.group("rest") or ""
    c = _COUNTS.match(rest)
    if not c:
        return Progress(version=m.group("version"), message=rest)
    return Progress(
        version=m.group("version"),
        done=int(c.group("done")),
        total=int(c.group("total")),
        percent=int(c.group("pct")),
        message=(c.group("msg") or "").strip(),
    )


def explain_release_accepted(c: dict[str, Any], target_version: str = "") -> tuple[str, str]:
    """A ReleaseAccepted=False condition in plain words, and its fix."""
    reason = str(c.get("reason", ""))
    message = str(c.get("message", ""))
    low = message.lower()
    if "signaturevalidationfailed" in low or "source image rejected" in low:
        # the node runtime (CRI-O) refused the payload image: the Sigstore signature, not the OpenPGP one
        return (
            "the cluster's nodes refuse to run the release image pulled from the mirror: its Sigstore signature "
            "(the tag sha256-<digest>.sig beside the release in the mirror) is missing or does not verify against "
            f"the cluster's ClusterImagePolicy ({reason}: {message})",
            "Mirror the signature tag with the release: run 'ocp-airgap mirror --plan P' again (it copies "
            "sha256-<digest>.sig; with the oc backend it is copied with 'oc image mirror'), check it with "
            "'ocp-airgap mirror verify --plan P'; the CVO retries by itself.",
        )
    if "adminackrequired" in low:
        return (
            "the cluster is Upgradeable=False because an admin-ack gate is not acknowledged, which refuses a minor "
            f"update ({message})",
            "Do what the gate says, then acknowledge it: 'ocp-airgap fix list --plan P' shows the gate and "
            "'ocp-airgap fix apply adminack/<gate> --acknowledge --plan P' sets it in admin-acks; the CVO retries "
            "by itself.",
        )
    if "cannot be verified" in low or "signature" in low or "keyring" in low:
        return (
            f"the cluster cannot verify the release signature ({reason}: {message})",
            "Apply the release signature ConfigMap: ocp-airgap signature apply --plan P "
            "(the CVO re-reads signature ConfigMaps at most every 30 seconds).",
        )
    if reason == "PreconditionChecks" or "precondition" in low:
        if "upgradeable-to" in low or "missingupgradeableannotation" in low:
            return (
                f"the cluster refuses a minor update while its manually managed cloud credentials are not marked "
                f"ready for it ({message})",
                "Update the cloud provider credentials for the new release, then annotate: oc annotate "
                "cloudcredential cluster cloudcredential.openshift.io/upgradeable-to="
                f"{target_version or '<target version>'} --overwrite; the CVO retries by itself.",
            )
        return (
            f"an update precondition failed ({message})",
            "Fix what the message names (e.g. Upgradeable=False blocks a minor update); the CVO retries by itself.",
        )
    if reason in ("RetrievePayload", "LoadPayload") or "retriev" in low or "pull" in low:
        return (
            f"the cluster cannot retrieve the release image ({reason}: {message})",
            "Check that the release is in the mirror registry (ocp-airgap mirror), that the cluster's global pull "
            "secret holds the mirror's credentials and the mirror CA is trusted by the cluster (ocp-airgap "
            "credentials merge --update-cluster, credentials trust-ca), and that an ImageDigestMirrorSet or "
            "ImageContentSourcePolicy covers the release's repositories (ocp-airgap mirror-config apply).",
        )
    if reason == "VerifyPayloadVersion":
        return (
            f"the release image is not the version asked for ({message})",
            "Check the plan's release.version and release.digest (ocp-airgap release).",
        )
    return (f"the release was not accepted ({reason}: {message})", "Read the message; see 'oc adm upgrade'.")


@dataclass
class Snapshot:
    target: str
    target_version: str
    generation_observed: bool
    desired_image: str
    desired_version: str
    history_head: dict[str, Any]
    progressing: dict[str, Any]
    available: dict[str, Any]
    failing: dict[str, Any]
    release_accepted: dict[str, Any]
    upgradeable: dict[str, Any]
    progress: Progress
    operators: dict[str, dict[str, Any]]
    pools: dict[str, dict[str, Any]]
    nodes: dict[str, dict[str, Any]]
    machines: dict[str, dict[str, Any]]
    payload_pod_signature: str = ""
    """The kubelet's SignatureValidationFailed message of the CVO's release payload pod, when it has one."""

    @property
    def complete(self) -> bool:
        """the ClusterVersion API as the CVO and oc use it: history[0] is the target and Completed, Progressing False, Available True."""
        return (
            self.generation_observed
            and _same_target(str(self.history_head.get("image", "")), self.target)
            and self.history_head.get("state") == "Completed"
            and self.progressing.get("status") == "False"
            and self.available.get("status") == "True"
        )

    @property
    def release_problem(self) -> tuple[str, str] | None:
        """ReleaseAccepted=False about the target, explained with its fix."""
        ra = self.release_accepted
        if ra.get("status") != "False" or not self.generation_observed:
            return None
        message = str(ra.get("message", ""))
        digest = digest_of(self.target)
        if "sha256:" in message and digest and digest not in message:
            return None  # about another image than the one watched
        if self.payload_pod_signature and "SignatureValidationFailed" not in message:
            # a CVO that does not copy the pod's waiting message into ClusterVersion: the pod says why
            ra = {
                **ra,
                "message": f"{message}; payload pod: SignatureValidationFailed: {self.payload_pod_signature}",
            }
        return explain_release_accepted(ra, self.target_version)

    @property
    def cvo_will_retry(self) -> str:
        """Why the CVO will go on by itself although it refused the release, or "".

        A refusal only because of ``Upgradeable=False`` (precondition ClusterVersionUpgradeable) whose cause is
        gone (no ClusterOperator reports ``Upgradeable=False`` any more, e.g. after the cloud-credential
        annotation) is not final: the CVO re-evaluates Upgradeable at most every 2 minutes (every 15 s shortly
        after a precondition failure; cluster-version-operator ``pkg/cvo/upgradeable.go``) and then loads the
        release again on its own."""
        ra = self.release_accepted
        if ra.get("status") != "False" or ra.get("reason") != "PreconditionChecks":
            return ""
        message = str(ra.get("message", ""))
        if '"ClusterVersionUpgradeable"' not in message:
            return ""
        if '"ClusterVersionGiantHop"' in message or '"ClusterVersionRollback"' in message:
            return ""  # those do not go away by waiting
        blocking = sorted(n for n, o in self.operators.items() if o.get("upgradeable") == "False")
        if blocking:
            return ""
        upg = self.upgradeable
        if upg.get("status") == "False":
            text = str(upg.get("message", ""))
            if not text.startswith(("Cluster operator ", "Multiple cluster operators ")):
                return ""  # blocked by something other than a ClusterOperator (overrides, admin acks...)
            return (
                "no ClusterOperator reports Upgradeable=False any more; the CVO re-evaluates Upgradeable at most "
                "every 2 minutes and then retries the release by itself"
            )
        return "Upgradeable is no longer False; the CVO retries the release by itself"

    @property
    def pools_rolling(self) -> list[str]:
        """Pools (not paused) whose machines are not all updated and ready yet."""
        return sorted(
            name
            for name, p in self.pools.items()
            if not p["paused"]
            and (p["updated"] < p["machines"] or p["ready"] < p["machines"] or p["updating"] == "True")
        )

    @property
    def operators_at_target(self) -> int:
        return sum(1 for o in self.operators.values() if o.get("version") == self.target_version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_version": self.target_version,
            "complete": self.complete,
            "history_head": self.history_head,
            "progressing": self.progressing.get("message", ""),
            "progress": {
                "done": self.progress.done,
                "total": self.progress.total,
                "percent": self.progress.percent,
                "message": self.progress.message,
            },
            "operators_at_target": self.operators_at_target,
            "operators": len(self.operators),
            "pools": self.pools,
            "nodes": self.nodes,
            "machines": sorted(self.machines),
        }


def _co_version(co: dict[str, Any]) -> str:
    for v in (co.get("status") or {}).get("versions") or []:
        if v.get("name") == "operator":
            return str(v.get("version", ""))
    return ""


def snapshot(cluster: Cluster, target: str, target_version: str = "") -> Snapshot:
    cv = cluster.cluster_version()
    status = cv.get("status") or {}
    desired = status.get("desired") or {}
    spec_update = (cv.get("spec") or {}).get("desiredUpdate") or {}
    history = status.get("history") or []
    observed = int(status.get("observedGeneration", 0) or 0) >= int(cv["metadata"].get("generation", 0) or 0)
    version = target_version or str(spec_update.get("version") or "")
    if not version and _same_target(str(desired.get("image", "")), target):
        version = str(desired.get("version", ""))
    prog = condition(cv, "Progressing") or {}
    operators = {
        co["metadata"]["name"]: {
            "version": _co_version(co),
            "available": (condition(co, "Available") or {}).get("status", ""),
            "progressing": (condition(co, "Progressing") or {}).get("status", ""),
            "degraded": (condition(co, "Degraded") or {}).get("status", ""),
            "upgradeable": (condition(co, "Upgradeable") or {}).get("status", ""),
        }
        for co in cluster.list(CLUSTER_OPERATOR)
    }
    pools = {}
    for mcp in cluster.list(MCP):
        st = mcp.get("status") or {}
        pools[mcp["metadata"]["name"]] = {
            "machines": int(st.get("machineCount", 0) or 0),
            "updated": int(st.get("updatedMachineCount", 0) or 0),
            "ready": int(st.get("readyMachineCount", 0) or 0),
            "degraded": int(st.get("degradedMachineCount", 0) or 0),
            "paused": bool((mcp.get("spec") or {}).get("paused")),
            "updating": (condition(mcp, "Updating") or {}).get("status", ""),
            "degraded_message": (condition(mcp, "Degraded") or {}).get("message", "")
            if (condition(mcp, "Degraded") or {}).get("status") == "True"
            else "",
        }
    nodes = {}
    for node in cluster.list(NODE):
        ready = (condition(node, "Ready") or {}).get("status", "Unknown")
        nodes[node["metadata"]["name"]] = {
            "ready": ready == "True",
            "schedulable": not (node.get("spec") or {}).get("unschedulable"),
            "kubelet": ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""),
        }
    machines = {
        m["metadata"]["name"]: {
            "phase": (m.get("status") or {}).get("phase", ""),
            "uid": m["metadata"].get("uid", ""),
        }
        # without the Machine API capability there is no Machine resource to follow
        for m in (cluster.list(MACHINE, MACHINE_NAMESPACE) if machine_api_enabled(cv) else [])
    }
    ra = condition(cv, "ReleaseAccepted") or {}
    pod_signature = ""
    if ra.get("status") == "False" and ra.get("reason") == "RetrievePayload":
        from engine.sigstore import payload_pod_signature_failure

        pod_signature = payload_pod_signature_failure(cluster)
    return Snapshot(
        payload_pod_signature=pod_signature,
        target=target,
        target_version=version,
        generation_observed=observed,
        desired_image=str(desired.get("image", "")),
        desired_version=str(desired.get("version", "")),
        history_head=dict(history[0]) if history else {},
        progressing=prog,
        available=condition(cv, "Available") or {},
        failing=condition(cv, "Failing") or {},
        release_accepted=condition(cv, "ReleaseAccepted") or {},
        upgradeable=condition(cv, "Upgradeable") or {},
        progress=parse_progressing(str(prog.get("message", "")))
        if prog.get("status") == "True"
        else Progress(),
        operators=operators,
        pools=pools,
        nodes=nodes,
        machines=machines,
    )


def watch_target(ctx: Context) -> tuple[str, str]:
    """What to watch: the update the ClusterVersion asks for (re-attach), else the plan's target."""
    cv = ctx.cluster.cluster_version()
    spec_update = (cv.get("spec") or {}).get("desiredUpdate") or {}
    image = str(spec_update.get("image") or "")
    version = str(spec_update.get("version") or "")
    plan_image = ""
    if ctx.plan.release.digest and ctx.plan.mirror.registry:
        plan_image = ctx.plan.mirror_pullspec()
    if not image:
        if not plan_image:
            raise InputError(
                "no update has been requested and the plan names no target",
                fix="Start one with 'ocp-airgap upgrade start --plan P'.",
            )
        desired = str(((cv.get("status") or {}).get("desired") or {}).get("image") or "")
        if not _same_target(desired, plan_image):
            raise NotReady(
                f"there is nothing to watch: no update has been requested (the cluster runs "
                f"{current_version(cv) or desired or 'its installed release'} and its ClusterVersion asks for "
                "no update)",
                fix="Start the update first: ocp-airgap upgrade start --plan P (then watch it, or add --watch).",
            )
        image = plan_image
    elif plan_image and not _same_target(image, plan_image):
        ctx.emit.warning(f"the cluster is updating to {image}, not to the plan's target {plan_image}")
    if not version and _same_target(image, plan_image):
        version = ctx.plan.release.version
    return image, version


def _emit_differences(ctx: Context, old: Snapshot | None, new: Snapshot) -> None:
    emit = ctx.emit
    prev_prog = old.progressing.get("message") if old else None
    if new.progressing.get("message") != prev_prog and new.progressing.get("message"):
        emit.info(f"Progressing={new.progressing.get('status')}: {new.progressing.get('message')}")
    if new.progress.total and (
        old is None or (old.progress.done, old.progress.total) != (new.progress.done, new.progress.total)
    ):
        emit.progress(new.progress.done or 0, new.progress.total, "manifests", "cluster version")
    failing_changed = old is None or new.failing.get("message") != old.failing.get("message")
    if failing_changed and new.failing.get("status") == "True":
        emit.warning(
            f"Failing=True: {new.failing.get('reason', '')}: {new.failing.get('message', '')} "
            "(the CVO keeps retrying; see the fix in its message)"
        )
    if old is None or new.release_accepted.get("message") != old.release_accepted.get("message"):
        ra = new.release_accepted
        if ra:
            emit.info(f"ReleaseAccepted={ra.get('status')}: {ra.get('message', '')}")
    if old is None or new.history_head != old.history_head:
        h = new.history_head
        if h:
            emit.info(
                f"history: {h.get('state', '')} {h.get('version', '') or h.get('image', '')}"
                f" (verified: {h.get('verified', False)})"
            )
    for name, co in sorted(new.operators.items()):
        before = old.operators.get(name) if old else None
        if before is not None and before.get("version") != co.get("version"):
            emit.info(f"clusteroperator/{name} is now at {co.get('version')}")
        if co.get("degraded") == "True" and (before is None or before.get("degraded") != "True"):
            emit.warning(f"clusteroperator/{name} is Degraded")
    if (
        new.target_version
        and new.operators
        and (old is None or old.operators_at_target != new.operators_at_target)
    ):
        emit.progress(
            new.operators_at_target, len(new.operators), "operators", f"operators at {new.target_version}"
        )
    for name, pool in sorted(new.pools.items()):
        before = old.pools.get(name) if old else None
        if before != pool:
            emit.info(
                f"machineconfigpool/{name}: {pool['updated']}/{pool['machines']} updated, "
                f"{pool['ready']}/{pool['machines']} ready"
                + (f", {pool['degraded']} degraded" if pool["degraded"] else "")
            )
            if pool["paused"] and (before is None or not before.get("paused")):
                emit.warning(f"Outdated nodes in a paused pool '{name}' will not be updated")
            if pool["degraded_message"] and (
                before is None or before.get("degraded_message") != pool["degraded_message"]
            ):
                hint = (
                    " A PodDisruptionBudget that allows no disruption blocks the drain: relax it, or move its "
                    "pods (see 'ocp-airgap preflight')."
                    if "drain" in pool["degraded_message"].lower()
                    else ""
                )
                emit.warning(f"machineconfigpool/{name} is Degraded: {pool['degraded_message']}.{hint}")
    for name, node in sorted(new.nodes.items()):
        before = old.nodes.get(name) if old else None
        if before is not None and (before["ready"], before["schedulable"]) != (
            node["ready"],
            node["schedulable"],
        ):
            state = ("Ready" if node["ready"] else "NotReady") + (
                "" if node["schedulable"] else ",SchedulingDisabled"
            )
            emit.info(f"node/{name} {state}")
    if old is not None:
        for name in sorted(set(old.machines) - set(new.machines)):
            emit.warning(
                f"machine/{name} was deleted during the update: a MachineHealthCheck may have remediated it"
            )
        for name in sorted(set(new.machines) - set(old.machines)):
            emit.info(f"machine/{name} was created")


def watch(
    ctx: Context,
    *,
    timeout: float = 0.0,
    interval: float = 2.0,
    problem_grace: float = 120.0,
    wait_pools: bool = True,
) -> Snapshot:
    """Follow the update until it completes. Returns the final snapshot.

    A ``ReleaseAccepted=False`` about the target is explained with its fix at once; if it is still there after
    ``problem_grace`` seconds (the CVO retries by itself, and re-reads signature ConfigMaps at most every 30 s)
    the watch gives up with :class:`UpdateBlocked` (:class:`~engine.errors.SignatureError` for a signature that
    cannot be verified). Raises :class:`NotReady` when ``timeout`` (seconds, 0 = none) passes first and
    :class:`~engine.errors.Cancelled` when cancelled. With ``wait_pools`` the watch also waits, after the cluster
    version is Completed (the CVO does not wait for worker pools), until every pool that is not paused has all
    its machines updated and ready: until then nodes still reboot and the MachineHealthChecks must stay paused."""
    cluster = ctx.cluster
    emit = ctx.emit
    image, version = watch_target(ctx)
    emit.command(["oc", *cluster.oc_args(), "adm", "upgrade"], note="the same status, by hand")
    emit.info(f"Watching the update to {version or image}.")
    journal = ctx.journal
    if journal.step_status(STEP) != "running" and journal.last("change", STEP) is None:
        journal.step_started(STEP, image=image, digest=digest_of(image), reattached=True)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    last: Snapshot | None = None
    reported_problem = ""
    problem_since: float | None = None
    retry_announced = ""
    retry_since: float | None = None
    announced_pools = False
    while True:
        ctx.check_cancel()
        snap = snapshot(cluster, image, version)
        _emit_differences(ctx, last, snap)
        last = snap
        if snap.complete:
            rolling = snap.pools_rolling if wait_pools else []
            if not rolling:
                summary = f"the cluster is at {snap.history_head.get('version') or image}: update Completed"
                journal.step_finished(
                    STEP, "succeeded", summary, image=image, version=snap.history_head.get("version", "")
                )
                emit.info(summary)
                held = paused_by_tool(journal)
                if held:
                    emit.info(
                        "The update is complete: resume the MachineHealthChecks ocp-airgap paused "
                        f"({', '.join(held)}): ocp-airgap mhc resume --plan P"
                    )
                return snap
            if not announced_pools:
                announced_pools = True
                emit.info(
                    "The cluster version update is Completed; waiting for the pools still rolling out "
                    f"({', '.join(rolling)}): their nodes are still rebooting, so the MachineHealthChecks "
                    "must stay paused until they are done."
                )
        problem = snap.release_problem
        if problem is None:
            problem_since = None
            retry_since = None
        else:
            text, fix = problem
            now = time.monotonic()
            if problem_since is None:
                problem_since = now
            if text != reported_problem:
                journal.note(STEP, f"ReleaseAccepted=False: {text}", fix=fix)
                reported_problem = text
                if problem_grace > 0:
                    emit.error(f"{text}\nFix: {fix}")
            retry = snap.cvo_will_retry
            give_up_at = problem_since + problem_grace
            if retry:
                # the cause is fixed: the CVO will go on by itself, do not declare the update blocked yet
                if retry_since is None:
                    retry_since = now
                if retry != retry_announced:
                    emit.info(f"The cause of the refusal is gone: {retry}. Waiting.")
                    journal.note(STEP, f"waiting for the CVO: {retry}")
                    retry_announced = retry
                give_up_at = max(give_up_at, retry_since + CVO_CATCH_UP_SECONDS)
            else:
                retry_since = None
            if now >= give_up_at:
                if "signature" in text:
                    raise SignatureError(text, fix=fix)
                raise UpdateBlocked(text, fix=fix)
        if deadline is not None and time.monotonic() > deadline:
            if snap.complete:
                where = "the cluster version is Completed but pools are still rolling out: " + ", ".join(
                    f"{n} ({snap.pools[n]['updated']}/{snap.pools[n]['machines']} updated"
                    + (
                        f"; Degraded: {snap.pools[n]['degraded_message']}"
                        if snap.pools[n]["degraded_message"]
                        else ""
                    )
                    + ")"
                    for n in snap.pools_rolling
                )
            else:
                where = str(snap.progressing.get("message") or "waiting for the CVO")
            raise NotReady(
                f"the update to {version or image} is not complete yet: {where}",
                fix="Run 'ocp-airgap upgrade watch --plan P' again to re-attach.",
            )
        ctx.cancel.wait(interval)
