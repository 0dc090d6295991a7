"""Operator catalogs (docs/steps/catalog.md): point a CatalogSource at a new index image in the mirror registry.

After the new index image (e.g. ``registry.redhat.io/redhat/redhat-operator-index:v4.17``) and its content have
been mirrored, the ``CatalogSource`` in ``openshift-marketplace`` (``spec.sourceType: grpc``) is edited to use it:
``oc edit catalogsource <name> -n openshift-marketplace`` / ``oc replace -f catalogsource.yaml``. Here the image is
always given **by digest** (a tag could move under the cluster's feet), the previous image is kept in the journal
so :func:`restore` can put it back, and the change is followed until the catalog's gRPC connection is ``READY``
(``status.connectionState.lastObservedState``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from engine.changes import Change
from engine.cluster import CATALOG_SOURCE, Cluster, retry_on_conflict
from engine.context import Context
from engine.errors import AirgapError, InputError, NotFound, NotReady, PreconditionFailed

STEP = "catalog"
NAMESPACE = "openshift-marketplace"


def _state(cs: dict[str, Any]) -> str:
    return str((((cs.get("status") or {}).get("connectionState")) or {}).get("lastObservedState", ""))


@dataclass
class CatalogInfo:
    name: str
    namespace: str
    image: str
    source_type: str
    display_name: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "image": self.image,
            "sourceType": self.source_type,
            "displayName": self.display_name,
            "state": self.state,
        }


def list_catalogs(ctx: Context) -> list[CatalogInfo]:
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "catalogsource", "-n", NAMESPACE])
    out = []
    for cs in cluster.list(CATALOG_SOURCE, NAMESPACE):
        spec = cs.get("spec") or {}
        out.append(
            CatalogInfo(
                name=cs["metadata"]["name"],
                namespace=cs["metadata"].get("namespace", NAMESPACE),
                image=str(spec.get("image", "")),
                source_type=str(spec.get("sourceType", "")),
                display_name=str(spec.get("displayName", "")),
                state=_state(cs),
            )
        )
    return out


def _check_image(image: str) -> None:
    if "@sha256:" not in image or len(image.rsplit("@", 1)[1]) != len("sha256:") + 64:
        raise InputError(
            f"{image} is not an index image by digest",
            fix="Give the mirrored index image by digest: <mirror registry>/<repository>@sha256:<64 hex>.",
        )


@dataclass
class CatalogPlan:
    name: str
    previous: str
    image: str
    change: Change | None

    @property
    def changes(self) -> list[Change]:
        return [self.change] if self.change else []


def _get(cluster: Cluster, name: str) -> dict[str, Any]:
    try:
        return cluster.get(CATALOG_SOURCE, name, NAMESPACE)
    except NotFound:
        raise NotFound(
            f"catalogsource/{name} does not exist in {NAMESPACE}",
            fix="List them with 'ocp-airgap catalog list --plan P'.",
        ) from None


def prepare_set(ctx: Context, name: str, image: str) -> CatalogPlan:
    """Preview pointing catalog ``name`` at ``image`` (by digest)."""
    _check_image(image)
    cluster = ctx.cluster
    cs = _get(cluster, name)
    spec = cs.get("spec") or {}
    if spec.get("sourceType", "grpc") != "grpc":
        raise InputError(
            f"catalogsource/{name} has sourceType {spec.get('sourceType')!r}; only grpc catalogs use an index image"
        )
    annotations = (cs.get("metadata") or {}).get("annotations") or {}
    if annotations.get("operatorframework.io/managed-by") == "marketplace-operator":
        # openshift/operator-marketplace pkg/defaults ensureCatsrcPresent: an edited default source is reset
        raise PreconditionFailed(
            f"catalogsource/{name} is a default source managed by the marketplace operator, which resets any edit "
            "to it",
            fix="Use 'ocp-airgap catalog apply --plan P': it disables the default sources in OperatorHub and "
            f"creates {name} anew with the mirrored index (the documented disconnected way).",
        )
    previous = str(spec.get("image", ""))
    if previous == image:
        ctx.emit.info(f"catalogsource/{name} already uses {image}.")
        return CatalogPlan(name, previous, image, None)
    change = Change(
        title=f"Point CatalogSource {name} at {image}",
        resource=f"catalogsource/{NAMESPACE}/{name}",
        before={"spec": {"image": previous}},
        after={"spec": {"image": image}},
        command=[
            "oc",
            *cluster.oc_args(),
            "-n",
            NAMESPACE,
            "patch",
            "catalogsource",
            name,
            "--type",
            "merge",
            "-p",
            f'{{"spec":{{"image":"{image}"}}}}',
        ],
    )
    return CatalogPlan(name, previous, image, change)


def _set_image(ctx: Context, plan: CatalogPlan, action: str) -> dict[str, Any]:
    cluster = ctx.cluster
    journal = ctx.journal
    assert plan.change is not None
    journal.step_started(STEP, catalog=plan.name, image=plan.image, action=action)
    journal.change(
        STEP,
        action,
        plan.change.resource,
        before={"image": plan.previous},
        after={"image": plan.image},
        command=" ".join(plan.change.command),
        previous_image=plan.previous,
        phase="intent",
    )
    ctx.emit.command(plan.change.command)

    def attempt() -> dict[str, Any]:
        cs = _get(cluster, plan.name)
        body = copy.deepcopy(cs)
        body.setdefault("spec", {})["image"] = plan.image
        body.pop("status", None)
        return cluster.replace(CATALOG_SOURCE, body, NAMESPACE)  # 409 when changed since read: re-read

    retry_on_conflict(attempt)
    journal.change(
        STEP,
        action,
        plan.change.resource,
        before={"image": plan.previous},
        after={"image": plan.image},
        previous_image=plan.previous,
        phase="done",
    )
    ctx.emit.info(f"catalogsource.operators.coreos.com/{plan.name} configured")
    journal.step_finished(
        STEP, "succeeded", f"catalogsource/{plan.name} now uses {plan.image}", catalog=plan.name
    )
    return {"catalog": plan.name, "previous": plan.previous, "image": plan.image}


def set_image(ctx: Context, plan: CatalogPlan) -> dict[str, Any]:
    """Apply (after the caller's confirmation): the previous image is journaled for :func:`restore`."""
    if plan.change is None:
        return {"catalog": plan.name, "image": plan.image, "changed": False}
    return _set_image(ctx, plan, "set-image")


def previous_image(ctx: Context, name: str) -> str:
    """The image the catalog had before this tool last changed it (from the journal)."""
    for r in reversed(ctx.journal.changes(STEP)):
        if (
            r.data.get("resource") == f"catalogsource/{NAMESPACE}/{name}"
            and r.data.get("action") == "set-image"
        ):
            return str(r.data.get("previous_image", ""))
    return ""


def prepare_restore(ctx: Context, name: str) -> CatalogPlan:
    prev = previous_image(ctx, name)
    if not prev:
        raise AirgapError(
            f"the journal has no earlier image for catalogsource/{name}",
            fix="Only a catalog changed with 'ocp-airgap catalog set' can be restored.",
        )
    cluster = ctx.cluster
    cs = _get(cluster, name)
    current = str((cs.get("spec") or {}).get("image", ""))
    if current == prev:
        return CatalogPlan(name, current, prev, None)
    return CatalogPlan(
        name,
        current,
        prev,
        Change(
            title=f"Restore CatalogSource {name} to {prev}",
            resource=f"catalogsource/{NAMESPACE}/{name}",
            before={"spec": {"image": current}},
            after={"spec": {"image": prev}},
            command=[
                "oc",
                *cluster.oc_args(),
                "-n",
                NAMESPACE,
                "patch",
                "catalogsource",
                name,
                "--type",
                "merge",
                "-p",
                f'{{"spec":{{"image":"{prev}"}}}}',
            ],
        ),
    )


def restore(ctx: Context, plan: CatalogPlan) -> dict[str, Any]:
    if plan.change is None:
        return {"catalog": plan.name, "image": plan.image, "changed": False}
    return _set_image(ctx, plan, "restore-image")


def wait_ready(ctx: Context, name: str, image: str, *, timeout: float = 300.0, interval: float = 2.0) -> str:
    """Wait until the catalog, using ``image``, reports ``lastObservedState == READY``.

    Raises :class:`NotReady` naming the last state (e.g. ``TRANSIENT_FAILURE``: the cluster cannot pull the index
    image — is it in the mirror, does a mirror set cover it, does the pull secret hold the mirror login?)."""
    cluster = ctx.cluster
    ctx.emit.command(
        [
            "oc",
            *cluster.oc_args(),
            "-n",
            NAMESPACE,
            "get",
            "catalogsource",
            name,
            "-o",
            "jsonpath={.status.connectionState.lastObservedState}",
        ]
    )
    deadline = time.monotonic() + timeout
    last = ""
    seen_other = False
    start = time.monotonic()
    while True:
        ctx.check_cancel()
        cs = _get(cluster, name)
        state = _state(cs)
        current_image = str((cs.get("spec") or {}).get("image", ""))
        if state != last:
            ctx.emit.info(f"catalogsource/{name}: {state or '(no state yet)'}")
            last = state
        if state != "READY":
            seen_other = True
        # READY only counts once the catalog was seen reconnecting, or after a moment for a fast operator
        if (
            current_image == image
            and state == "READY"
            and (seen_other or time.monotonic() - start > 3 * interval)
        ):
            ctx.journal.note(STEP, f"catalogsource/{name} READY with {image}")
            return state
        if time.monotonic() > deadline:
            raise NotReady(
                f"catalogsource/{name} is {state or 'without a state'} after {timeout:.0f} s, not READY",
                fix="The cluster cannot serve the index image: check that it is in the mirror registry, that an "
                "ImageDigestMirrorSet covers it if it is referenced by its source name, and that the global pull "
                "secret holds the mirror's login; or restore the previous image: ocp-airgap catalog restore.",
            )
        ctx.cancel.wait(interval)
