"""What operators are installed, and whether each lets the cluster go to the target OpenShift minor.

OLM tells the cluster which installed operators block the next minor through the ``operator-lifecycle-manager``
ClusterOperator's ``Upgradeable`` condition (operator-framework/operator-lifecycle-manager
``pkg/controller/operators/openshift/helpers.go``): every CSV that is not a copy (label ``olm.copiedFrom``) and whose
``olm.properties`` annotation declares ``olm.maxOpenShiftVersion`` lower than the next minor blocks. The value must be
``<major>.<minor>`` (``"4.16"``); more than one such property, an empty value or a patch part make OLM report the
CSV as invalid, which blocks too. Here the same rule is applied to the *target* minor of the plan, so the admin
learns before the update starts (and without waiting for OLM to re-evaluate), and the catalog is searched for the
version of each blocking operator that is compatible and reachable from the installed one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.catalogs import fbc
from engine.cluster import Resource
from engine.context import Context
from engine.errors import InputError
from engine.fsutil import atomic_write_text
from engine.journal import state_root
from engine.util import minor_of

SUBSCRIPTION = Resource(
    "operators.coreos.com", "v1alpha1", "subscriptions", "Subscription", True, "subscription"
)
CSV = Resource(
    "operators.coreos.com", "v1alpha1", "clusterserviceversions", "ClusterServiceVersion", True, "csv"
)
COPIED_LABEL = "olm.copiedFrom"
PROPERTIES_ANNOTATION = "olm.properties"


@dataclass
class Operator:
    namespace: str
    subscription: str
    package: str
    channel: str
    source: str
    source_namespace: str
    csv: str
    version: str
    max_openshift: str = ""
    """``<major>.<minor>`` from the CSV's ``olm.properties``; empty: no limit."""
    invalid: str = ""
    """Why OLM would report the CSV's properties as invalid (also blocks)."""
    update_to: dict[str, str] = field(default_factory=dict)
    """``{channel, version, bundle}`` of the compatible version to update to first (from a catalog)."""
    latest_in_channel: str = ""

    def blocks(self, target: str) -> bool:
        tgt = minor_of(target)
        if self.invalid:
            return True
        mx = minor_of(self.max_openshift)
        return bool(tgt and mx and mx < tgt)

    def why(self, target: str) -> str:
        if self.invalid:
            return f"its CSV {self.csv} has invalid olm.maxOpenShiftVersion properties: {self.invalid}"
        return (
            f"its CSV {self.csv} declares olm.maxOpenShiftVersion {self.max_openshift}, below "
            f"{'.'.join(map(str, minor_of(target) or ()))}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def max_openshift_version(annotation: str) -> str:
    """The CSV's max version as OLM reads it; raises ValueError with OLM's reason when it would call it invalid."""
    if not annotation:
        return ""
    try:
        props = json.loads(annotation)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the olm.properties annotation is not JSON ({exc.msg})") from None
    if not isinstance(props, list):
        raise ValueError("the olm.properties annotation is not a JSON list")
    values = [p.get("value") for p in props if isinstance(p, dict) and p.get("type") == fbc.MAX_OCP]
    if not values:
        return ""
    if len(values) > 1:
        raise ValueError(f'defining more than one "{fbc.MAX_OCP}" property is not allowed')
    value = (values[0] if isinstance(values[0], str) else json.dumps(values[0])).strip('"')
    if not value:
        raise ValueError('value cannot be "" (an empty string)')
    try:
        v = fbc.Version.parse(value)
    except ValueError:
        raise ValueError(f'failed to parse "{value}" as semver') from None
    if v.patch or v.pre:
        raise ValueError(
            f"{fbc.MAX_OCP} must specify only <major>.<minor> version, got invalid value {value}"
        )
    return f"{v.major}.{v.minor}"


def list_operators(ctx: Context) -> list[Operator]:
    """Subscriptions with their installed CSV (CSVs without a Subscription are listed with the package unknown)."""
    cluster = ctx.cluster
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "subscriptions.operators.coreos.com", "-A"])
    ctx.emit.command(["oc", *cluster.oc_args(), "get", "clusterserviceversions", "-A"])
    subs = cluster.list(SUBSCRIPTION)
    csvs = {
        (c["metadata"].get("namespace", ""), c["metadata"]["name"]): c
        for c in cluster.list(CSV)
        if not ((c["metadata"].get("labels") or {}).get(COPIED_LABEL))
    }
    out: list[Operator] = []
    seen: set[tuple[str, str]] = set()
    for s in subs:
        ns = s["metadata"].get("namespace", "")
        spec, st = s.get("spec") or {}, s.get("status") or {}
        csv_name = str(st.get("installedCSV") or "")
        csv = csvs.get((ns, csv_name))
        seen.add((ns, csv_name))
        out.append(_operator(ns, s["metadata"]["name"], spec, csv_name, csv))
    for (ns, name), csv in sorted(csvs.items()):
        if (ns, name) not in seen:
            out.append(_operator(ns, "", {}, name, csv))
    return out


