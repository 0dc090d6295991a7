"""The simulated Operator Lifecycle Manager and marketplace operator.

Each behaviour is written from the real source first:

- **Marketplace default sources** (openshift/operator-marketplace ``pkg/defaults``: ``ensureCatsrc``,
  ``processCatsrc``, ``ensureCatsrcPresent``/``ensureCatsrcAbsent``, ``AreCatsrcSpecsEqual``). The operator keeps
  ``redhat-operators``, ``certified-operators``, ``community-operators`` and ``redhat-marketplace`` as its
  defaults directory says: a default source that is missing is created, one whose spec differs (sourceType,
  image, address, displayName, publisher, or updateStrategy present/absent) is reset and annotated
  ``operatorframework.io/managed-by: marketplace-operator``. When the ``OperatorHub`` ``cluster`` disables a source
  (``spec.disableAllDefaultSources``, overridden per source by ``spec.sources[].disabled``), the source is deleted,
  but only if it carries that annotation: a same-named CatalogSource created by the admin is left alone.
- **CatalogSource content**: the catalog pod runs the index image (``opm serve /configs``); the lab pulls it as the
  node would (by digest through ImageDigestMirrorSets/ICSPs, by tag through ImageTagMirrorSets, else from its own
  registry when the cluster can reach it) and reads the file-based catalog from the directory the image's label
  ``operators.operatorframework.io.index.configs.v1`` names. Its connection state (READY / TRANSIENT_FAILURE) is
  set by the catalog-source checker in :mod:`.cvo`.
- **Subscriptions** (operator-lifecycle-manager ``pkg/controller/registry/resolver``, automatic approval): the
  next bundle in the subscribed channel is one whose entry replaces the installed CSV, lists it in ``skips``, or
  whose ``skipRange`` contains its version; the newest such bundle is installed, one step at a time, until the
  channel head (``status.state`` ``AtLatestKnown``, otherwise ``UpgradePending``). Required packages
  (``olm.package.required``) are installed with their own Subscription (named
  ``<package>-<channel>-<catalog>-<catalog namespace>`` as OLM names them); if none satisfies the range the
  Subscription gets ``ResolutionFailed``. The bundle image and the operator image must be pullable through the
  cluster's mirror configuration, else ``BundleUnpackFailed`` (as the unpack job fails on a real cluster).
  A CSV is created from the bundle's CSV metadata (annotations, including ``olm.properties``); the replaced CSV is
  deleted.
- **OLM ClusterOperator Upgradeable** (operator-lifecycle-manager ``pkg/controller/operators/openshift``:
  ``clusteroperator_controller.go`` ``setUpgradeable``, ``helpers.go`` ``incompatibleOperators``, ``nextY`` and
  ``maxOpenShiftVersion``, as shipped from OpenShift 4.9 until the 4.22 rewording): ``next`` is the ClusterVersion's
  ``status.desired.version`` with Y+1 and Z=0 (a pre-release only drops its pre-release part); every non-copied CSV
  whose ``olm.properties`` annotation holds one ``olm.maxOpenShiftVersion`` (``<major>.<minor>`` only) lower than
  ``next`` blocks, with reason ``IncompatibleOperatorsInstalled`` and the message "ClusterServiceVersions blocking
  cluster upgrade: <ns>/<csv> is incompatible with OpenShift minor versions greater than <max>" (invalid properties
  listed first as "<ns>/<csv> has invalid olm.maxOpenShiftVersion properties: <why>", joined with ",").
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .config import ClusterConfig
from .initial import CATALOGSOURCE, CLUSTEROPERATOR, CLUSTERVERSION, ICSP, IDMS
from .payload import PayloadError, RegistryClient, _files_from_layers, image_exists, parse_ref
from .resources import BY_KEY, condition
from .store import Store, now_iso

log = logging.getLogger("sandbox.apiserver.olm")
Obj = dict[str, Any]

OPERATORHUB = BY_KEY["operatorhubs.config.openshift.io"]
SUBSCRIPTION = BY_KEY["subscriptions.operators.coreos.com"]
CSV = BY_KEY["clusterserviceversions.operators.coreos.com"]
ITMS = BY_KEY["imagetagmirrorsets.config.openshift.io"]
CLUSTERCATALOG = BY_KEY["clustercatalogs.olm.operatorframework.io"]
MARKETPLACE_NS = "openshift-marketplace"
MANAGED_BY = "operatorframework.io/managed-by"
MANAGED_BY_VALUE = "marketplace-operator"
CONFIGS_LABEL = "operators.operatorframework.io.index.configs.v1"
STEP_SECONDS = 30.0
"""Simulated seconds one install/upgrade step takes (bundle unpack, install plan, CSV succeeded)."""

DEFAULT_DISPLAY = {
    "redhat-operators": "Red Hat Operators",
    "certified-operators": "Certified Operators",
    "community-operators": "Community Operators",
    "redhat-marketplace": "Red Hat Marketplace",
}


# ----------------------------------------------------------------------------------------- initial objects
def seed(store: Store, cluster: ClusterConfig) -> None:
    """OperatorHub ``cluster`` (defaults enabled, as installed) and the installed operators."""
    when = now_iso()
    store.upsert(OPERATORHUB, {"metadata": {"name": "cluster", "creationTimestamp": when}, "spec": {}})
    from .initial import NAMESPACE

    for op in (cluster.olm or {}).get("installed") or []:
        ns, pkg, csv_name = op["namespace"], op["package"], op["csv"]
        if store.find(NAMESPACE, None, ns) is None:
            store.upsert(
                NAMESPACE,
                {
                    "metadata": {"name": ns, "creationTimestamp": when},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
        store.upsert(
            SUBSCRIPTION,
            {
                "metadata": {"name": pkg, "namespace": ns, "creationTimestamp": when},
                "spec": {
                    "channel": op["channel"],
                    "name": pkg,
                    "source": op.get("source", "redhat-operators"),
                    "sourceNamespace": MARKETPLACE_NS,
                    "installPlanApproval": "Automatic",
                },
                "status": {
                    "installedCSV": csv_name,
                    "currentCSV": csv_name,
                    "state": "AtLatestKnown",
                    "lastUpdated": when,
                },
            },
        )
        store.upsert(
            CSV, _csv_object(ns, csv_name, op["version"], op.get("replaces", ""), op["annotations"], when)
        )


def _csv_object(
    ns: str, name: str, version: str, replaces: str, annotations: dict[str, str], when: str
) -> Obj:
    spec: Obj = {"version": version, "displayName": name.split(".v")[0]}
    if replaces:
        spec["replaces"] = replaces
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": dict(annotations),
            "creationTimestamp": when,
        },
        "spec": spec,
        "status": {
            "phase": "Succeeded",
            "reason": "InstallSucceeded",
            "message": "install strategy completed with no errors",
        },
    }


# ----------------------------------------------------------------------------------------- semver (blang)
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def _ver(text: str) -> tuple[int, int, int, int]:
    m = _SEMVER.match(str(text).strip())
    if not m:
        raise ValueError(f"invalid semver {text!r}")
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), 0 if m.group(4) else 1)


def _range_ok(version: str, expr: str) -> bool:
    v = _ver(version)
    for alt in expr.split("||"):
        parts = alt.split()
        ok = bool(parts)
        for p in parts:
            m = re.match(r"^(>=|<=|>|<|=|==|!=)?(.+)$", p)
            assert m
            op, w = m.group(1) or "=", _ver(m.group(2))
            ok = (
                ok
                and {
                    ">=": v >= w,
                    "<=": v <= w,
                    ">": v > w,
                    "<": v < w,
                    "=": v == w,
                    "==": v == w,
                    "!=": v != w,
                }[op]
            )
        if ok:
            return True
    return False


# ----------------------------------------------------------------------------------------- pulling
def _rules(store: Store, digest: bool) -> list[tuple[str, list[str]]]:
    rules: list[tuple[str, list[str]]] = []
    if digest:
        for icsp in store.list(ICSP)[0]:
            for r in (icsp.get("spec") or {}).get("repositoryDigestMirrors") or []:
                rules.append((r.get("source", ""), list(r.get("mirrors") or [])))
        for idms in store.list(IDMS)[0]:
            for r in (idms.get("spec") or {}).get("imageDigestMirrors") or []:
                rules.append((r.get("source", ""), list(r.get("mirrors") or [])))
    else:
        for itms in store.list(ITMS)[0]:
            for r in (itms.get("spec") or {}).get("imageTagMirrors") or []:
                rules.append((r.get("source", ""), list(r.get("mirrors") or [])))
    return [(s, m) for s, m in rules if s]


def _candidates(store: Store, cluster: ClusterConfig, image: str) -> list[Any]:
    """Where the node would pull ``image`` from (containers-registries.conf semantics as the MCO writes them:
    digest mirrors only for pulls by digest, tag mirrors only for pulls by tag; the source last, if reachable)."""
    from .cvo import reachable

    ref = parse_ref(image)
    out = []
    for source, mirrors in _rules(store, bool(ref.digest)):
        full = ref.name
        if full == source or full.startswith(source.rstrip("/") + "/"):
            suffix = full[len(source.rstrip("/")) :]
            for m in mirrors:
                cand = parse_ref(
                    m.rstrip("/") + suffix + (f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}")
                )
                if cand not in out and reachable(cluster, cand.registry):
                    out.append(cand)
    if reachable(cluster, ref.registry):
        out.append(ref)
    return out


def pullable(store: Store, cluster: ClusterConfig, image: str) -> str:
    """'' when the node can pull ``image``, else why not."""
    from .cvo import pull_secret_of, trusted_cas

    cands = _candidates(store, cluster, image)
    if not cands:
        return f"no mirror configured for {image} and its registry is not reachable from the cluster"
    errors = []
    for c in cands:
        try:
            with RegistryClient(pull_secret_of(store), trusted_cas(store, c.registry)) as client:
                image_exists(c, client)
            return ""
        except PayloadError as exc:
            errors.append(str(exc))
    return "; ".join(errors)


def load_index(store: Store, cluster: ClusterConfig, image: str) -> dict[str, Any]:
    """Pull the index image and read its file-based catalog: package → {default, channels, bundles}."""
    from .cvo import pull_secret_of, trusted_cas

    last = "not pullable"
    for c in _candidates(store, cluster, image):
        try:
            with RegistryClient(pull_secret_of(store), trusted_cas(store, c.registry)) as client:
                manifest, _media, _digest = client.manifest(c)
                if manifest.get("manifests"):  # an index: take the amd64 image
                    child = next(
                        (
                            m
                            for m in manifest["manifests"]
                            if (m.get("platform") or {}).get("architecture") == "amd64"
                        ),
                        manifest["manifests"][0],
                    )
                    manifest, _media, _digest = client.manifest(c, child["digest"])
                config = json.loads(client.blob(c, manifest["config"]["digest"]))
                root = (
                    ((config.get("config") or {}).get("Labels") or {})
                    .get(CONFIGS_LABEL, "/configs")
                    .strip("/")
                )
                layers = [client.blob(c, layer["digest"]) for layer in manifest.get("layers") or []]
            return _parse_configs(layers, root)
        except (PayloadError, ValueError, KeyError) as exc:
            last = str(exc)
    raise PayloadError("CatalogSource", last)


def _parse_configs(layers: list[bytes], root: str) -> dict[str, Any]:
    import io
    import tarfile

    names: set[str] = set()
    for data in layers:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                names.update(m.name.removeprefix("./") for m in tf if m.isfile())
        except tarfile.TarError:
            continue
    wanted = {n for n in names if n.startswith(root + "/") and n.endswith(".json")}
    files = _files_from_layers(layers, wanted)
    objs: list[Obj] = []
    dec = json.JSONDecoder()
    for name in sorted(files):
        text = files[name].decode()
        i = 0
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            obj, i = dec.raw_decode(text, i)
            objs.append(obj)
    pkgs: dict[str, Any] = {}
    for o in objs:
        if o.get("schema") == "olm.package":
            pkgs[o["name"]] = {"default": o.get("defaultChannel", ""), "channels": {}, "bundles": {}}
    for o in objs:
        p = pkgs.get(o.get("package", ""))
        if p is None:
            continue
        if o.get("schema") == "olm.channel":
            p["channels"][o["name"]] = o.get("entries") or []
        elif o.get("schema") == "olm.bundle":
            p["bundles"][o["name"]] = o
    return pkgs


def _bundle_version(b: Obj) -> str:
    for p in b.get("properties") or []:
        if p.get("type") == "olm.package":
            return str((p.get("value") or {}).get("version", "0.0.0"))
    return "0.0.0"


# ----------------------------------------------------------------------------------------- the controller
@dataclass
class OlmOperators:
    store: Store
    cluster: ClusterConfig
    _content: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _loading: set[tuple[str, str, str]] = field(default_factory=set)
    _load_errors: dict[tuple[str, str, str], tuple[str, float]] = field(default_factory=dict)
    _next_step: dict[tuple[str, str], float] = field(default_factory=dict)
    _cc_tried: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reconcile(self, now: float) -> None:
        if not self.cluster.olm:
            return
        self._marketplace()
        self._catalogs(now)
        self._subscriptions(now)
        self._olm_upgradeable()
        self._cluster_catalogs(now)

    # ---- marketplace operator
    def _marketplace(self) -> None:
        hub = self.store.find(OPERATORHUB, None, "cluster")
        spec = (hub or {}).get("spec") or {}
        disable_all = bool(spec.get("disableAllDefaultSources"))
        per = {
            s.get("name"): bool(s.get("disabled")) for s in spec.get("sources") or [] if isinstance(s, dict)
        }
        statuses = []
        for name, image in ((self.cluster.olm or {}).get("default_sources") or {}).items():
            disabled = per.get(name, disable_all)
            want = {
                "sourceType": "grpc",
                "image": image,
                "displayName": DEFAULT_DISPLAY.get(name, name),
                "publisher": "Red Hat",
                "updateStrategy": {"registryPoll": {"interval": "10m"}},
            }
            have = self.store.find(CATALOGSOURCE, MARKETPLACE_NS, name)
            annotated = ((have or {}).get("metadata", {}).get("annotations") or {}).get(
                MANAGED_BY
            ) == MANAGED_BY_VALUE
            if disabled:
                if have is not None and annotated:
                    self.store.delete(CATALOGSOURCE, MARKETPLACE_NS, name)
                    log.info("marketplace: deleting CatalogSource %s", name)
            elif have is None:
                self.store.upsert(
                    CATALOGSOURCE,
                    {
                        "metadata": {
                            "name": name,
                            "namespace": MARKETPLACE_NS,
                            "annotations": {MANAGED_BY: MANAGED_BY_VALUE},
                        },
                        "spec": want,
                    },
                )
            elif not (annotated and _shallow_equal(want, have.get("spec") or {})):

                def reset(o: Obj, want: Obj = want) -> None:
                    o["spec"] = dict(want)
                    o["metadata"].setdefault("annotations", {})[MANAGED_BY] = MANAGED_BY_VALUE
                    o.pop("status", None)

                self.store.mutate(CATALOGSOURCE, MARKETPLACE_NS, name, reset)
                log.info("marketplace: restoring CatalogSource %s", name)
            statuses.append({"name": name, "disabled": disabled, "status": "Success"})
        if hub is not None and (hub.get("status") or {}).get("sources") != statuses:

            def st(o: Obj) -> None:
                o["status"] = {"sources": statuses}

            self.store.mutate(OPERATORHUB, None, "cluster", st)

    # ---- catalog content
    def _catalogs(self, now: float) -> None:
        for cs in self.store.list(CATALOGSOURCE)[0]:
            state = ((cs.get("status") or {}).get("connectionState") or {}).get("lastObservedState")
            image = (cs.get("spec") or {}).get("image", "")
            key = (cs["metadata"]["namespace"], cs["metadata"]["name"], image)
            if state != "READY" or not image:
                continue
            with self._lock:
                if key in self._content or key in self._loading:
                    continue
                err = self._load_errors.get(key)
                if err and now - err[1] < 60:
                    continue
                self._loading.add(key)
            threading.Thread(target=self._load, args=(key, now), daemon=True).start()

    def _load(self, key: tuple[str, str, str], now: float) -> None:
        try:
            content = load_index(self.store, self.cluster, key[2])
            with self._lock:
                self._content[key] = content
        except Exception as exc:  # noqa: BLE001 - reported on the Subscriptions
            with self._lock:
                self._load_errors[key] = (str(exc), now)
        finally:
            with self._lock:
                self._loading.discard(key)

    def content_for(self, ns: str, name: str) -> dict[str, Any] | None:
        cs = self.store.find(CATALOGSOURCE, ns, name)
        if cs is None:
            return None
        state = ((cs.get("status") or {}).get("connectionState") or {}).get("lastObservedState")
        if state != "READY":
            return None
        with self._lock:
            found: dict[str, Any] | None = self._content.get(
                (ns, name, (cs.get("spec") or {}).get("image", ""))
            )
            return found

    # ---- subscriptions
    def _subscriptions(self, now: float) -> None:
        for sub in self.store.list(SUBSCRIPTION)[0]:
            self._resolve(sub, now)

    def _set_sub(self, sub: Obj, **status: Any) -> None:
        ns, name = sub["metadata"]["namespace"], sub["metadata"]["name"]
        conds: list[Obj] = status.pop("conditions", None) or []

        def apply(o: Obj) -> None:
            st = dict(o.get("status") or {})
            changed = any(st.get(k) != v for k, v in status.items())
            st.update(status)
            old = {c.get("type"): c for c in st.get("conditions") or []}
            new = []
            for c in conds:
                prev = old.get(c["type"])
                if prev and prev.get("status") == c["status"] and prev.get("message") == c.get("message"):
                    new.append(prev)
                else:
                    new.append({**c, "lastTransitionTime": now_iso()})
            st["conditions"] = new
            if changed:
                st["lastUpdated"] = now_iso()
            o["status"] = st

        self.store.mutate(SUBSCRIPTION, ns, name, apply)

    def _resolve(self, sub: Obj, now: float) -> None:
        spec = sub.get("spec") or {}
        st = sub.get("status") or {}
        ns = sub["metadata"]["namespace"]
        src, src_ns = spec.get("source", ""), spec.get("sourceNamespace", MARKETPLACE_NS)
        cs = self.store.find(CATALOGSOURCE, src_ns, src)
        health = [
            {
                "catalogSourceRef": {"name": src, "namespace": src_ns, "kind": "CatalogSource"},
                "healthy": (((cs or {}).get("status") or {}).get("connectionState") or {}).get(
                    "lastObservedState"
                )
                == "READY",
                "lastUpdated": now_iso(),
            }
        ]
        content = self.content_for(src_ns, src)
        if content is None:
            why = "not found" if cs is None else "unhealthy"
            self._set_sub(
                sub,
                catalogHealth=[{**health[0], "lastUpdated": st.get("lastUpdated", now_iso())}],
                conditions=[
                    {
                        "type": "CatalogSourcesUnhealthy",
                        "status": "True",
                        "reason": "UnhealthyCatalogSourceFound",
                        "message": f"targeted catalogsource {src_ns}/{src} {why}",
                    }
                ],
            )
            return
        healthy = {
            "type": "CatalogSourcesUnhealthy",
            "status": "False",
            "reason": "AllCatalogSourcesHealthy",
            "message": "all available catalogsources are healthy",
        }
        pkg = content.get(spec.get("name", ""))
        if pkg is None:
            self._set_sub(
                sub,
                conditions=[
                    healthy,
                    {
                        "type": "ResolutionFailed",
                        "status": "True",
                        "reason": "ConstraintsNotSatisfiable",
                        "message": f"no operators found in package {spec.get('name')} in the catalog referenced by subscription {sub['metadata']['name']}",
                    },
                ],
            )
            return
        channel = spec.get("channel") or pkg["default"]
        entries = pkg["channels"].get(channel)
        if entries is None:
            self._set_sub(
                sub,
                conditions=[
                    healthy,
                    {
                        "type": "ResolutionFailed",
                        "status": "True",
                        "reason": "ConstraintsNotSatisfiable",
                        "message": f"no operators found in channel {channel} of package {spec.get('name')} in the catalog referenced by subscription {sub['metadata']['name']}",
                    },
                ],
            )
            return
        installed = st.get("installedCSV", "")
        nxt = self._next(pkg, entries, installed)
        if nxt is None:
            self._set_sub(sub, state="AtLatestKnown", currentCSV=installed, conditions=[healthy])
            return
        key = (ns, sub["metadata"]["name"])
        due = self._next_step.setdefault(key, now + STEP_SECONDS)
        self._set_sub(sub, state="UpgradePending", currentCSV=nxt["name"], conditions=[healthy])
        if now < due:
            return
        self._next_step.pop(key, None)
        problem = self._install(ns, nxt, content, src, src_ns, installed)
        if problem:
            self._set_sub(sub, conditions=[healthy, problem])
            return
        self._set_sub(sub, installedCSV=nxt["name"], currentCSV=nxt["name"], conditions=[healthy])

    @staticmethod
    def _next(pkg: dict[str, Any], entries: list[Obj], installed: str) -> Obj | None:
        names = {e["name"] for e in entries}
        if not installed:
            heads = (
                names
                - {e.get("replaces") for e in entries}
                - {s for e in entries for s in e.get("skips") or []}
            )
            head = sorted(heads)[0] if heads else None
            return pkg["bundles"].get(head) if head else None
        inst_b = next((b for b in pkg["bundles"].values() if b["name"] == installed), None)
        inst_v = _bundle_version(inst_b) if inst_b else installed.rsplit(".v", 1)[-1]
        cands = []
        for e in entries:
            if e["name"] == installed:
                continue
            hit = e.get("replaces") == installed or installed in (e.get("skips") or [])
            if not hit and e.get("skipRange"):
                try:
                    hit = _range_ok(inst_v, e["skipRange"])
                except ValueError:
                    hit = False
            if hit and e["name"] in pkg["bundles"]:
                cands.append(pkg["bundles"][e["name"]])
        if not cands:
            return None
        best: Obj = max(cands, key=lambda b: _ver(_bundle_version(b)))
        return best

    def _install(
        self, ns: str, bundle: Obj, content: dict[str, Any], src: str, src_ns: str, replaced: str
    ) -> Obj | None:
        # dependencies first (olm.package.required)
        for p in bundle.get("properties") or []:
            if p.get("type") != "olm.package.required":
                continue
            dep, rng = p["value"].get("packageName", ""), p["value"].get("versionRange", "")
            have = [
                c
                for c in self.store.list(CSV, ns)[0]
                if c["metadata"]["name"].startswith(dep + ".v")
                and _range_ok(c["spec"].get("version", "0.0.0"), rng or ">=0.0.0")
            ]
            if have:
                continue
            dpkg: dict[str, Any] = content.get(dep) or {}
            ok = dpkg and any(
                _range_ok(_bundle_version(b), rng or ">=0.0.0") for b in dpkg["bundles"].values()
            )
            if not ok:
                return {
                    "type": "ResolutionFailed",
                    "status": "True",
                    "reason": "ConstraintsNotSatisfiable",
                    "message": f"constraints not satisfiable: bundle {bundle['name']} requires an operator with "
                    f"package: {dep} and with version in range: {rng}, no operators found in package {dep} in "
                    f"the catalog referenced by subscription",
                }
            dsub = f"{dep}-{dpkg['default']}-{src}-{src_ns}"
            if self.store.find(SUBSCRIPTION, ns, dsub) is None:
                self.store.upsert(
                    SUBSCRIPTION,
                    {
                        "metadata": {"name": dsub, "namespace": ns},
                        "spec": {
                            "channel": dpkg["default"],
                            "name": dep,
                            "source": src,
                            "sourceNamespace": src_ns,
                            "installPlanApproval": "Automatic",
                        },
                    },
                )
        for image in [bundle.get("image", "")] + [
            r.get("image", "") for r in bundle.get("relatedImages") or []
        ]:
            if not image:
                continue
            why = pullable(self.store, self.cluster, image)
            if why:
                return {
                    "type": "BundleUnpackFailed",
                    "status": "True",
                    "reason": "BundleUnpackFailed",
                    "message": f"bundle unpacking failed: pulling {image}: {why}",
                }
        annotations: dict[str, str] = {}
        for p in bundle.get("properties") or []:
            if p.get("type") == "olm.csv.metadata":
                annotations.update((p.get("value") or {}).get("annotations") or {})
        version = _bundle_version(bundle)
        entry_replaces = replaced
        self.store.upsert(
            CSV, _csv_object(ns, bundle["name"], version, entry_replaces, annotations, now_iso())
        )
        if replaced and replaced != bundle["name"] and self.store.find(CSV, ns, replaced) is not None:
            self.store.delete(CSV, ns, replaced)
        log.info("olm: installed %s in %s (replacing %s)", bundle["name"], ns, replaced or "nothing")
        return None

    # ---- OLM v1 catalogd (operator-framework/operator-controller, the ClusterCatalog controller's
    # updateStatusProgressing / updateStatusServing / updateStatusNotServing): content pulled from
    # spec.source.image.ref through the mirror configuration; Serving=True reason Available and Progressing=True
    # reason Succeeded with the resolved source by digest, or Serving=False reason Unavailable and Progressing=True
    # reason Retrying with the error.
    def _cluster_catalogs(self, now: float) -> None:
        for cc in self.store.list(CLUSTERCATALOG)[0]:
            ref = str((((cc.get("spec") or {}).get("source") or {}).get("image") or {}).get("ref") or "")
            have = ((cc.get("status") or {}).get("resolvedSource") or {}).get("image", {}).get("ref")
            name = cc["metadata"]["name"]
            tried = self._cc_tried.get(name)
            if not ref or ref == have or (tried and tried[0] == ref and now - tried[1] < 60):
                continue  # serving it, or tried it less than a minute ago (catalogd retries with backoff)
            self._cc_tried[name] = (ref, now)
            why = pullable(self.store, self.cluster, ref)
            gen = cc["metadata"].get("generation", 1)

            def apply(o: Obj, why: str = why, ref: str = ref, gen: int = gen) -> None:
                now = now_iso()
                if why:
                    o["status"] = {
                        "conditions": [
                            {
                                "type": "Progressing",
                                "status": "True",
                                "reason": "Retrying",
                                "message": why,
                                "lastTransitionTime": now,
                                "observedGeneration": gen,
                            },
                            {
                                "type": "Serving",
                                "status": "False",
                                "reason": "Unavailable",
                                "message": "",
                                "lastTransitionTime": now,
                                "observedGeneration": gen,
                            },
                        ]
                    }
                    return
                o["status"] = {
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "Succeeded",
                            "message": "Successfully unpacked and stored content from resolved source",
                            "lastTransitionTime": now,
                            "observedGeneration": gen,
                        },
                        {
                            "type": "Serving",
                            "status": "True",
                            "reason": "Available",
                            "message": "Serving desired content from resolved source",
                            "lastTransitionTime": now,
                            "observedGeneration": gen,
                        },
                    ],
                    "resolvedSource": {"type": "Image", "image": {"ref": ref}},
                    "lastUnpacked": now,
                }

            self.store.mutate(CLUSTERCATALOG, None, cc["metadata"]["name"], apply)

    # ---- operator-lifecycle-manager ClusterOperator Upgradeable
    def _olm_upgradeable(self) -> None:
        cv = self.store.find(CLUSTERVERSION, None, "version")
        desired = (((cv or {}).get("status") or {}).get("desired") or {}).get("version", "")
        status, reason, message = "True", "", ""
        try:
            nxt = next_y(desired)
        except ValueError as exc:
            status, reason = "False", "ErrorCheckingOperatorCompatibility"
            message = f"Encountered errors while checking compatibility with the next minor version of OpenShift: {exc}"
        else:
            errs, skews = [], []
            for csv in self.store.list(CSV)[0]:
                if (csv["metadata"].get("labels") or {}).get("olm.copiedFrom"):
                    continue  # csv.IsCopied()
                ns, name = csv["metadata"]["namespace"], csv["metadata"]["name"]
                try:
                    mx = max_openshift_version(
                        (csv["metadata"].get("annotations") or {}).get("olm.properties")
                    )
                except ValueError as exc:
                    errs.append(f"{ns}/{name} has invalid olm.maxOpenShiftVersion properties: {exc}")
                    continue
                if mx is None or mx >= nxt:
                    continue
                skews.append(
                    f"{ns}/{name} is incompatible with OpenShift minor versions greater than {mx[0]}.{mx[1]}"
                )
            if errs or skews:
                status, reason = "False", "IncompatibleOperatorsInstalled"
                # skews.String(): error skews first, the others after them in reverse order, joined with ","
                message = "ClusterServiceVersions blocking cluster upgrade: " + ",".join(errs + skews[::-1])
        co = self.store.find(CLUSTEROPERATOR, None, "operator-lifecycle-manager")
        if co is None:
            return
        have = condition(co, "Upgradeable")
        if (
            have.get("status") == status
            and have.get("message", "") == message
            and have.get("reason", "") == reason
        ):
            return
        from .cvo import set_condition

        def apply(o: Obj) -> None:
            st = o.setdefault("status", {})
            st["conditions"] = set_condition(
                st.get("conditions") or [], "Upgradeable", status, reason, message
            )

        self.store.mutate(CLUSTEROPERATOR, None, "operator-lifecycle-manager", apply)


def next_y(desired: str) -> tuple[int, int, int, int]:
    """helpers.go desiredRelease + nextY: ``status.desired.version`` parsed tolerantly; a pre-release drops its
    pre-release part and patch (already the next Y), otherwise Y+1 and Z=0."""
    if not desired:
        raise ValueError("desired release version missing from ClusterVersion")
    m = _SEMVER.match(desired.strip())
    if not m:
        raise ValueError(f"cluster version has invalid desired release version: {desired}")
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if m.group(4):
        return (major, minor, 0, 1)
    return (major, minor + 1, 0, 1)


def max_openshift_version(annotation: str | None) -> tuple[int, int, int, int] | None:
    """helpers.go maxOpenShiftVersion: from the CSV's ``olm.properties`` annotation; more than one property, an
    empty value, an unparsable value or one with a patch part is an error."""
    if not annotation:
        return None
    try:
        props = json.loads(annotation)
    except ValueError as exc:
        raise ValueError(f"failed to unmarshal properties annotation: {exc}") from None
    values = [
        p.get("value") for p in props if isinstance(p, dict) and p.get("type") == "olm.maxOpenShiftVersion"
    ]
    if not values:
        return None
    if len(values) > 1:
        raise ValueError('defining more than one "olm.maxOpenShiftVersion" property is not allowed')
    raw = json.dumps(values[0]) if not isinstance(values[0], str) else values[0]
    value = raw.strip('"')
    if value == "":
        raise ValueError('value cannot be "" (an empty string)')
    m = _SEMVER.match(value)
    if not m:
        raise ValueError(f'failed to parse "{value}" as semver')
    v = (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))
    if v[2] or m.group(4):
        raise ValueError(
            f"property olm.maxOpenShiftVersion must specify only <major>.<minor> version, got invalid value {value}"
        )
    return (v[0], v[1], 0, 1)


def _semver_string(text: str) -> str:
    """blang's Version.String() of a tolerant parse: "4.16" → "4.16.0"."""
    m = _SEMVER.match(text.strip())
    if not m:
        return text
    s = f"{int(m.group(1))}.{int(m.group(2) or 0)}.{int(m.group(3) or 0)}"
    return s + (f"-{m.group(4)}" if m.group(4) else "")


def _shallow_equal(want: Obj, have: Obj) -> bool:
    """AreCatsrcSpecsEqual's shallow comparison (case-insensitive fields; updateStrategy only present/absent)."""
    for k in ("sourceType", "configMap", "address", "displayName", "publisher", "image"):
        if str(want.get(k) or "").lower() != str(have.get(k) or "").lower():
            return False
    return bool(want.get("updateStrategy")) == bool(have.get("updateStrategy"))


__all__ = ["OlmOperators", "load_index", "pullable", "seed"]
