"""The file-based catalog (FBC) format, parsed directly (``opm`` is a Go program that is not always at hand).

What is read and checked here follows operator-framework/operator-registry:

- ``alpha/declcfg/declcfg.go``: the three schemas. ``olm.package`` (``name``, ``defaultChannel``),
  ``olm.channel`` (``package``, ``name``, ``entries`` of ``{name, replaces, skips, skipRange}``) and
  ``olm.bundle`` (``name``, ``package``, ``image``, ``properties`` of ``{type, value}``, ``relatedImages`` of
  ``{name, image}``). Any other schema (``olm.deprecations``, ...) is kept as it is, with its package.
- ``alpha/declcfg/load.go``: a catalog is a directory tree; every ``*.json`` file holds a stream of JSON objects
  and every ``*.yaml``/``*.yml`` file a stream of YAML documents. An index image names that directory with the
  label ``operators.operatorframework.io.index.configs.v1`` (``/configs``), one sub-directory per package.
- Properties (``alpha/property``): ``olm.package`` ``{packageName, version}`` gives a bundle's version,
  ``olm.gvk`` ``{group, version, kind}`` what it provides, ``olm.package.required`` ``{packageName,
  versionRange}`` and ``olm.gvk.required`` what it needs, ``olm.maxOpenShiftVersion`` (a JSON string such as
  ``"4.16"``) the newest OpenShift minor it supports. ``opm render`` also copies the CSV's metadata into an
  ``olm.csv.metadata`` property; a CSV declares ``olm.maxOpenShiftVersion`` in its ``olm.properties``
  annotation, which is what OLM reads on the cluster (see :mod:`engine.catalogs.installed`).
- ``alpha/model/model.go`` ``Channel.Head``: the head of a channel is the one bundle that no other entry of the
  channel replaces or skips; none is "no channel head found in graph", several are "multiple channel heads found
  in graph: a, b". ``Package.Validate``: the default channel must be one of the package's channels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import InputError

PACKAGE = "olm.package"
CHANNEL = "olm.channel"
BUNDLE = "olm.bundle"
CONFIGS_LABEL = "operators.operatorframework.io.index.configs.v1"
MAX_OCP = "olm.maxOpenShiftVersion"
PKG_REQUIRED = "olm.package.required"
GVK = "olm.gvk"
GVK_REQUIRED = "olm.gvk.required"
CSV_METADATA = "olm.csv.metadata"


# ----- semantic versions and ranges (github.com/blang/semver/v4, as OLM uses) --------------------------------
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Tolerant parse (blang ``ParseTolerant``): ``4.16`` → 4.16.0, a leading ``v`` is allowed."""
        m = _SEMVER.match(str(text).strip())
        if not m:
            raise ValueError(f"{text!r} is not a semantic version")
        pre = tuple(m.group(4).split(".")) if m.group(4) else ()
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre)

    def _key(self) -> tuple[Any, ...]:
        # a pre-release sorts before the release; numeric identifiers before alphanumeric ones
        pre: tuple[Any, ...] = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + ("-" + ".".join(self.pre) if self.pre else "")


_CMP = re.compile(r"^(>=|<=|!=|==|=|>|<)?\s*(.+)$")


def in_range(version: Version, expr: str) -> bool:
    """blang semver range: ``>=1.0.0 <2.0.0`` (space = and), ``||`` = or."""
    for alt in str(expr).split("||"):
        ok = True
        for part in alt.split():
            m = _CMP.match(part.strip())
            if not m:
                raise ValueError(f"bad version range {expr!r}")
            op, v = m.group(1) or "=", Version.parse(m.group(2))
            cmp = {
                ">=": version >= v,
                "<=": version <= v,
                ">": version > v,
                "<": version < v,
                "!=": version != v,
                "=": version == v,
                "==": version == v,
            }[op]
            if not cmp:
                ok = False
                break
        if ok and alt.split():
            return True
    return False


# ----- the model --------------------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    replaces: str = ""
    skips: list[str] = field(default_factory=list)
    skip_range: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.replaces:
            d["replaces"] = self.replaces
        if self.skips:
            d["skips"] = list(self.skips)
        if self.skip_range:
            d["skipRange"] = self.skip_range
        return d


