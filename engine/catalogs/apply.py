"""Point the cluster at the mirrored catalog, the documented disconnected way.

- The marketplace operator owns the default CatalogSources (``redhat-operators``, ``certified-operators``,
  ``community-operators``, ``redhat-marketplace``): an edited one is reset, a deleted one recreated
  (openshift/operator-marketplace ``pkg/defaults``). Only ``OperatorHub`` ``cluster``
  ``spec.disableAllDefaultSources: true`` makes it let go: it then deletes the default sources it manages (those
  annotated ``operatorframework.io/managed-by: marketplace-operator``) and leaves alone a CatalogSource of the
  same name that the admin creates. So a default source the installed Subscriptions use is replaced by a
  CatalogSource of the same name (the Subscriptions keep resolving) pointing at the mirrored index by digest.
- A CatalogSource the admin created is edited in place (its image only).
- An ImageDigestMirrorSet for everything the catalog names by digest (bundles, operator images) and an
  ImageTagMirrorSet for images it names by tag, both named ``ocp-airgap-operators``.
- On OpenShift 4.18 and later (OLM v1), a ``ClusterCatalog`` (``olm.operatorframework.io/v1``) with
  ``spec.source.type: Image`` and ``spec.source.image.ref`` at the same index by digest.

Every change is previewed (:class:`~engine.changes.Change`), confirmed by the caller, journaled with what was there
before, and undone by :func:`prepare_restore`/:func:`restore`.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any

from engine.catalogs.installed import SUBSCRIPTION, list_operators
from engine.changes import Change
from engine.cluster import CATALOG_SOURCE, ICSP, IDMS, Resource, retry_on_conflict
from engine.context import Context
from engine.errors import AirgapError, InputError, NotFound, NotReady
from engine.util import BY_DIGEST, minor_of

STEP = "catalog"
NS = "openshift-marketplace"
NAME = "ocp-airgap-operators"
OPERATORHUB = Resource("config.openshift.io", "v1", "operatorhubs", "OperatorHub", False, "operatorhub")
ITMS = Resource(
    "config.openshift.io", "v1", "imagetagmirrorsets", "ImageTagMirrorSet", False, "imagetagmirrorset"
)
CLUSTER_CATALOG = Resource(
    "olm.operatorframework.io", "v1", "clustercatalogs", "ClusterCatalog", False, "clustercatalog"
)
DEFAULT_SOURCES = ("redhat-operators", "certified-operators", "community-operators", "redhat-marketplace")
MANAGED_BY = "operatorframework.io/managed-by"


@dataclass
class Step:
    kind: str
    """operatorhub | create-catalog | set-image | idms | itms | clustercatalog"""
    resource: Resource
    name: str
    namespace: str | None
    body: dict[str, Any]
    before: dict[str, Any] | None
    change: Change


@dataclass
class ApplyPlan:
    image: str
    steps: list[Step] = field(default_factory=list)
    catalogs: list[str] = field(default_factory=list)
    cluster_catalog: bool = False
    """OLM v1 (4.18+): a ClusterCatalog serves the same index."""

    @property
    def changes(self) -> list[Change]:
        return [s.change for s in self.steps]


def _yaml_cmd(ctx: Context, verb: str, kind: str, name: str, ns: str | None = None) -> list[str]:
    return [
        "oc",
        *ctx.cluster.oc_args(),
        *(["-n", ns] if ns else []),
        verb,
        "-f",
        f"{kind.lower()}-{name}.yaml",
    ]


def _spec_entries(entries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {key: [{"source": e["source"], "mirrors": list(e["mirrors"])} for e in entries]}


def prepare_apply(ctx: Context, record: dict[str, Any], *, name: str = "") -> ApplyPlan:
    image = str(record.get("mirrored_index") or "")
    if not BY_DIGEST.match(image):
        raise InputError(
            f"{image or 'no image'} is not an index image by digest",
            fix="Mirror the catalog first (ocp-airgap catalog mirror), or give --image <registry>/<repo>@sha256:…",
        )
    cluster = ctx.cluster
    plan = ApplyPlan(image)
    body: dict[str, Any]
    before: dict[str, Any]
    # which catalogs the installed operators use
    # the catalogs the installed Subscriptions of the mirrored packages use (a Subscription to a package this
    # catalog does not hold keeps its own catalog)
    mirrored = set(record.get("packages") or [])
    used = sorted(
        {
            o.source
            for o in list_operators(ctx)
            if o.subscription
            and o.source
            and o.source_namespace in ("", NS)
            and (not mirrored or o.package in mirrored)
        }
    )
    if name:
        used = [name]
    if not used:
        used = ["redhat-operators"]
    hub = cluster.get_or_none(OPERATORHUB, "cluster")
    hub_disabled = bool(((hub or {}).get("spec") or {}).get("disableAllDefaultSources"))
    need_hub = False
    for cs_name in used:
        cs = cluster.get_or_none(CATALOG_SOURCE, cs_name, NS)
        managed = ((cs or {}).get("metadata", {}).get("annotations") or {}).get(
            MANAGED_BY
        ) == "marketplace-operator"
        if cs_name in DEFAULT_SOURCES and (cs is None or managed) and not hub_disabled:
            need_hub = True
        if cs is not None and not (cs_name in DEFAULT_SOURCES and managed):
            if (cs.get("spec") or {}).get("image") == image:
                continue
            before = {"spec": {"image": (cs.get("spec") or {}).get("image", "")}}
            body = {"spec": {"image": image}}
            plan.steps.append(
                Step(
                    "set-image",
                    CATALOG_SOURCE,
                    cs_name,
                    NS,
                    body,
                    {"spec": copy.deepcopy(cs.get("spec"))},
                    Change(
                        f"Point CatalogSource {cs_name} at the mirrored catalog",
                        f"catalogsource/{NS}/{cs_name}",
                        before,
                        body,
                        [
                            "oc",
                            *cluster.oc_args(),
                            "-n",
                            NS,
                            "patch",
                            "catalogsource",
                            cs_name,
                            "--type",
                            "merge",
                            "-p",
                            json.dumps(body, separators=(",", ":")),
                        ],
                    ),
                )
            )
        else:
            body = {
                "apiVersion": "operators.coreos.com/v1alpha1",
                "kind": "CatalogSource",
                "metadata": {
                    "name": cs_name,
                    "namespace": NS,
                    "labels": {"app.kubernetes.io/managed-by": "ocp-airgap"},
                },
                "spec": {
                    "sourceType": "grpc",
                    "image": image,
                    "displayName": f"{cs_name} (mirrored)",
                    "publisher": "ocp-airgap",
                    "updateStrategy": {"registryPoll": {"interval": "30m"}},
                },
            }
            plan.steps.append(
                Step(
                    "create-catalog",
                    CATALOG_SOURCE,
                    cs_name,
                    NS,
                    body,
                    None,
                    Change(
                        f"Create CatalogSource {cs_name} with the mirrored catalog (by digest)",
                        f"catalogsource/{NS}/{cs_name}",
                        None,
                        body,
                        _yaml_cmd(ctx, "apply", "CatalogSource", cs_name, NS),
                    ),
                )
            )
        plan.catalogs.append(cs_name)
    if need_hub:
        before_spec = copy.deepcopy((hub or {}).get("spec") or {})
        body = {"spec": {"disableAllDefaultSources": True}}
        plan.steps.insert(
            0,
            Step(
                "operatorhub",
                OPERATORHUB,
                "cluster",
                None,
                body,
                {"spec": before_spec},
                Change(
                    "Disable the default catalog sources (the marketplace operator resets them)",
                    "operatorhub/cluster",
                    {"spec": {"disableAllDefaultSources": bool(before_spec.get("disableAllDefaultSources"))}},
                    body,
                    [
                        "oc",
                        *cluster.oc_args(),
                        "patch",
                        "operatorhub",
                        "cluster",
                        "--type",
                        "merge",
                        "-p",
                        '{"spec":{"disableAllDefaultSources":true}}',
                    ],
                ),
            ),
        )
    cv = cluster.cluster_version()
    version = (((cv.get("status") or {}).get("desired") or {}).get("version")) or ""
    cluster_minor = minor_of(version) or (0, 0)
    sets: list[tuple[str, Resource, list[dict[str, Any]], str]] = [
        ("idms", IDMS, record.get("idms") or [], "imageDigestMirrors"),
        ("itms", ITMS, record.get("itms") or [], "imageTagMirrors"),
    ]
    if cluster_minor < (4, 13):
        # before 4.13 there is no ImageDigestMirrorSet/ImageTagMirrorSet: an ImageContentSourcePolicy (digest pulls
        # only); images the catalog names by tag cannot be redirected on such a cluster
        sets = [("icsp", ICSP, record.get("idms") or [], "repositoryDigestMirrors")]
        if record.get("itms"):
            ctx.emit.warning(
                f"OpenShift {version} has no ImageTagMirrorSet: {len(record['itms'])} image(s) the catalog names "
                "by tag cannot be redirected to the mirror ("
                + ", ".join(e["source"] for e in record["itms"])
                + ")"
            )
    for kind, res, entries, key in sets:
        if not entries:
            continue
        have = cluster.get_or_none(res, NAME)
        spec = _spec_entries(entries, key)
        if have is not None and (have.get("spec") or {}) == spec:
            continue
        body = {
            "apiVersion": res.api_version,
            "kind": res.kind,
            "metadata": {"name": NAME},
            "spec": spec,
        }
        plan.steps.append(
            Step(
                kind,
                res,
                NAME,
                None,
                body,
                ({"spec": have.get("spec")} if have else None),
                Change(
                    f"{'Update' if have else 'Create'} {res.kind} {NAME} for the operator images",
                    f"{res.plural[:-1]}/{NAME}",
                    ({"spec": have.get("spec")} if have else None),
                    {"spec": spec},
                    _yaml_cmd(ctx, "apply", res.kind, NAME),
                ),
            )
        )
    if cluster_minor >= (4, 18):
        plan.cluster_catalog = True
        have = cluster.get_or_none(CLUSTER_CATALOG, NAME)
        body = {
            "apiVersion": "olm.operatorframework.io/v1",
            "kind": "ClusterCatalog",
            "metadata": {"name": NAME},
            "spec": {"source": {"type": "Image", "image": {"ref": image}}, "priority": 0},
        }
        if (
            have is None
            or ((have.get("spec") or {}).get("source") or {}).get("image", {}).get("ref") != image
        ):
            plan.steps.append(
                Step(
                    "clustercatalog",
                    CLUSTER_CATALOG,
                    NAME,
                    None,
                    body,
                    ({"spec": have.get("spec")} if have else None),
                    Change(
                        f"{'Update' if have else 'Create'} ClusterCatalog {NAME} (OLM v1)",
                        f"clustercatalog/{NAME}",
                        ({"spec": have.get("spec")} if have else None),
                        {"spec": body["spec"]},
                        _yaml_cmd(ctx, "apply", "ClusterCatalog", NAME),
                    ),
                )
            )
    # the mirror sets first: as soon as a catalog serves, OLM unpacks bundles, which must be pullable then
    order = {"idms": 0, "itms": 0, "icsp": 0, "operatorhub": 1, "create-catalog": 2, "set-image": 2}
    plan.steps.sort(key=lambda s: order.get(s.kind, 3))
    return plan


def _wait_gone(ctx: Context, name: str, timeout: float, interval: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        cs = ctx.cluster.get_or_none(CATALOG_SOURCE, name, NS)
        if cs is None:
            return
        managed = ((cs.get("metadata") or {}).get("annotations") or {}).get(
            MANAGED_BY
        ) == "marketplace-operator"
        if not managed:
            return
        if time.monotonic() > deadline:
            raise NotReady(
                f"the marketplace operator did not remove the default CatalogSource {name} within {timeout:.0f} s",
                fix="Check 'oc get operatorhub cluster -o yaml' (status.sources) and the marketplace operator; then "
                "run the same command again.",
            )
        ctx.cancel.wait(interval)
        ctx.check_cancel()


def _apply_step(ctx: Context, s: Step, *, timeout: float, interval: float) -> None:
    cluster = ctx.cluster
    ctx.emit.command(s.change.command)
    if s.kind == "operatorhub":
        cluster.merge_patch(OPERATORHUB, "cluster", s.body)
    elif s.kind == "set-image":

        def attempt() -> dict[str, Any]:
            cs = cluster.get(CATALOG_SOURCE, s.name, NS)
            cs = copy.deepcopy(cs)
            cs.setdefault("spec", {})["image"] = s.body["spec"]["image"]
            cs.pop("status", None)
            return cluster.replace(CATALOG_SOURCE, cs, NS)

        retry_on_conflict(attempt)
    elif s.kind == "create-catalog":
        if s.name in DEFAULT_SOURCES:
            _wait_gone(ctx, s.name, timeout, interval)
        have = cluster.get_or_none(CATALOG_SOURCE, s.name, NS)
        if have is None:
            cluster.create(CATALOG_SOURCE, s.body, NS)
        else:
            body = copy.deepcopy(s.body)
            body["metadata"]["resourceVersion"] = have["metadata"].get("resourceVersion")
            cluster.replace(CATALOG_SOURCE, body, NS)
    else:
        have = cluster.get_or_none(s.resource, s.name, s.namespace)
        if have is None:
            cluster.create(s.resource, s.body, s.namespace)
        else:
            body = copy.deepcopy(s.body)
            body["metadata"]["resourceVersion"] = have["metadata"].get("resourceVersion")
            cluster.replace(s.resource, body, s.namespace)


def apply(ctx: Context, plan: ApplyPlan, *, timeout: float = 300.0, interval: float = 2.0) -> dict[str, Any]:
    """Apply (after the caller's confirmation); each change is journaled before (intent) and after (done)."""
    journal = ctx.journal
    journal.step_started(STEP, action="apply-catalog", image=plan.image)
    for s in plan.steps:
        ctx.check_cancel()
        journal.change(
            STEP,
            f"catalog-{s.kind}",
            s.change.resource,
            before=s.before,
            after=s.body,
            command=" ".join(s.change.command),
            phase="intent",
            apply_id=plan.image,
        )
        _apply_step(ctx, s, timeout=timeout, interval=interval)
        journal.change(
            STEP,
            f"catalog-{s.kind}",
            s.change.resource,
            before=s.before,
            after=s.body,
            phase="done",
            apply_id=plan.image,
        )
        ctx.emit.info(f"{s.change.title}: done")
    journal.step_finished(STEP, "succeeded", f"cluster pointed at {plan.image}", catalogs=plan.catalogs)
    return {"image": plan.image, "catalogs": plan.catalogs, "changes": len(plan.steps)}


# ----- waiting ----------------------------------------------------------------------------------------------
def _state(cs: dict[str, Any] | None) -> str:
    return str((((cs or {}).get("status") or {}).get("connectionState") or {}).get("lastObservedState", ""))


def wait_ready(
    ctx: Context, names: list[str], image: str, *, timeout: float = 300.0, interval: float = 2.0
) -> dict[str, str]:
    """Every catalog READY with ``image``, then every Subscription on them resolved (catalog healthy, no
    ResolutionFailed/BundleUnpackFailed)."""
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "-n", NS, "get", "catalogsource", *names])
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "subscriptions.operators.coreos.com", "-A"])
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while True:
        ctx.check_cancel()
        states = {}
        for n in names:
            cs = cluster.get_or_none(CATALOG_SOURCE, n, NS)
            ok_image = ((cs or {}).get("spec") or {}).get("image") == image
            states[n] = _state(cs) if ok_image else "(image not yet set)"
        problems = []
        if all(v == "READY" for v in states.values()):
            for sub in cluster.list(SUBSCRIPTION):
                spec, st = sub.get("spec") or {}, sub.get("status") or {}
                if spec.get("source") not in names:
                    continue
                conds = {c.get("type"): c for c in st.get("conditions") or []}
                where = f"subscription {sub['metadata'].get('namespace')}/{sub['metadata']['name']}"
                unhealthy = conds.get("CatalogSourcesUnhealthy", {})
                if unhealthy.get("status") != "False":
                    problems.append(f"{where}: catalog not yet seen healthy")
                for t in ("ResolutionFailed", "BundleUnpackFailed"):
                    if conds.get(t, {}).get("status") == "True":
                        problems.append(f"{where}: {t}: {conds[t].get('message', '')}")
        if states != last:
            for n, v in states.items():
                ctx.emit.info(f"catalogsource/{n}: {v or '(no state yet)'}")
            last = states
        if all(v == "READY" for v in states.values()) and not problems:
            ctx.journal.note(STEP, f"catalogs {', '.join(names)} READY with {image}; subscriptions resolve")
            return states
        hard = [p for p in problems if "Failed" in p]
        if time.monotonic() > deadline or (hard and time.monotonic() > deadline - timeout / 2):
            what = (
                hard[0]
                if hard
                else (
                    problems[0]
                    if problems
                    else ", ".join(f"{n} is {v or 'without a state'}" for n, v in states.items())
                )
            )
            raise NotReady(
                f"the mirrored catalog is not serving after {timeout:.0f} s: {what}",
                fix="TRANSIENT_FAILURE: the cluster cannot pull the index image (is it in the mirror, does the pull "
                "secret hold the mirror login?). BundleUnpackFailed: an operator image is missing from the mirror or "
                "not covered by the ImageDigestMirrorSet/ImageTagMirrorSet — mirror the catalog again and apply. Or "
                "undo with 'ocp-airgap catalog revert --plan P'.",
            )
        ctx.cancel.wait(interval)


