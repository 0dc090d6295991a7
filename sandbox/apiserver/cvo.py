"""Simulated Cluster Version Operator and a few small operators.

The CVO reacts to ``spec.desiredUpdate`` of ClusterVersion ``version`` the way the real one does
(cluster-version-operator ``pkg/cvo``): verify the release signature (unless forced), retrieve the payload
through the cluster's mirrors with the global pull secret, load ``release-metadata`` / ``image-references``,
check the version and the ``Upgradeable`` precondition, then report ``ReleaseAccepted``, push a ``Partial``
history entry and walk the ClusterOperators to the new version with the real ``Progressing`` messages;
machine-config is last and rolls the pools; the update completes when the control plane pool is done."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import sigpolicy
from .clock import SimClock
from .config import ClusterConfig
from .initial import (
    CATALOGSOURCE,
    CCO_MESSAGE,
    CLOUDCREDENTIAL,
    CLUSTER_OPERATORS,
    CLUSTEROPERATOR,
    CLUSTERVERSION,
    CONFIGMAP,
    EVENT,
    ICSP,
    IDMS,
    IMAGECONFIG,
    SECRET,
    UPGRADEABLE_ANNOTATION,
    channels_for,
    cond,
    cv_upgradeable_condition,
    release_url,
    retrieved_updates_condition,
)
from .machines import MachineControllers
from .payload import (
    PayloadError,
    RegistryClient,
    ReleasePayload,
    image_exists,
    load_release,
    mirror_candidates,
    parse_ref,
)
from .resources import condition
from .signatures import SignatureVerifier
from .store import Store, now_iso
from .versions import kube_version, minor_of

log = logging.getLogger("sandbox.apiserver.cvo")
Obj = dict[str, Any]

TOTAL_MANIFESTS = 903
RETRY_SECONDS = 30.0  # simulated seconds between two attempts to load a payload that failed
# How often the CVO re-evaluates its Upgradeable condition (cluster-version-operator pkg/cvo/upgradeable.go,
# defaultUpgradeableCheckIntervals and throttlePeriod): at most every 2 minutes, every 15 seconds during the
# 2 minutes after ReleaseAccepted turned False for a precondition failure. Simulated seconds (the lab clock).
UPGRADEABLE_MIN_SECONDS = 120.0
UPGRADEABLE_MIN_ON_FAILED_PRECONDITIONS_SECONDS = 15.0
UPGRADEABLE_AFTER_PRECONDITIONS_FAILED_SECONDS = 120.0
# simulated seconds each ClusterOperator takes to roll out (machine-config waits for the control plane pool)
CO_SECONDS: dict[str, float] = {
    "etcd": 240,
    "kube-apiserver": 420,
    "kube-controller-manager": 180,
    "kube-scheduler": 120,
    "openshift-apiserver": 150,
    "cloud-credential": 60,
    "machine-api": 90,
    "authentication": 120,
    "network": 240,
    "dns": 90,
    "ingress": 120,
    "image-registry": 90,
    "monitoring": 180,
    "console": 90,
    "marketplace": 60,
}


# --------------------------------------------------------------------------------------------- helpers


def set_condition(
    conditions: list[Obj], ctype: str, status: str, reason: str = "", message: str = ""
) -> list[Obj]:
    """Replace condition ``ctype``; lastTransitionTime only moves when the status changes."""
    out = [dict(c) for c in conditions]
    for c in out:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = now_iso()
            c["status"] = status
            c.pop("reason", None)
            c.pop("message", None)
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            return out
    out.append(cond(ctype, status, reason, message))
    return out


def remove_condition(conditions: list[Obj], ctype: str) -> list[Obj]:
    return [c for c in conditions if c.get("type") != ctype]


def pull_secret_of(store: Store) -> dict[str, Any]:
    secret = store.find(SECRET, "openshift-config", "pull-secret")
    raw = ((secret or {}).get("data") or {}).get(".dockerconfigjson", "")
    try:
        doc = json.loads(base64.b64decode(raw)) if raw else {}
    except ValueError:
        doc = {}
    return doc if isinstance(doc, dict) else {}


def trusted_cas(store: Store, registry: str) -> list[str]:
    """user-ca-bundle plus the image.config additionalTrustedCA entry for ``registry`` (``host..port`` key)."""
    pems: list[str] = []
    bundle = store.find(CONFIGMAP, "openshift-config", "user-ca-bundle")
    if bundle:
        pems.append(((bundle.get("data") or {}).get("ca-bundle.crt")) or "")
    image = store.find(IMAGECONFIG, None, "cluster")
    ref = (((image or {}).get("spec") or {}).get("additionalTrustedCA") or {}).get("name")
    if ref:
        cm = store.find(CONFIGMAP, "openshift-config", ref)
        data = (cm or {}).get("data") or {}
        key = registry.replace(":", "..")
        for k in (key, registry.split(":")[0]):
            if data.get(k):
                pems.append(data[k])
    return pems


def mirror_rules(store: Store) -> list[tuple[str, list[str]]]:
    rules: list[tuple[str, list[str]]] = []
    for icsp in store.list(ICSP)[0]:
        for r in (icsp.get("spec") or {}).get("repositoryDigestMirrors") or []:
            rules.append((r.get("source", ""), list(r.get("mirrors") or [])))
    for idms in store.list(IDMS)[0]:
        for r in (idms.get("spec") or {}).get("imageDigestMirrors") or []:
            rules.append((r.get("source", ""), list(r.get("mirrors") or [])))
    return [(s, m) for s, m in rules if s]


def reachable(cluster: ClusterConfig, registry: str) -> bool:
    """The disconnected cluster reaches the mirror registry (and explicitly listed ones), nothing else."""
    allowed = {cluster.mirror_registry, *cluster.reachable_registries} - {""}
    return registry in allowed and registry != cluster.upstream_registry


def locate_and_load(store: Store, cluster: ClusterConfig, image: str) -> ReleasePayload:
    """Resolve ``image`` as CRI-O would on the cluster and load the release payload from it."""
    ref = parse_ref(image)
    candidates = []
    if reachable(cluster, ref.registry):
        candidates.append(ref)
    candidates += [c for c in mirror_candidates(ref, mirror_rules(store)) if c not in candidates]
    if not candidates:
        raise PayloadError(
            "RetrievePayload",
            f'pinging container registry {ref.registry}: Get "https://{ref.registry}/v2/": dial tcp {ref.registry}: '
            "i/o timeout (the cluster is disconnected and no ImageContentSourcePolicy or ImageDigestMirrorSet "
            f"mirrors {ref.name})",
        )
    errors: list[str] = []
    secret = pull_secret_of(store)
    last_step = "RetrievePayload"
    for cand in candidates:
        if not reachable(cluster, cand.registry):
            errors.append(
                f'pinging container registry {cand.registry}: Get "https://{cand.registry}/v2/": '
                f"dial tcp {cand.registry}: i/o timeout"
            )
            continue
        with RegistryClient(secret, trusted_cas(store, cand.registry)) as client:
            try:
                payload = load_release(cand, client, image)
                # CRI-O verifies the Sigstore signature in the repository it pulled from (sigpolicy.py)
                sigpolicy.check_pull(store, ref, cand, client)
                return payload
            except sigpolicy.SignatureValidationFailed:
                raise
            except PayloadError as exc:
                if exc.step != "RetrievePayload":
                    raise
                last_step = exc.step
                errors.append(exc.message)
    if len(errors) == 1:
        raise PayloadError(last_step, errors[0])
    raise PayloadError(last_step, "; ".join(f"({i + 1}) {e}" for i, e in enumerate(errors)))


# --------------------------------------------------------------------------------------------- CVO


@dataclass
class Attempt:
    key: tuple[str, str, bool]
    image: str
    version: str
    force: bool
    started: float
    running: bool = True
    error_step: str = ""
    error: str = ""
    result: ReleasePayload | None = None
    verified: bool = False
    forced_message: str = ""
    next_retry: float = 0.0
    generation: int = 0


@dataclass
class ActiveUpdate:
    version: str
    image: str
    started: float
    verified: bool
    co_index: int = 0
    co_started: float = 0.0
    machine_config_started: bool = False
    done: bool = False


@dataclass
class ClusterVersionOperator:
    store: Store
    cluster: ClusterConfig
    clock: SimClock
    machines: MachineControllers
    stop_event: threading.Event
    verifier: SignatureVerifier = field(init=False)
    current_version: str = field(init=False)
    current_image: str = field(init=False)
    attempt: Attempt | None = None
    active: ActiveUpdate | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _payloads: dict[str, ReleasePayload] = field(default_factory=dict)
    _last_failure: str = ""

    def __post_init__(self) -> None:
        self.verifier = SignatureVerifier(self.store)
        self.current_version = self.cluster.current_version
        self.current_image = self.cluster.current_image

    def stop(self) -> None:
        for t in self._threads:
            t.join(0.5)

    # ------------------------------------------------------------------ helpers
    def _cv(self) -> Obj | None:
        return self.store.find(CLUSTERVERSION, None, "version")

    def _update_cv(self, fn: Any) -> None:
        self.store.mutate(CLUSTERVERSION, None, "version", fn)

    def _event(self, reason: str, message: str, etype: str = "Normal") -> None:
        now = now_iso()
        self.store.upsert(
            EVENT,
            {
                "metadata": {
                    "name": f"version.{uuid.uuid4().hex[:16]}",
                    "namespace": "openshift-cluster-version",
                },
                "involvedObject": {
                    "kind": "ClusterVersion",
                    "name": "version",
                    "apiVersion": "config.openshift.io/v1",
                },
                "reason": reason,
                "message": message,
                "type": etype,
                "source": {"component": "openshift-cluster-version-operator"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    # ------------------------------------------------------------------ tick
    def reconcile(self, now: float) -> None:
        cv = self._cv()
        if cv is None:
            return
        desired = (cv.get("spec") or {}).get("desiredUpdate") or None
        self._observed_generation(cv)
        target = self._resolve(cv, desired)
        if target is not None:
            self._handle_target(cv, target, now)
        elif self.attempt is not None and not self.attempt.running:
            # desiredUpdate cleared (or no longer valid) while a load was failing: back to the current payload
            self.attempt = None
            self._release_accepted_current()
        with self._lock:
            attempt = self.attempt
        if attempt is not None and not attempt.running and attempt.result is not None:
            self._accept(attempt, now)
        if self.active is not None:
            self._progress(now)

    def _observed_generation(self, cv: Obj) -> None:
        gen = cv["metadata"].get("generation", 1)
        if (cv.get("status") or {}).get("observedGeneration") != gen:
            self._update_cv(lambda o: o.setdefault("status", {}).__setitem__("observedGeneration", gen))

    def _resolve(self, cv: Obj, desired: Obj | None) -> tuple[str, str, bool] | None:
        """(image, version, force) the CVO should move to, or None. Sets ``Invalid`` for a bad desiredUpdate."""
        if not desired or not isinstance(desired, dict):
            self._set_invalid(None)
            return None
        image = str(desired.get("image") or "")
        version = str(desired.get("version") or "")
        force = bool(desired.get("force"))
        if not image and not version:
            self._set_invalid(
                "spec.desiredUpdate: Required value: must specify architecture, version, or image"
            )
            return None
        if not image:
            if version == self.current_version and self.active is None:
                self._set_invalid(None)
                return None
            available = (cv.get("status") or {}).get("availableUpdates") or []
            match = next((u for u in available if u.get("version") == version), None)
            history = next(
                (h for h in (cv.get("status") or {}).get("history") or [] if h.get("version") == version),
                None,
            )
            if match is None and history is None:
                self._set_invalid(
                    f'spec.desiredUpdate.version: Invalid value: "{version}": when image is empty the '
                    "update must be a previous version or an available update"
                )
                return None
            image = (match or history or {}).get("image", "")
        self._set_invalid(None)
        return image, version, force

    def _set_invalid(self, message: str | None) -> None:
        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            conds = st.get("conditions") or []
            if message is None:
                st["conditions"] = remove_condition(conds, "Invalid")
            else:
                st["conditions"] = set_condition(
                    conds,
                    "Invalid",
                    "True",
                    "InvalidClusterVersion",
                    f"The cluster version is invalid: {message}",
                )

        cv = self._cv()
        has = bool(cv and condition(cv, "Invalid"))
        if message is None and not has:
            return
        self._update_cv(apply)

    def _handle_target(self, cv: Obj, target: tuple[str, str, bool], now: float) -> None:
        image, version, force = target
        if self.active is not None and self.active.image == image:
            return
        if self.active is None and image == self.current_image:
            if self.attempt is not None:
                self.attempt = None
                self._release_accepted_current()
            return
        with self._lock:
            attempt = self.attempt
            if attempt is not None and attempt.key == target:
                if attempt.running or attempt.result is not None or now < attempt.next_retry:
                    return
                attempt.running = True
                self._start_load(attempt, now)
                return
            self.attempt = Attempt(target, image, version, force, now)
            attempt = self.attempt
        self._update_cv(
            lambda o: o["status"].__setitem__(
                "conditions",
                set_condition(
                    o["status"].get("conditions") or [],
                    "ReleaseAccepted",
                    "Unknown",
                    "RetrievePayload",
                    f'Retrieving and verifying payload version="{version}" image="{image}"',
                ),
            )
        )
        log.info("cvo: desired update version=%r image=%r force=%s", version, image, force)
        self._start_load(attempt, now)

    def _start_load(self, attempt: Attempt, now: float) -> None:
        t = threading.Thread(target=self._load, args=(attempt, now), name="cvo-load", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _load(self, attempt: Attempt, now: float) -> None:
        try:
            self._load_inner(attempt, now)
        except Exception as exc:  # pragma: no cover - defensive
            log.exception("cvo: payload load crashed")
            self._fail(
                attempt,
                "RetrievePayload",
                f'Retrieving payload failed version="{attempt.version}" '
                f'image="{attempt.image}" failure={exc}',
                now,
            )

    def _load_inner(self, attempt: Attempt, now: float) -> None:
        image, version = attempt.image, attempt.version
        digest = image.rsplit("@", 1)[1] if "@" in image else ""
        if not digest:
            failure = "release images that are not accessed via digest cannot be verified"
        else:
            failure = self.verifier.verify(digest, self.clock.now()) or ""
        verified = not failure
        forced = ""
        if failure:
            text = f"The update cannot be verified: {failure}"
            if not attempt.force:
                self._fail(
                    attempt,
                    "RetrievePayload",
                    f'Retrieving payload failed version="{version}" image="{image}" failure={text}',
                    now,
                )
                return
            forced = (
                f'Target release version="{version}" image="{image}" cannot be verified, but continuing anyway '
                f"because the update was forced: {text}"
            )
        try:
            payload = self._payloads.get(image) or locate_and_load(self.store, self.cluster, image)
            sigpolicy.prune_payload_pods(self.store)  # a failed retrieval's pod goes with the next one
            self._payloads[image] = payload
        except PayloadError as exc:
            if isinstance(exc, sigpolicy.SignatureValidationFailed):
                exc = PayloadError(exc.step, sigpolicy.record_payload_pod(self.store, version, image, exc))
            if exc.step == "LoadPayload":
                msg = f'Loading payload failed version="{version}" image="{image}" failure={exc.message}'
            else:
                msg = (
                    f'Retrieving payload failed version="{version}" image="{image}" failure=Unable to download and '
                    f"prepare the update: {exc.message}"
                )
            self._fail(attempt, exc.step, msg, now)
            return
        if version and payload.version != version:
            self._fail(
                attempt,
                "VerifyPayloadVersion",
                f'Verifying payload failed version="{version}" image="{image}" failure=release image version '
                f"{payload.version} does not match the expected upstream version {version}",
                now,
            )
            return
        block, precondition = self._preconditions(payload.version, attempt.force)
        if block:
            self._event(
                "PreconditionBlock",
                f'Preconditions failed for payload loaded version="{payload.version}" image="{image}": '
                f"{precondition}",
                "Warning",
            )
            self._fail(
                attempt,
                "PreconditionChecks",
                f'Preconditions failed for payload loaded version="{payload.version}" image="{image}": '
                f"{precondition}",
                now,
            )
            return
        if precondition:
            # sync_worker.go syncPayload: a warning (or a forced failure) is an event, the update goes on
            self._event(
                "PreconditionWarn",
                f'precondition warning for payload loaded version="{payload.version}" image="{image}": '
                f"{precondition}",
                "Warning",
            )
        with self._lock:
            attempt.result = payload
            attempt.verified = verified
            attempt.forced_message = forced
            attempt.running = False

    def _preconditions(self, target_version: str, force: bool) -> tuple[bool, str]:
        """The CVO's payload preconditions, in its order (cluster-version-operator ``pkg/cvo/cvo.go``
        ``New``: Rollback, GiantHop, Upgradeable, RecommendedUpdate; each in
        ``pkg/payload/precondition/clusterversion/``), summarized as ``precondition.Summarize`` does: one
        failure is ``Precondition "<name>" failed because of "<reason>": <message>``, several are
        ``Multiple precondition checks failed:\n* ...``; blocking unless every failure is a non-blocking warning
        (RecommendedUpdate), and ``force`` turns a blocking summary into ``Forced through blocking failures: ...``.
        Returns (block, summary)."""
        cv = self._cv() or {}
        st = cv.get("status") or {}
        # the version being reconciled (status.desired), not the last completed one
        current = str((st.get("desired") or {}).get("version") or self.current_version)
        failures: list[tuple[str, str, str, bool]] = []  # name, reason, message, non-blocking
        for check in (self._rollback, self._giant_hop, self._upgradeable, self._recommended):
            found = check(cv, current, target_version)
            if found is not None:
                failures.append(found)
        if not failures:
            return False, ""
        msgs = [f'Precondition "{n}" failed because of "{r}": {m}' for n, r, m, _ in failures]
        msg = msgs[0] if len(msgs) == 1 else "Multiple precondition checks failed:\n* " + "\n* ".join(msgs)
        warning = all(w for *_, w in failures)
        if force and not warning:
            return False, f"Forced through blocking failures: {msg}"
        return not warning, msg

    @staticmethod
    def _semver(version: str) -> tuple[int, int, int] | None:
        core = version.split("-", 1)[0].split("+", 1)[0].split(".")
        try:
            return (int(core[0]), int(core[1]), int(core[2]))
        except (IndexError, ValueError):
            return None

    def _rollback(self, cv: Obj, current: str, target: str) -> tuple[str, str, str, bool] | None:
        """``rollback.go``: a lower version is only allowed back to the previous history entry, within a z-stream."""
        cur, tgt = self._semver(current), self._semver(target)
        if cur is None or tgt is None or not tgt < cur:
            return None
        name = "ClusterVersionRollback"
        st = cv.get("status") or {}
        desired_image = (st.get("desired") or {}).get("image")
        previous: tuple[str, str] | None = None
        for entry in st.get("history") or []:
            if entry.get("version") != current or entry.get("image") != desired_image:
                if self._semver(str(entry.get("version", ""))) is not None:
                    previous = (str(entry["version"]), str(entry.get("image", "")))
                break
        if previous is None:
            return (
                name,
                "LowDesiredVersion",
                f"{target} is less than the current target {current}, and the cluster has no previous Semantic "
                "Version",
                False,
            )
        if previous[0] != target:
            return (
                name,
                "LowDesiredVersion",
                f"{target} is less than the current target {current}, and the only supported rollback is to the "
                f"cluster's previous version {previous[0]} ({previous[1]})",
                False,
            )
        prev = self._semver(previous[0])
        if prev is not None and prev[:2] == cur[:2]:
            return None
        return (
            name,
            "LowDesiredVersion",
            f"{target} is less than the current target {current} and matches the cluster's previous version, but "
            "rollbacks that change major or minor versions are not recommended",
            False,
        )

    def _giant_hop(self, cv: Obj, current: str, target: str) -> tuple[str, str, str, bool] | None:
        """``gianthop.go``: more than one minor version at once (or a new major) is refused."""
        cur, tgt = self._semver(current), self._semver(target)
        if cur is None or tgt is None:
            return None
        name = "ClusterVersionGiantHop"
        if tgt[0] > cur[0]:
            return (
                name,
                "MajorVersionUpdate",
                f"{target} has a larger major version than the current target {current} ({tgt[0]} > {cur[0]}), "
                "and only updates within the current major version are supported.",
                False,
            )
        if tgt[1] > cur[1] + 1:
            return (
                name,
                "MultipleMinorVersionsUpdate",
                f"{target} is more than one minor version beyond the current target {current} "
                f"({tgt[0]}.{tgt[1]} > {cur[0]}.({cur[1]}+1)), and only updates within the current minor version "
                "or to the next minor version are supported.",
                False,
            )
        return None

    def _upgradeable(self, cv: Obj, current: str, target: str) -> tuple[str, str, str, bool] | None:
        """``upgradeable.go``: Upgradeable=False blocks a minor (or major) update; a z-stream update passes."""
        cur, tgt = minor_of(self.current_version), minor_of(target)
        if cur is None or tgt is None or cur == tgt:
            return None
        upg = condition(cv, "Upgradeable")
        if upg.get("status") != "False":
            return None
        return ("ClusterVersionUpgradeable", str(upg.get("reason", "")), str(upg.get("message", "")), False)

    def _recommended(self, cv: Obj, current: str, target: str) -> tuple[str, str, str, bool] | None:
        """``recommendedupdate.go``: a warning (never blocking) when the target is not a recommended update."""
        st = cv.get("status") or {}
        name = "ClusterVersionRecommendedUpdate"
        if any(u.get("version") == target for u in st.get("availableUpdates") or []):
            return None
        for entry in st.get("conditionalUpdates") or []:
            if (entry.get("release") or {}).get("version") != target:
                continue
            rec = next((c for c in entry.get("conditions") or [] if c.get("type") == "Recommended"), None)
            if rec is None:
                return (
                    name,
                    "UnknownConditionType",
                    f"Update from {current} to {target} has a status.conditionalUpdates entry, but no Recommended "
                    "condition.",
                    True,
                )
            if rec.get("status") == "True":
                return None
            if rec.get("status") == "False":
                return (
                    name,
                    str(rec.get("reason", "")),
                    f"Update from {current} to {target} is not recommended:\n\n{rec.get('message', '')}",
                    True,
                )
            return (
                name,
                str(rec.get("reason", "")),
                f"Update from {current} to {target} is Recommended={rec.get('status')}: {rec.get('reason', '')}: "
                f"{rec.get('message', '')}",
                True,
            )
        if not (cv.get("spec") or {}).get("channel"):
            return (
                name,
                "NoChannel",
                f"Configured channel is unset, so the recommended status of updating from {current} to {target} is "
                "unknown.",
                True,
            )
        retrieved = condition(cv, "RetrievedUpdates")
        if not retrieved:
            msg = f"No RetrievedUpdates, so the recommended status of updating from {current} to {target} is unknown."
        elif retrieved.get("status") == "True":
            msg = (
                f"RetrievedUpdates=True ({retrieved.get('reason', '')}), so the update from {current} to {target} is "
                "probably neither recommended nor supported."
            )
        else:
            msg = (
                f"RetrievedUpdates={retrieved.get('status')} ({retrieved.get('reason', '')}), so the recommended "
                f"status of updating from {current} to {target} is unknown."
            )
        return (name, "UnknownUpdate", msg, True)

    def _fail(self, attempt: Attempt, step: str, message: str, now: float) -> None:
        with self._lock:
            attempt.error_step = step
            attempt.error = message
            attempt.running = False
            attempt.next_retry = self.clock.now() + RETRY_SECONDS
            if self.attempt is not attempt:
                return
        first_line = message.splitlines()[0]
        if first_line != self._last_failure:
            log.info("cvo: %s: %s", step, first_line)
            self._last_failure = first_line

        def apply(o: Obj) -> None:
            st = o["status"]
            st["conditions"] = set_condition(
                st.get("conditions") or [], "ReleaseAccepted", "False", step, message
            )

        self._update_cv(apply)

    def _release_accepted_current(self) -> None:
        version, image = self.current_version, self.current_image
        if self.active is not None:
            version, image = self.active.version, self.active.image
        msg = f'Payload loaded version="{version}" image="{image}" architecture="amd64"'
        self._update_cv(
            lambda o: o["status"].__setitem__(
                "conditions",
                set_condition(
                    o["status"].get("conditions") or [], "ReleaseAccepted", "True", "PayloadLoaded", msg
                ),
            )
        )

    # ------------------------------------------------------------------ accepted: start the update
    def _accept(self, attempt: Attempt, now: float) -> None:
        payload = attempt.result
        assert payload is not None
        self.attempt = None
        if attempt.forced_message:
            self._event("VerifyPayloadFailed", attempt.forced_message, "Warning")
        version = payload.version
        log.info(
            "cvo: payload loaded version=%s image=%s verified=%s", version, attempt.image, attempt.verified
        )
        self.active = ActiveUpdate(version, attempt.image, now, attempt.verified, co_started=now)
        start = now_iso()
        channels = (payload.metadata.get("metadata") or {}).get(
            "io.openshift.upgrades.graph.release.channels"
        )
        url = (payload.metadata.get("metadata") or {}).get("url") or release_url(version)

        def apply(o: Obj) -> None:
            st = o["status"]
            history = st.get("history") or []
            if history and not history[0].get("completionTime"):
                history[0]["completionTime"] = start
            history.insert(
                0,
                {
                    "state": "Partial",
                    "startedTime": start,
                    "completionTime": None,
                    "version": version,
                    "image": attempt.image,
                    "verified": attempt.verified,
                },
            )
            st["history"] = history[:100]
            st["desired"] = {
                "version": version,
                "image": attempt.image,
                "url": url,
                "channels": channels.split(",") if channels else channels_for(version),
            }
            conds = st.get("conditions") or []
            conds = set_condition(
                conds,
                "ReleaseAccepted",
                "True",
                "PayloadLoaded",
                f'Payload loaded version="{version}" image="{attempt.image}" '
                f'architecture="{payload.architecture}"',
            )
            conds = set_condition(conds, "Failing", "False")
            conds = set_condition(
                conds,
                "Progressing",
                "True",
                "",
                f"Working towards {version}: 0 of {TOTAL_MANIFESTS} done (0% complete)",
            )
            st["conditions"] = conds
            st["versionHash"] = (
                base64.urlsafe_b64encode(hashlib.sha256(f"{version}{attempt.image}".encode()).digest()[:8])
                .decode()
                .rstrip("=")
            )

        self._update_cv(apply)

    # ------------------------------------------------------------------ progress
    def _operators(self) -> list[str]:
        # only the operators the cluster has (a disabled capability has none: e.g. machine-api without MachineAPI)
        return [
            name
            for name, _ in CLUSTER_OPERATORS
            if name != "machine-config" and self.store.find(CLUSTEROPERATOR, None, name) is not None
        ]

    def _progress(self, now: float) -> None:
        upd = self.active
        assert upd is not None
        ops = self._operators()
        while upd.co_index < len(ops):
            name = ops[upd.co_index]
            self._co_progressing(name, upd.version)
            if now - upd.co_started < CO_SECONDS.get(name, 90):
                self._progressing_message(upd, upd.co_index / (len(ops) + 1), f"waiting on {name}")
                return
            self._co_done(name, upd.version)
            upd.co_index += 1
            upd.co_started += CO_SECONDS.get(name, 90)
        # machine-config: roll the pools; the operator reports the new version once the control plane is updated
        if not upd.machine_config_started:
            upd.machine_config_started = True
            self._co_progressing("machine-config", upd.version)
            self.machines.begin_rollout(upd.version)
        if not self.machines.pool_done("master", upd.version):
            done, total = self.machines.pool_progress("master", upd.version)
            frac = (len(ops) + (done / total if total else 0) * 0.9) / (len(ops) + 1)
            self._progressing_message(upd, frac, "waiting on machine-config")
            return
        self._co_done("machine-config", upd.version)
        self._complete(upd)

    def _progressing_message(self, upd: ActiveUpdate, fraction: float, waiting: str) -> None:
        done = min(TOTAL_MANIFESTS - 1, int(TOTAL_MANIFESTS * fraction))
        pct = math.trunc(done / TOTAL_MANIFESTS * 100)
        msg = f"Working towards {upd.version}: {done} of {TOTAL_MANIFESTS} done ({pct}% complete), {waiting}"

        def apply(o: Obj) -> None:
            st = o["status"]
            st["conditions"] = set_condition(st.get("conditions") or [], "Progressing", "True", "", msg)

        cv = self._cv()
        if cv and condition(cv, "Progressing").get("message") != msg:
            self._update_cv(apply)

    def _co_progressing(self, name: str, version: str) -> None:
        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            current = next(
                (v.get("version") for v in st.get("versions") or [] if v.get("name") == "operator"), ""
            )
            if current == version:
                return
            st["conditions"] = set_condition(
                st.get("conditions") or [], "Progressing", "True", "Upgrading", f"Working towards {version}"
            )

        self.store.mutate(CLUSTEROPERATOR, None, name, apply)

    def _co_done(self, name: str, version: str) -> None:
        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            versions = []
            for v in st.get("versions") or []:
                v = dict(v)
                if v.get("name") in ("operator", "raw-internal"):
                    v["version"] = version
                elif v.get("name") == name:
                    v["version"] = kube_version(version).split("+")[0][1:]
                versions.append(v)
            st["versions"] = versions
            conds = set_condition(st.get("conditions") or [], "Progressing", "False", "AsExpected")
            if name == "machine-config":
                conds = set_condition(
                    conds, "Available", "True", "AsExpected", f"Cluster has deployed [{version}]"
                )
            st["conditions"] = conds

        self.store.mutate(CLUSTEROPERATOR, None, name, apply)

    def _complete(self, upd: ActiveUpdate) -> None:
        finished = now_iso()

        def apply(o: Obj) -> None:
            st = o["status"]
            history = st.get("history") or []
            if history:
                history[0]["state"] = "Completed"
                history[0]["completionTime"] = finished
            conds = st.get("conditions") or []
            conds = set_condition(conds, "Available", "True", "", f"Done applying {upd.version}")
            conds = set_condition(conds, "Failing", "False")
            conds = set_condition(conds, "Progressing", "False", "", f"Cluster version is {upd.version}")
            st["conditions"] = conds

        self._update_cv(apply)
        self.current_version = upd.version
        self.current_image = upd.image
        self.active = None
        log.info("cvo: update to %s completed", upd.version)


# --------------------------------------------------------------------------------------------- small operators


@dataclass
class SmallOperators:
    """cloud-credential Upgradeable, the ClusterVersion Upgradeable/RetrievedUpdates conditions, and the
    catalog source connection state."""

    store: Store
    cluster: ClusterConfig
    clock: SimClock
    _catalog_checks: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    _catalog_results: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _upgradeable_at: float | None = None
    """simulated time of the last Upgradeable evaluation (None: not yet evaluated)"""
    _upgradeable: Obj | None = None
    """what that evaluation found (None: nothing blocks, the condition is absent)"""
    _precondition_failed_at: float | None = None
    """simulated time ReleaseAccepted turned False with reason PreconditionChecks (its lastTransitionTime)"""
    _admin_ack: tuple[str, str] | None = None
    """the admin-ack check's result at the last evaluation"""

    def reconcile(self, now: float) -> None:
        cv = self.store.find(CLUSTERVERSION, None, "version")
        if cv is None:
            return
        completed = next(
            (
                h.get("version")
                for h in (cv.get("status") or {}).get("history") or []
                if h.get("state") == "Completed"
            ),
            self.cluster.current_version,
        )
        self._cloud_credential(completed)
        sigpolicy.sync_admin_gates(self.store, self.cluster)
        self._release_admin_gates(completed)
        self._cv_conditions(cv, completed, now)
        self._catalogs(now)

    def _cloud_credential(self, completed: str) -> None:
        cc = self.store.find(CLOUDCREDENTIAL, None, "cluster")
        if cc is None:
            return
        mode = (cc.get("spec") or {}).get("credentialsMode", "")
        annotation = (cc["metadata"].get("annotations") or {}).get(UPGRADEABLE_ANNOTATION, "")
        upgradeable = True
        if mode == "Manual":
            # cloud-credential-operator pkg/operator/utils (upgradeable check): "v" prefixed, then
            # golang.org/x/mod/semver MajorMinor, so "4.17", "v4.17" and "4.17.3" all mean 4.17
            m = re.match(r"^v?(\d+)(?:\.(\d+))?", annotation)
            target = (int(m.group(1)), int(m.group(2) or 0)) if m else None
            current = minor_of(completed)
            upgradeable = bool(target and current and target > current)

        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            conds = st.get("conditions") or []
            if upgradeable:
                st["conditions"] = set_condition(conds, "Upgradeable", "True", "AsExpected")
            else:
                st["conditions"] = set_condition(
                    conds, "Upgradeable", "False", "MissingUpgradeableAnnotation", CCO_MESSAGE
                )

        co = self.store.find(CLUSTEROPERATOR, None, "cloud-credential")
        if co is not None and condition(co, "Upgradeable").get("status") != (
            "True" if upgradeable else "False"
        ):
            self.store.mutate(CLUSTEROPERATOR, None, "cloud-credential", apply)

    def _release_admin_gates(self, completed: str) -> None:
        """Feature ``release_admin_gates`` (minor → {gate: text}): the admin gates a release of that minor ships
        are in the admin-gates ConfigMap (openshift-config-managed) while the cluster runs that minor — the CVO
        applies the ConfigMap from the payload it runs (``0000_00_cluster-version-operator_01_admingate_configmap``)
        — and the gates of other minors are gone; gates other parts keep there (the MCO's) are left alone. The
        CVO's AdminAckRequired check itself is :func:`sigpolicy.admin_ack_condition` (feature ``admin_gates``)."""
        table = self.cluster.features.get("release_admin_gates")
        if not isinstance(table, dict):
            return
        cm = self.store.find(CONFIGMAP, "openshift-config-managed", "admin-gates")
        if cm is None:
            return
        minor = minor_of(completed)
        mine = {str(k) for gates in table.values() if isinstance(gates, dict) for k in gates}
        want = dict(table.get(f"{minor[0]}.{minor[1]}", {})) if minor else {}
        have = dict(cm.get("data") or {})
        new = {k: v for k, v in have.items() if k not in mine} | want
        if new != have:

            def apply(o: Obj) -> None:
                o["data"] = dict(new)

            self.store.mutate(CONFIGMAP, "openshift-config-managed", "admin-gates", apply)

    def _upgradeable_throttle(self, cv: Obj, now: float) -> float:
        """upgradeable.go ``throttlePeriod``: 15 s while a precondition failure is recent, else 2 minutes."""
        ra = condition(cv, "ReleaseAccepted")
        failing = ra.get("status") == "False" and ra.get("reason") == "PreconditionChecks"
        if not failing:
            self._precondition_failed_at = None
            return UPGRADEABLE_MIN_SECONDS
        if self._precondition_failed_at is None:
            self._precondition_failed_at = now
        if now < self._precondition_failed_at + UPGRADEABLE_AFTER_PRECONDITIONS_FAILED_SECONDS:
            return UPGRADEABLE_MIN_ON_FAILED_PRECONDITIONS_SECONDS
        return UPGRADEABLE_MIN_SECONDS

    def _cv_conditions(self, cv: Obj, completed: str, now: float) -> None:
        throttle = self._upgradeable_throttle(cv, now)
        ack = sigpolicy.admin_ack_condition(self.store, self.cluster, completed)
        # upgradeable.go adminAcksEventHandler / adminGatesEventHandler: a change of admin-acks or admin-gates
        # re-evaluates at once; everything else waits for the throttle period (syncUpgradeable)
        ack_changed = self._upgradeable_at is not None and ack != self._admin_ack
        if self._upgradeable_at is None or now >= self._upgradeable_at + throttle or ack_changed:
            blocking = []
            for co in self.store.list(CLUSTEROPERATOR)[0]:
                c = condition(co, "Upgradeable")
                if c.get("status") == "False":
                    blocking.append((co["metadata"]["name"], c.get("reason", ""), c.get("message", "")))
            self._upgradeable = sigpolicy.merge_upgradeable(
                cv_upgradeable_condition(blocking, now_iso()), ack, now_iso()
            )
            self._upgradeable_at = now
            self._admin_ack = ack
        want = self._upgradeable
        have = condition(cv, "Upgradeable")
        spec = cv.get("spec") or {}
        rec = retrieved_updates_condition(self.cluster, spec, completed, now_iso())
        have_rec = condition(cv, "RetrievedUpdates")
        same_upg = (want is None and not have) or (
            want is not None
            and have.get("status") == want["status"]
            and have.get("message") == want.get("message")
        )
        same_rec = have_rec.get("message") == rec.get("message") and have_rec.get("reason") == rec.get(
            "reason"
        )
        if same_upg and same_rec:
            return

        def apply(o: Obj) -> None:
            st = o["status"]
            conds = st.get("conditions") or []
            if want is None:
                conds = remove_condition(conds, "Upgradeable")
            else:
                conds = set_condition(
                    conds, "Upgradeable", want["status"], want.get("reason", ""), want.get("message", "")
                )
            conds = set_condition(
                conds, "RetrievedUpdates", rec["status"], rec.get("reason", ""), rec.get("message", "")
            )
            st["conditions"] = conds

        self.store.mutate(CLUSTERVERSION, None, "version", apply)

    def _catalogs(self, now: float) -> None:
        for cs in self.store.list(CATALOGSOURCE)[0]:
            ns, name = cs["metadata"]["namespace"], cs["metadata"]["name"]
            image = (cs.get("spec") or {}).get("image", "")
            key = (ns, name)
            state = ((cs.get("status") or {}).get("connectionState") or {}).get("lastObservedState")
            seen = self._catalog_checks.get(key)
            if seen is None:
                self._catalog_checks[key] = (image, now)
                if state:
                    continue
            elif seen[0] == image:
                with self._lock:
                    result = self._catalog_results.pop((ns, name, image), None)
                if result and result != state:
                    self._set_catalog_state(ns, name, result)
                continue
            self._catalog_checks[key] = (image, now)
            self._set_catalog_state(ns, name, "CONNECTING")
            threading.Thread(target=self._check_catalog, args=(ns, name, image), daemon=True).start()

    def _set_catalog_state(self, ns: str, name: str, state: str) -> None:
        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            conn = dict(st.get("connectionState") or {})
            conn["lastObservedState"] = state
            conn["lastConnect"] = now_iso()
            conn.setdefault("address", f"{name}.{ns}.svc:50051")
            st["connectionState"] = conn

        self.store.mutate(CATALOGSOURCE, ns, name, apply)

    def _check_catalog(self, ns: str, name: str, image: str) -> None:
        ref = parse_ref(image) if image else None
        state = "TRANSIENT_FAILURE"
        if ref is not None:
            candidates = [ref] if reachable(self.cluster, ref.registry) else []
            candidates += mirror_candidates(ref, mirror_rules(self.store))
            secret = pull_secret_of(self.store)
            for cand in candidates:
                if not reachable(self.cluster, cand.registry):
                    continue
                try:
                    with RegistryClient(secret, trusted_cas(self.store, cand.registry)) as client:
                        image_exists(cand, client)
                    state = "READY"
                    break
                except PayloadError:
                    continue
        with self._lock:
            self._catalog_results[(ns, name, image)] = state


__all__ = ["ClusterVersionOperator", "SmallOperators"]