@dataclass
class Channel:
    package: str
    name: str
    entries: list[Entry]
    raw: dict[str, Any] = field(default_factory=dict)

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)

    def heads(self) -> list[str]:
        """alpha/model/model.go Channel.Head: entries with no incoming replaces/skips edge."""
        incoming: set[str] = set()
        for e in self.entries:
            if e.replaces:
                incoming.add(e.replaces)
            incoming.update(e.skips)
        return sorted(e.name for e in self.entries if e.name not in incoming)


@dataclass
class Bundle:
    package: str
    name: str
    image: str
    properties: list[dict[str, Any]]
    related_images: list[dict[str, str]]
    raw: dict[str, Any] = field(default_factory=dict)

    def props(self, type_: str) -> list[Any]:
        return [p.get("value") for p in self.properties if p.get("type") == type_]

    @property
    def version(self) -> Version | None:
        for v in self.props(PACKAGE):
            if isinstance(v, Mapping) and v.get("version"):
                try:
                    return Version.parse(str(v["version"]))
                except ValueError:
                    return None
        return None

    @property
    def version_text(self) -> str:
        return str(self.version) if self.version else "?"

    @property
    def max_openshift_version(self) -> str:
        """The bundle property, or the ``olm.properties`` annotation of its CSV (``olm.csv.metadata``)."""
        values = [str(v) for v in self.props(MAX_OCP) if v not in (None, "")]
        for meta in self.props(CSV_METADATA):
            ann = (
                ((meta or {}).get("annotations") or {}).get("olm.properties")
                if isinstance(meta, dict)
                else None
            )
            values += max_versions_from_annotation(ann or "")
        if not values:
            return ""
        return max(values, key=lambda s: Version.parse(s))

    def images(self) -> list[str]:
        out = [self.image] if self.image else []
        for r in self.related_images:
            img = str(r.get("image", ""))
            if img and img not in out:
                out.append(img)
        return out


def max_versions_from_annotation(annotation: str) -> list[str]:
    """The ``olm.maxOpenShiftVersion`` values of a CSV's ``olm.properties`` annotation (a JSON list of
    ``{type, value}``; operator-lifecycle-manager pkg/controller/operators/openshift/helpers.go
    ``maxOpenShiftVersion`` reads exactly this). Malformed text raises ValueError (OLM fails closed on it)."""
    if not annotation:
        return []
    props = json.loads(annotation)
    if not isinstance(props, list):
        raise ValueError("olm.properties is not a JSON list")
    out = []
    for p in props:
        if isinstance(p, dict) and p.get("type") == MAX_OCP:
            v = p.get("value")
            if isinstance(v, str) and v:
                Version.parse(v)
                out.append(v)
    return out


@dataclass
class Package:
    name: str
    default_channel: str
    raw: dict[str, Any]
    channels: dict[str, Channel] = field(default_factory=dict)
    bundles: dict[str, Bundle] = field(default_factory=dict)
    others: list[dict[str, Any]] = field(default_factory=list)

    def channel_head(self, channel: str) -> Bundle | None:
        ch = self.channels.get(channel)
        if ch is None:
            return None
        heads = ch.heads()
        return self.bundles.get(heads[0]) if len(heads) == 1 else None


@dataclass
class Catalog:
    packages: dict[str, Package] = field(default_factory=dict)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    """Objects with no package (kept, written at the top)."""

    def bundle(self, name: str) -> Bundle | None:
        for p in self.packages.values():
            if name in p.bundles:
                return p.bundles[name]
        return None

    def all_images(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.packages.values():
            for b in p.bundles.values():
                for img in b.images():
                    seen.setdefault(img, None)
        return list(seen)


# ----- loading ----------------------------------------------------------------------------------------------
def _json_stream(text: str, name: str) -> list[dict[str, Any]]:
    dec = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                fix="The index image's catalog is broken; use another index image or fix the file and rebuild it.",
            ) from None
        if not isinstance(obj, dict):
            raise InputError(f"{name}: a catalog object must be a JSON object, found {type(obj).__name__}")
        out.append(obj)