# ----- restoring --------------------------------------------------------------------------------------------
def _last_apply(ctx: Context) -> list[dict[str, Any]]:
    recs = [
        r.data
        for r in ctx.journal.changes(STEP)
        if str(r.data.get("action", "")).startswith("catalog-") and r.data.get("phase") == "done"
    ]
    if not recs:
        return []
    last_id = recs[-1].get("apply_id")
    out = []
    for r in reversed(recs):
        if r.get("apply_id") != last_id:
            break
        out.append(r)
    return out  # newest first


def prepare_restore(ctx: Context) -> ApplyPlan:
    recs = [r for r in _last_apply(ctx) if not str(r.get("action", "")).startswith("catalog-restore")]
    if not recs:
        raise AirgapError(
            "the journal has no catalog change to undo",
            fix="Only what 'ocp-airgap catalog apply' changed can be reverted.",
        )
    cluster = ctx.cluster
    plan = ApplyPlan(str(recs[0].get("apply_id", "")))
    kinds = {
        "catalog-operatorhub": (OPERATORHUB, None),
        "catalog-set-image": (CATALOG_SOURCE, NS),
        "catalog-create-catalog": (CATALOG_SOURCE, NS),
        "catalog-idms": (IDMS, None),
        "catalog-itms": (ITMS, None),
        "catalog-icsp": (ICSP, None),
        "catalog-clustercatalog": (CLUSTER_CATALOG, None),
    }
    for r in recs:  # newest first: undo in reverse order
        action = str(r["action"])
        res, ns = kinds[action]
        name = str(r["resource"]).rsplit("/", 1)[-1]
        before = r.get("before")
        if before is None:
            body: dict[str, Any] = {"delete": True}
            title = f"Delete {res.kind} {name} (created by 'catalog apply')"
            cmd = ["oc", *cluster.oc_args(), *(["-n", ns] if ns else []), "delete", res.oc_name, name]
        else:
            body = {"spec": before.get("spec")}
            title = f"Put back {res.kind} {name} as it was"
            cmd = [
                "oc",
                *cluster.oc_args(),
                *(["-n", ns] if ns else []),
                "patch",
                res.oc_name,
                name,
                "--type",
                "merge",
                "-p",
                json.dumps(body, separators=(",", ":")),
            ]
        plan.steps.append(
            Step(
                "restore-" + action.removeprefix("catalog-"),
                res,
                name,
                ns,
                body,
                r.get("after"),
                Change(title, str(r["resource"]), r.get("after"), None if before is None else body, cmd),
            )
        )
    return plan