def _operator(ns: str, sub: str, spec: dict[str, Any], csv_name: str, csv: dict[str, Any] | None) -> Operator:
    version = str(((csv or {}).get("spec") or {}).get("version") or "")
    annotation = str(
        (((csv or {}).get("metadata") or {}).get("annotations") or {}).get(PROPERTIES_ANNOTATION) or ""
    )
    op = Operator(
        namespace=ns,
        subscription=sub,
        package=str(spec.get("name") or csv_name.split(".v")[0]),
        channel=str(spec.get("channel") or ""),
        source=str(spec.get("source") or ""),
        source_namespace=str(spec.get("sourceNamespace") or ""),
        csv=csv_name,
        version=version,
    )
    try:
        op.max_openshift = max_openshift_version(annotation)
    except ValueError as exc:
        op.invalid = str(exc)
    return op


# ----- what the catalog offers ------------------------------------------------------------------------------
def _upgrade_reachable(
    pkg: fbc.Package, channel: fbc.Channel, installed: str, version: fbc.Version | None
) -> bool:
    """Can OLM move from ``installed`` along ``channel``? (an entry replaces/skips it or its skipRange holds it,
    or it is in the channel)."""
    for e in channel.entries:
        if e.name == installed or e.replaces == installed or installed in e.skips:
            return True
        if e.skip_range and version is not None:
            try:
                if fbc.in_range(version, e.skip_range):
                    return True
            except ValueError:
                continue
    return False


def compatible(bundle: fbc.Bundle, target: str) -> bool:
    mx = minor_of(bundle.max_openshift_version)
    tgt = minor_of(target)
    return not (mx and tgt and mx < tgt)


def suggest(op: Operator, cat: fbc.Catalog, target: str) -> dict[str, str]:
    """The channel head to update to first: compatible with ``target`` and reachable from the installed CSV.
    The subscribed channel first, then the default channel, then the others (newest head first)."""
    pkg = cat.packages.get(op.package)
    if pkg is None:
        return {}
    try:
        inst_v: fbc.Version | None = fbc.Version.parse(op.version) if op.version else None
    except ValueError:
        inst_v = None

    def head_version(c: str) -> fbc.Version:
        h = pkg.channel_head(c) if pkg else None
        return (h.version if h else None) or fbc.Version(0, 0, 0)

    order = [op.channel, pkg.default_channel, *sorted(pkg.channels, key=head_version, reverse=True)]
    for name in dict.fromkeys(c for c in order if c in pkg.channels):
        head = pkg.channel_head(name)
        if head is None or not compatible(head, target):
            continue
        if head.name == op.csv or not _upgrade_reachable(pkg, pkg.channels[name], op.csv, inst_v):
            continue
        return {"channel": name, "version": head.version_text, "bundle": head.name}
    return {}


def assess(ctx: Context, target: str, catalog: fbc.Catalog | None = None) -> list[Operator]:
    ops = list_operators(ctx)
    if catalog is not None:
        for op in ops:
            pkg = catalog.packages.get(op.package)
            head = pkg.channel_head(op.channel) if pkg and op.channel else None
            op.latest_in_channel = head.version_text if head else ""
            if op.blocks(target):
                op.update_to = suggest(op, catalog, target)
    return ops


# ----- the last catalog read, for preflight on either side of the air gap ----------------------------------
def _catalog_cache() -> Path:
    return state_root() / "catalogs" / "last-catalog.json"


def save_catalog(index_ref: str, digest: str, cat: fbc.Catalog) -> None:
    files = {k: v.decode() for k, v in fbc.render(cat).items()}
    path = _catalog_cache()
    atomic_write_text(
        path, json.dumps({"index": index_ref, "digest": digest, "files": files}) + "\n", mode=0o644
    )


def load_saved_catalog() -> tuple[str, fbc.Catalog] | None:
    path = _catalog_cache()
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        cat = fbc.load_files({k: v.encode() for k, v in (doc.get("files") or {}).items()})
    except (ValueError, OSError, InputError):
        return None
    return f"{doc.get('index', '?')}@{doc.get('digest', '?')}", cat


def saved_catalog_path() -> str:
    return os.fspath(_catalog_cache())