def _yaml_stream(text: str, name: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(
            f"{name}: malformed YAML{where}: {getattr(exc, 'problem', exc)}",
            fix="The index image's catalog is broken; use another index image or fix the file and rebuild it.",
        ) from None
    for d in docs:
        if not isinstance(d, dict):
            raise InputError(f"{name}: a catalog document must be a mapping, found {type(d).__name__}")
    return docs


def load_files(files: Mapping[str, bytes]) -> Catalog:
    """Files (path relative to the configs directory → bytes) → :class:`Catalog`. Other files are ignored
    (as ``declcfg.LoadFS`` does)."""
    objs: list[dict[str, Any]] = []
    for path in sorted(files):
        base = path.rsplit("/", 1)[-1]
        if base.startswith("."):
            continue
        text = files[path].decode("utf-8", errors="replace")
        if path.endswith(".json"):
            objs += _json_stream(text, path)
        elif path.endswith((".yaml", ".yml")):
            objs += _yaml_stream(text, path)
    return build(objs)


def _entry(d: Any, where: str) -> Entry:
    if not isinstance(d, dict) or not d.get("name"):
        raise InputError(f"{where}: a channel entry without a name")
    skips = d.get("skips") or []
    return Entry(
        str(d["name"]), str(d.get("replaces") or ""), [str(s) for s in skips], str(d.get("skipRange") or "")
    )


def build(objs: Iterable[dict[str, Any]]) -> Catalog:
    cat = Catalog()
    channels: list[dict[str, Any]] = []
    bundles: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for o in objs:
        schema = o.get("schema")
        if schema == PACKAGE:
            name = str(o.get("name") or "")
            if not name:
                raise InputError("an olm.package without a name")
            if name in cat.packages:
                raise InputError(f"package {name!r} is declared twice")
            cat.packages[name] = Package(name, str(o.get("defaultChannel") or ""), o)
        elif schema == CHANNEL:
            channels.append(o)
        elif schema == BUNDLE:
            bundles.append(o)
        else:
            others.append(o)
    for o in channels:
        pkg = cat.packages.get(str(o.get("package") or ""))
        if pkg is None:
            raise InputError(
                f"channel {o.get('name')!r} names package {o.get('package')!r}, which is not declared"
            )
        where = f"channel {o.get('name')!r} of {pkg.name}"
        ch = Channel(
            pkg.name, str(o.get("name") or ""), [_entry(e, where) for e in o.get("entries") or []], o
        )
        if ch.name in pkg.channels:
            raise InputError(f"package {pkg.name!r} declares channel {ch.name!r} twice")
        pkg.channels[ch.name] = ch
    for o in bundles:
        pkg = cat.packages.get(str(o.get("package") or ""))
        if pkg is None:
            raise InputError(
                f"bundle {o.get('name')!r} names package {o.get('package')!r}, which is not declared"
            )
        b = Bundle(
            pkg.name,
            str(o.get("name") or ""),
            str(o.get("image") or ""),
            [p for p in o.get("properties") or [] if isinstance(p, dict)],
            [r for r in o.get("relatedImages") or [] if isinstance(r, dict)],
            o,
        )
        pkg.bundles[b.name] = b
    for o in others:
        pkg = cat.packages.get(str(o.get("package") or ""))
        (pkg.others if pkg else cat.orphans).append(o)
    return cat


# ----- writing ----------------------------------------------------------------------------------------------
def render_package(pkg: Package) -> bytes:
    """One package as ``opm`` writes it: a stream of indented JSON objects (package, channels, bundles, others)."""
    objs: list[dict[str, Any]] = [pkg.raw]
    for name in sorted(pkg.channels):
        ch = pkg.channels[name]
        objs.append(
            {
                **ch.raw,
                "schema": CHANNEL,
                "package": pkg.name,
                "name": ch.name,
                "entries": [e.to_dict() for e in ch.entries],
            }
        )
    for name in sorted(pkg.bundles):
        objs.append(pkg.bundles[name].raw)
    objs += pkg.others
    return b"".join(json.dumps(o, indent=4).encode() + b"\n" for o in objs)


def render(cat: Catalog) -> dict[str, bytes]:
    """``<package>/catalog.json`` for every package (the layout ``opm`` and oc-mirror write)."""
    out = {f"{name}/catalog.json": render_package(cat.packages[name]) for name in sorted(cat.packages)}
    if cat.orphans:
        out["catalog.json"] = b"".join(json.dumps(o, indent=4).encode() + b"\n" for o in cat.orphans)
    return out


# ----- validation (opm validate) ----------------------------------------------------------------------------
def validate(cat: Catalog) -> list[str]:
    """Every problem, worded like ``opm validate`` where it has wording; empty when the catalog is valid."""
    problems: list[str] = []
    for pkg in sorted(cat.packages.values(), key=lambda p: p.name):
        where = f"package {pkg.name!r}"
        if not pkg.default_channel:
            problems.append(f"{where}: default channel must be set")
        elif pkg.default_channel not in pkg.channels:
            problems.append(f"{where}: default channel {pkg.default_channel!r} not found in channels list")
        if not pkg.channels:
            problems.append(f"{where}: package must contain at least one channel")
        for ch in sorted(pkg.channels.values(), key=lambda c: c.name):
            cw = f"{where}, channel {ch.name!r}"
            if not ch.entries:
                problems.append(f"{cw}: channel must contain at least one bundle")
                continue
            heads = ch.heads()
            if not heads:
                problems.append(f"{cw}: no channel head found in graph")
            elif len(heads) > 1:
                problems.append(f"{cw}: multiple channel heads found in graph: {', '.join(heads)}")
            for e in ch.entries:
                if e.name not in pkg.bundles:
                    problems.append(f"{cw}: entry {e.name!r} has no olm.bundle")
        for b in sorted(pkg.bundles.values(), key=lambda x: x.name):
            if b.version is None:
                problems.append(f"{where}, bundle {b.name!r}: no valid olm.package version property")
            if not b.image:
                problems.append(f"{where}, bundle {b.name!r}: no image")
    problems += dependency_problems(cat)
    return problems


def _provides_gvk(cat: Catalog, gvk: Mapping[str, Any]) -> bool:
    key = (gvk.get("group"), gvk.get("version"), gvk.get("kind"))
    for p in cat.packages.values():
        for b in p.bundles.values():
            for v in b.props(GVK):
                if isinstance(v, Mapping) and (v.get("group"), v.get("version"), v.get("kind")) == key:
                    return True
    return False


def satisfies(cat: Catalog, package: str, version_range: str) -> list[Bundle]:
    pkg = cat.packages.get(package)
    if pkg is None:
        return []
    out = []
    for b in pkg.bundles.values():
        v = b.version
        try:
            if v is not None and (not version_range or in_range(v, version_range)):
                out.append(b)
        except ValueError:
            continue
    return out


def dependency_problems(cat: Catalog) -> list[str]:
    problems = []
    for pkg in sorted(cat.packages.values(), key=lambda p: p.name):
        for b in sorted(pkg.bundles.values(), key=lambda x: x.name):
            for req in b.props(PKG_REQUIRED):
                if not isinstance(req, Mapping):
                    continue
                name, rng = str(req.get("packageName", "")), str(req.get("versionRange", ""))
                if not satisfies(cat, name, rng):
                    problems.append(
                        f"package {pkg.name!r}, bundle {b.name!r}: missing dependency: package {name!r} "
                        f"{rng or '(any version)'} is not in the catalog"
                    )
            for gvk in b.props(GVK_REQUIRED):
                if isinstance(gvk, Mapping) and not _provides_gvk(cat, gvk):
                    problems.append(
                        f"package {pkg.name!r}, bundle {b.name!r}: missing dependency: no bundle provides "
                        f"{gvk.get('group')}/{gvk.get('version')} {gvk.get('kind')}"
                    )
    return problems


# ----- filtering --------------------------------------------------------------------------------------------
@dataclass
class Selection:
    package: str
    channels: list[str] = field(default_factory=list)
    """Empty: the default channel."""
    min_version: str = ""
    """Keep versions from this one (the installed one) to each channel head; empty: the heads only."""


@dataclass
class FilterResult:
    catalog: Catalog
    notes: list[str] = field(default_factory=list)
    added_dependencies: list[str] = field(default_factory=list)


def _keep_channel(pkg: Package, ch: Channel, min_version: Version | None) -> Channel:
    heads = ch.heads()
    keep: list[Entry] = []
    for e in ch.entries:
        b = pkg.bundles.get(e.name)
        v = b.version if b else None
        if e.name in heads or (min_version is not None and v is not None and v >= min_version):
            keep.append(e)
    return Channel(pkg.name, ch.name, keep, ch.raw)


def filter_catalog(cat: Catalog, selections: list[Selection]) -> FilterResult:
    """Keep the chosen packages and channels with the versions from ``min_version`` to each head, the package's
    default channel (at least its head: a package without its default channel is invalid), and the packages
    the kept bundles require (``olm.package.required``: their default channel, the bundles in the range up to
    the head). Unknown packages or channels are refused here, before anything is built or mirrored."""
    out = Catalog(orphans=list(cat.orphans))
    res = FilterResult(out)
    queue = list(selections)
    done: set[str] = set()
    while queue:
        sel = queue.pop(0)
        src = cat.packages.get(sel.package)
        if src is None:
            raise InputError(
                f"package {sel.package!r} is not in the catalog",
                fix="List what the index holds with 'ocp-airgap catalog packages --plan P'.",
            )
        wanted = list(dict.fromkeys(sel.channels or [src.default_channel]))
        for c in wanted:
            if c not in src.channels:
                raise InputError(
                    f"package {sel.package!r} has no channel {c!r} (channels: {', '.join(sorted(src.channels))})"
                )
        minv = None
        if sel.min_version:
            try:
                minv = Version.parse(sel.min_version)
            except ValueError:
                raise InputError(f"{sel.min_version!r} is not a version (package {sel.package})") from None
        dst = out.packages.get(src.name)
        if dst is None:
            dst = Package(src.name, src.default_channel, src.raw, others=list(src.others))
            out.packages[src.name] = dst
        if src.default_channel not in wanted and src.default_channel not in dst.channels:
            wanted.append(src.default_channel)
            res.notes.append(f"{src.name}: default channel {src.default_channel!r} kept (its head only)")
        for c in wanted:
            kept = _keep_channel(
                src, src.channels[c], minv if c in (sel.channels or [src.default_channel]) else None
            )
            prev = dst.channels.get(c)
            if prev is not None:
                names = {e.name for e in prev.entries}
                kept = Channel(
                    src.name, c, prev.entries + [e for e in kept.entries if e.name not in names], kept.raw
                )
                kept.entries.sort(key=lambda e: [x.name for x in src.channels[c].entries].index(e.name))
            dst.channels[c] = kept
            for e in kept.entries:
                if e.name in src.bundles:
                    dst.bundles[e.name] = src.bundles[e.name]
        done.add(src.name)
        # dependencies of what is kept now
        for b in list(dst.bundles.values()):
            for req in b.props(PKG_REQUIRED):
                if not isinstance(req, Mapping):
                    continue
                name, rng = str(req.get("packageName", "")), str(req.get("versionRange", ""))
                if satisfies(out, name, rng):
                    continue
                cands = satisfies(cat, name, rng)
                if not cands:
                    continue  # reported by validate(): missing dependency
                dep = cat.packages[name]
                low = min((c.version for c in cands if c.version), default=None)
                if name not in done and all(s.package != name for s in queue):
                    queue.append(Selection(name, [dep.default_channel], str(low) if low else ""))
                    res.added_dependencies.append(f"{name} {rng or ''}".strip() + f" (required by {b.name})")
    return res


def summary(cat: Catalog) -> list[dict[str, Any]]:
    rows = []
    for p in sorted(cat.packages.values(), key=lambda x: x.name):
        rows.append(
            {
                "package": p.name,
                "defaultChannel": p.default_channel,
                "channels": {
                    c.name: {
                        "head": (c.heads()[0] if len(c.heads()) == 1 else ""),
                        "versions": [
                            p.bundles[e.name].version_text for e in c.entries if e.name in p.bundles
                        ],
                    }
                    for c in sorted(p.channels.values(), key=lambda c: c.name)
                },
                "bundles": len(p.bundles),
            }
        )
    return rows