def restore(ctx: Context, plan: ApplyPlan) -> dict[str, Any]:
    cluster = ctx.cluster
    journal = ctx.journal
    journal.step_started(STEP, action="revert-catalog", image=plan.image)
    for s in plan.steps:
        ctx.emit.command(s.change.command)
        journal.change(
            STEP,
            f"catalog-{s.kind}",
            s.change.resource,
            before=s.before,
            after=s.body,
            phase="intent",
            apply_id=f"revert:{plan.image}",
        )
        if s.body.get("delete"):
            try:
                cluster.delete(s.resource, s.name, s.namespace)
            except NotFound:
                pass
        elif s.kind == "restore-operatorhub":
            spec = dict(s.body.get("spec") or {})
            spec.setdefault("disableAllDefaultSources", False)
            cluster.merge_patch(OPERATORHUB, "cluster", {"spec": spec})
        else:

            def attempt(s: Step = s) -> dict[str, Any]:
                obj = copy.deepcopy(cluster.get(s.resource, s.name, s.namespace))
                obj["spec"] = s.body.get("spec")
                obj.pop("status", None)
                return cluster.replace(s.resource, obj, s.namespace)

            retry_on_conflict(attempt)
        journal.change(
            STEP,
            f"catalog-{s.kind}",
            s.change.resource,
            before=s.before,
            after=s.body,
            phase="done",
            apply_id=f"revert:{plan.image}",
        )
        ctx.emit.info(f"{s.change.title}: done")
    journal.step_finished(STEP, "succeeded", f"catalog changes for {plan.image} reverted")
    return {"reverted": len(plan.steps), "image": plan.image}


# ----- one operator through the mirrored catalog -------------------------------------------------------------
def prepare_channel(
    ctx: Context, namespace: str, name: str, channel: str
) -> tuple[dict[str, Any], Change | None]:
    cluster = ctx.cluster
    sub = cluster.get_or_none(SUBSCRIPTION, name, namespace)
    if sub is None:
        raise NotFound(
            f"subscription {namespace}/{name} does not exist",
            fix="List the operators with 'ocp-airgap catalog operators --plan P'.",
        )
    current = str((sub.get("spec") or {}).get("channel") or "")
    if current == channel:
        return sub, None
    body = {"spec": {"channel": channel}}
    return sub, Change(
        f"Move subscription {namespace}/{name} from channel {current or '(default)'} to {channel}",
        f"subscription/{namespace}/{name}",
        {"spec": {"channel": current}},
        body,
        [
            "oc",
            *cluster.oc_args(),
            "-n",
            namespace,
            "patch",
            "subscriptions.operators.coreos.com",
            name,
            "--type",
            "merge",
            "-p",
            json.dumps(body, separators=(",", ":")),
        ],
    )


def set_channel(ctx: Context, namespace: str, name: str, channel: str, change: Change) -> None:
    cluster = ctx.cluster
    ctx.journal.change(
        STEP,
        "subscription-channel",
        change.resource,
        before=change.before,
        after=change.after,
        command=" ".join(change.command),
        phase="intent",
    )
    ctx.emit.command(change.command)
    cluster.merge_patch(SUBSCRIPTION, name, {"spec": {"channel": channel}}, namespace)
    ctx.journal.change(
        STEP, "subscription-channel", change.resource, before=change.before, after=change.after, phase="done"
    )


def wait_installed(
    ctx: Context,
    namespace: str,
    name: str,
    *,
    until_csv: str = "",
    timeout: float = 600.0,
    interval: float = 2.0,
    settle: float = 10.0,
) -> str:
    """Wait until the Subscription is at ``until_csv``, or else at the latest version of its channel. OLM reacts to
    a channel change a moment later: without ``until_csv``, ``AtLatestKnown`` counts only once the status has
    changed since the start, or after ``settle`` seconds."""
    cluster = ctx.cluster
    started = time.monotonic()
    first: dict[str, Any] | None = None
    ctx.emit.command(
        [
            "oc",
            *cluster.oc_args(),
            "-n",
            namespace,
            "get",
            "subscriptions.operators.coreos.com",
            name,
            "-o",
            "jsonpath={.status.installedCSV} {.status.state}",
        ]
    )
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        ctx.check_cancel()
        sub = cluster.get(SUBSCRIPTION, name, namespace)
        st = sub.get("status") or {}
        now = f"{st.get('installedCSV', '')} {st.get('state', '')}".strip()
        if now != last:
            ctx.emit.info(f"subscription {namespace}/{name}: {now}")
            last = now
        conds = {c.get("type"): c for c in st.get("conditions") or []}
        for t in ("ResolutionFailed", "BundleUnpackFailed"):
            if conds.get(t, {}).get("status") == "True":
                raise NotReady(
                    f"subscription {namespace}/{name}: {t}: {conds[t].get('message', '')}",
                    fix="Mirror the catalog with this channel (ocp-airgap catalog mirror --channel "
                    "PKG=CHANNEL) and apply it, then run the same command again.",
                )
        installed = str(st.get("installedCSV") or "")
        if first is None:
            first = {k: st.get(k) for k in ("installedCSV", "currentCSV", "state", "lastUpdated")}
        moved = first != {k: st.get(k) for k in first} or time.monotonic() - started > settle
        if (until_csv and installed == until_csv) or (
            not until_csv
            and moved
            and st.get("state") == "AtLatestKnown"
            and installed == st.get("currentCSV")
        ):
            ctx.journal.note(STEP, f"subscription {namespace}/{name} at {installed}")
            return installed
        if time.monotonic() > deadline:
            raise NotReady(
                f"subscription {namespace}/{name} is at {installed or 'nothing'} after {timeout:.0f} s",
                fix="Check 'oc get installplan,csv -n " + namespace + "'.",
            )
        ctx.cancel.wait(interval)


def wait_cluster_catalog(ctx: Context, image: str, *, timeout: float = 300.0, interval: float = 2.0) -> str:
    """OLM v1: wait until ClusterCatalog ``ocp-airgap-operators`` serves ``image`` (``Serving=True``)."""
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "clustercatalog", NAME])
    deadline = time.monotonic() + timeout
    while True:
        ctx.check_cancel()
        cc = cluster.get_or_none(CLUSTER_CATALOG, NAME) or {}
        st = cc.get("status") or {}
        conds = {c.get("type"): c for c in st.get("conditions") or []}
        resolved = ((st.get("resolvedSource") or {}).get("image") or {}).get("ref")
        if conds.get("Serving", {}).get("status") == "True" and resolved == image:
            ctx.emit.info(f"clustercatalog/{NAME}: Serving {image}")
            return "Serving"
        if time.monotonic() > deadline:
            prog = conds.get("Progressing", {})
            raise NotReady(
                f"clustercatalog/{NAME} does not serve {image} after {timeout:.0f} s"
                + (f": {prog.get('reason')}: {prog.get('message')}" if prog.get("message") else ""),
                fix="The cluster cannot pull the index image: check it is in the mirror and the pull secret holds "
                "the mirror login; 'oc describe clustercatalog " + NAME + "'.",
            )
        ctx.cancel.wait(interval)
