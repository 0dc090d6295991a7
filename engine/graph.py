"""The update graph (Cincinnati / OpenShift Update Service JSON, the update graph format) and update paths through it.

- :func:`fetch_graph` asks the graph endpoint (``plan.endpoints.update_graph``) for one channel and
  architecture (``arch`` is the Go name: ``amd64``, ``arm64``, ``s390x``, ``ppc64le``, or ``multi``) with
  ``Accept: application/json``; ``file://`` URLs read a saved graph. On the connected side, :func:`save_graph`
  keeps the answer byte for byte so it can be carried to the disconnected side and read with
  :func:`load_graph`.
- :func:`parse_graph` checks the document (``nodes``, ``edges`` as index pairs, ``conditionalEdges`` with
  version strings and risks) and names what is wrong, with line and column for broken JSON.
- :func:`plan_path` finds the shortest update path from the current version to the target (several hops when
  needed) the way the CVO reads the graph: an edge also listed in ``conditionalEdges`` is conditional, with
  the risks' name, message and URL. It prefers a path of recommended edges only, also reports a shorter one
  that needs conditional edges, and refuses a target with no path unless the user explicitly overrides.
"""

from __future__ import annotations

import heapq
import json
import re
import ssl
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engine.errors import AirgapError, InputError, PreconditionFailed, TLSError
from engine.events import Emitter
from engine.fsutil import atomic_write_bytes
from engine.util import minor_of, plain_http_warning, same_host_redirects, version_key

GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "ppc64le": "ppc64le", "multi": "multi"}

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def go_arch(architecture: str) -> str:
    """The ``arch`` parameter of the graph API for a release architecture (x86_64 → amd64...)."""
    try:
        return GO_ARCH[architecture]
    except KeyError:
        raise InputError(
            f"unknown architecture {architecture!r}", fix="Use one of: " + ", ".join(GO_ARCH)
        ) from None


# ----- model --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    name: str
    message: str
    url: str
    rules: tuple[str, ...] = ()
    """The matching rule types (``Always``, ``PromQL``)."""

    def describe(self) -> str:
        return f"{self.name}: {self.message.strip()} ({self.url})"


@dataclass(frozen=True)
class Release:
    version: str
    payload: str
    """Pull spec, by digest for OpenShift releases."""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def digest(self) -> str:
        return self.payload.rsplit("@", 1)[1] if "@" in self.payload else ""

    @property
    def url(self) -> str:
        """The errata URL (``metadata.url``)."""
        return str(self.metadata.get("url", ""))

    @property
    def channels(self) -> list[str]:
        raw = str(self.metadata.get("io.openshift.upgrades.graph.release.channels", ""))
        return [c for c in raw.split(",") if c]


@dataclass
class Graph:
    releases: dict[str, Release]
    edges: set[tuple[str, str]]
    """Every edge (from version, to version), recommended or conditional."""
    conditional: dict[tuple[str, str], list[Risk]]
    channel: str = ""
    arch: str = ""
    source: str = ""

    def has(self, version: str) -> bool:
        return version in self.releases

    def is_conditional(self, a: str, b: str) -> bool:
        return (a, b) in self.conditional

    def updates_from(self, version: str) -> list[Hop]:
        """Direct updates from ``version`` (recommended first, then conditional), newest first."""
        out = [Hop(a, b, self.conditional.get((a, b), [])) for a, b in self.edges if a == version]
        return sorted(out, key=lambda h: (h.conditional, [-x for x in version_key(h.to)[:3]]))

    def versions(self) -> list[str]:
        return sorted(self.releases, key=version_key)


@dataclass(frozen=True)
class Hop:
    frm: str
    to: str
    risks: list[Risk] = field(default_factory=list)
    explicit: bool = False
    """Not in the graph at all: the user overrode the missing path."""

    @property
    def conditional(self) -> bool:
        return bool(self.risks)

    def describe(self) -> str:
        if self.explicit:
            return f"{self.frm} -> {self.to}  (NOT in the update graph: explicit override)"
        if self.conditional:
            names = ", ".join(r.name for r in self.risks)
            return f"{self.frm} -> {self.to}  (conditional: {names})"
        return f"{self.frm} -> {self.to}  (recommended)"


@dataclass(frozen=True)
class UpdatePath:
    hops: tuple[Hop, ...]

    @property
    def versions(self) -> list[str]:
        if not self.hops:
            return []
        return [self.hops[0].frm] + [h.to for h in self.hops]

    @property
    def conditional(self) -> bool:
        return any(h.conditional for h in self.hops)

    @property
    def explicit(self) -> bool:
        return any(h.explicit for h in self.hops)

    @property
    def risks(self) -> list[Risk]:
        seen: dict[str, Risk] = {}
        for h in self.hops:
            for r in h.risks:
                seen.setdefault(r.name, r)
        return list(seen.values())

    def describe(self) -> str:
        return " -> ".join(self.versions)


@dataclass(frozen=True)
class PathChoice:
    current: str
    target: str
    recommended: UpdatePath | None
    """The shortest path made of recommended edges only."""
    shortest: UpdatePath | None
    """The shortest path when conditional edges may be used (None if it is not shorter than the recommended one)."""
    override: UpdatePath | None = None
    """A direct explicit update the user asked for although the graph has no path."""

    @property
    def chosen(self) -> UpdatePath | None:
        return self.recommended or self.shortest or self.override

    def to_dict(self) -> dict[str, Any]:
        def path(p: UpdatePath | None) -> Any:
            if p is None:
                return None
            return {
                "versions": p.versions,
                "hops": [
                    {
                        "from": h.frm,
                        "to": h.to,
                        "conditional": h.conditional,
                        "explicit": h.explicit,
                        "risks": [{"name": r.name, "message": r.message, "url": r.url} for r in h.risks],
                    }
                    for h in p.hops
                ],
            }

        return {
            "current": self.current,
            "target": self.target,
            "recommended": path(self.recommended),
            "shortest": path(self.shortest),
            "override": path(self.override),
        }


# ----- parsing ------------------------------------------------------------------------------------------


def _err(message: str, source: str, fix: str = "") -> InputError:
    return InputError(
        message,
        path=source or None,
        fix=fix or "Fetch the graph again on the connected side (ocp-airgap release --save-graph FILE).",
        title="Invalid update graph",
    )


def parse_graph(
    data: bytes | str | dict[str, Any], source: str = "", *, channel: str = "", arch: str = ""
) -> Graph:
    if isinstance(data, dict):
        doc: Any = data
    else:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not valid JSON: {exc.msg}",
                path=source or None,
                line=exc.lineno,
                column=exc.colno,
                fix="Fetch the graph again on the connected side (ocp-airgap release --save-graph FILE).",
                title="Invalid update graph",
            ) from None
    if not isinstance(doc, dict):
        raise _err("the graph is not a JSON object", source)
    if "kind" in doc and "value" in doc and "nodes" not in doc:
        raise _err(f"the graph service answered an error: {doc.get('kind')}: {doc.get('value')}", source)
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        raise _err("no 'nodes' list: this is not a Cincinnati update graph", source)
    releases: dict[str, Release] = {}
    order: list[str] = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("version"), str):
            raise _err(f"nodes[{i}] has no 'version' string", source)
        version = node["version"]
        payload = node.get("payload", "")
        if not isinstance(payload, str):
            raise _err(f"nodes[{i}] ({version}): 'payload' is not a string", source)
        meta = node.get("metadata") or {}
        if not isinstance(meta, dict):
            raise _err(f"nodes[{i}] ({version}): 'metadata' is not an object", source)
        if version in releases:
            raise _err(f"nodes[{i}]: version {version} is listed twice", source)
        releases[version] = Release(version, payload, dict(meta))
        order.append(version)
    edges: set[tuple[str, str]] = set()
    raw_edges = doc.get("edges") or []
    if not isinstance(raw_edges, list):
        raise _err("'edges' is not a list", source)
    for j, edge in enumerate(raw_edges):
        if (
            not isinstance(edge, list)
            or len(edge) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in edge)
        ):
            raise _err(f"edges[{j}] is not a pair of node indexes", source)
        a, b = edge
        if not (0 <= a < len(order) and 0 <= b < len(order)):
            raise _err(f"edges[{j}] = {edge} points outside the {len(order)} nodes", source)
        edges.add((order[a], order[b]))
    conditional: dict[tuple[str, str], list[Risk]] = {}
    raw_cond = doc.get("conditionalEdges") or []
    if not isinstance(raw_cond, list):
        raise _err("'conditionalEdges' is not a list", source)
    for k, block in enumerate(raw_cond):
        if not isinstance(block, dict):
            raise _err(f"conditionalEdges[{k}] is not an object", source)
        risks: list[Risk] = []
        for r, risk in enumerate(block.get("risks") or []):
            if not isinstance(risk, dict) or not risk.get("name"):
                raise _err(f"conditionalEdges[{k}].risks[{r}] has no name", source)
            rules = tuple(
                str(rule.get("type", ""))
                for rule in risk.get("matchingRules") or []
                if isinstance(rule, dict)
            )
            risks.append(
                Risk(str(risk["name"]), str(risk.get("message", "")), str(risk.get("url", "")), rules)
            )
        for e, edge in enumerate(block.get("edges") or []):
            if (
                not isinstance(edge, dict)
                or not isinstance(edge.get("from"), str)
                or not isinstance(edge.get("to"), str)
            ):
                raise _err(f"conditionalEdges[{k}].edges[{e}] needs 'from' and 'to' version strings", source)
            a, b = edge["from"], edge["to"]
            if a not in releases or b not in releases:
                continue  # the CVO ignores conditional edges to versions the channel does not carry
            bucket = conditional.setdefault((a, b), [])
            for risk_obj in risks:
                if risk_obj.name not in {x.name for x in bucket}:
                    bucket.append(risk_obj)
            edges.add((a, b))
    return Graph(releases, edges, conditional, channel=channel, arch=arch, source=source)


# ----- fetching and saving ------------------------------------------------------------------------------


def graph_request_url(url: str, channel: str, arch: str) -> str:
    query = urllib.parse.urlencode({"channel": channel, "arch": arch})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def fetch_graph(
    url: str,
    channel: str,
    arch: str,
    *,
    ca_file: str = "",
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    emit: Emitter | None = None,
) -> tuple[Graph, bytes]:
    """GET the graph of ``channel`` for ``arch`` (Go name); returns the parsed graph and the raw bytes."""
    if not channel:
        raise InputError(
            "no update channel is known",
            fix="Set release.channel in the plan (e.g. stable-4.17), or set the cluster's channel.",
        )
    if url.startswith("file://"):
        path = urllib.parse.urlparse(url).path
        raw = _read(Path(path))
        return parse_graph(raw, path, channel=channel, arch=arch), raw
    full = graph_request_url(url, channel, arch)
    if emit is not None and plain_http_warning(url, "the update graph"):
        emit.warning(plain_http_warning(url, "the update graph"))
    if emit is not None:
        emit.command(["curl", "-sSf", "-H", "Accept: application/json", full], note="the update graph")
    verify: ssl.SSLContext | bool = True
    if ca_file:
        verify = ssl.create_default_context(cafile=ca_file)
    try:
        with httpx.Client(
            verify=verify,
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
            event_hooks={"response": [same_host_redirects("the update graph")]},
        ) as client:
            resp = client.get(
                url, params={"channel": channel, "arch": arch}, headers={"Accept": "application/json"}
            )
    except httpx.ConnectError as exc:
        if _is_tls(exc):
            raise TLSError(
                f"the update graph at {url} presented a certificate this host does not trust ({exc})",
                fix="Set endpoints.ca_file in the plan to the CA bundle that signed it.",
            ) from None
        raise AirgapError(
            f"cannot reach the update graph at {url} ({exc})",
            fix="On a disconnected host, fetch the graph on the connected side with "
            "'ocp-airgap release --save-graph FILE' and carry the file (--graph-file FILE).",
            title="Update graph unreachable",
        ) from None
    except httpx.HTTPError as exc:
        raise AirgapError(
            f"the update graph request to {url} failed ({exc})",
            fix="Retry; or carry a saved graph file (--graph-file FILE).",
            title="Update graph unreachable",
        ) from None
    if resp.status_code != 200:
        detail = resp.text[:300]
        try:
            body = resp.json()
            if isinstance(body, dict) and "value" in body:
                detail = f"{body.get('kind')}: {body.get('value')}"
        except ValueError:
            pass
        fix = "Check endpoints.update_graph in the plan."
        if resp.status_code in (400, 404):
            fix = f"Check the channel ({channel}) and architecture ({arch}); " + fix
        raise AirgapError(
            f"the update graph at {url} answered {resp.status_code}: {detail}",
            fix=fix,
            title="Update graph error",
        )
    raw = resp.content
    return parse_graph(raw, full, channel=channel, arch=arch), raw


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"graph file {path} does not exist",
            fix="Save it on the connected side with 'ocp-airgap release --save-graph FILE' and carry it here.",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read graph file {path}: {exc.strerror}") from None


def load_graph(path: str | Path, *, channel: str = "", arch: str = "") -> Graph:
    p = Path(path)
    return parse_graph(_read(p), str(p), channel=channel, arch=arch)


def save_graph(path: str | Path, raw: bytes) -> Path:
    """Keep the graph exactly as served (so ``jq`` recipes and other tools read it too)."""
    p = Path(path)
    atomic_write_bytes(p, raw, mode=0o644)
    return p


# ----- paths --------------------------------------------------------------------------------------------


def _search(graph: Graph, current: str, target: str, *, allow_conditional: bool) -> UpdatePath | None:
    """Fewest hops first, then fewest conditional hops; ties prefer the newest intermediate versions."""
    adjacency: dict[str, list[str]] = {}
    for a, b in graph.edges:
        if not allow_conditional and (a, b) in graph.conditional:
            continue
        adjacency.setdefault(a, []).append(b)
    for targets in adjacency.values():
        targets.sort(key=version_key, reverse=True)
    heap: list[tuple[int, int, int, list[str]]] = [(0, 0, 0, [current])]
    best: dict[str, tuple[int, int]] = {current: (0, 0)}
    counter = 0
    while heap:
        hops, conds, _, path = heapq.heappop(heap)
        node = path[-1]
        if node == target:
            return UpdatePath(
                tuple(
                    Hop(a, b, list(graph.conditional.get((a, b), [])))
                    for a, b in zip(path, path[1:], strict=False)
                )
            )
        if best.get(node, (hops, conds)) < (hops, conds):
            continue
        for nxt in adjacency.get(node, []):
            if nxt in path:
                continue
            counter += 1
            new = (hops + 1, conds + (1 if (node, nxt) in graph.conditional else 0))
            if nxt not in best or new < best[nxt]:
                best[nxt] = new
                heapq.heappush(heap, (new[0], new[1], counter, [*path, nxt]))
    return None


def find_paths(graph: Graph, current: str, target: str) -> PathChoice:
    recommended = _search(graph, current, target, allow_conditional=False)
    shortest = _search(graph, current, target, allow_conditional=True)
    if shortest is not None and recommended is not None and len(shortest.hops) >= len(recommended.hops):
        shortest = None
    return PathChoice(current, target, recommended, shortest)


def plan_path(
    graph: Graph, current: str, target: str, *, allow_no_path: bool = False, emit: Emitter | None = None
) -> PathChoice:
    """The update path from ``current`` to ``target``; refuses a target the graph cannot reach.

    ``allow_no_path`` is the user's explicit override: the result then carries a direct, explicit hop."""
    where = f"the {graph.channel} graph" if graph.channel else "the update graph"
    if current == target:
        return PathChoice(current, target, UpdatePath(()), None)
    problem = ""
    fix = ""
    choice: PathChoice | None = None
    if not graph.releases:
        problem = (
            f"{where} has no release at all for architecture {graph.arch or '?'}: the architecture or the channel "
            "is not one the update service knows"
        )
        fix = (
            "Check release.architecture in the plan against the cluster's (oc get clusterversion version -o "
            "jsonpath='{.status.desired.architecture}'; empty means the node architecture, e.g. x86_64) and the "
            "channel name (e.g. stable-4.17)."
        )
    elif not graph.has(current):
        problem = f"the current version {current} is not in {where}"
        fix = (
            "Use the channel the cluster is in (oc get clusterversion version -o jsonpath='{.spec.channel}')."
        )
    elif not graph.has(target):
        near = ", ".join(v for v in graph.versions() if minor_of(v) == minor_of(target)) or "none"
        problem = f"the target version {target} is not in {where} (versions of that minor there: {near})"
        fix = "Choose a version the channel carries, or the channel of the target's minor version (e.g. stable-4.N)."
    else:
        choice = find_paths(graph, current, target)
        if choice.chosen is None:
            reachable = sorted({b for a, b in graph.edges if a == current}, key=version_key)
            problem = f"{where} has no update path from {current} to {target}" + (
                f"; direct updates from {current}: {', '.join(reachable)}" if reachable else ""
            )
            fix = "Choose a target the graph can reach (or an intermediate version first)."
    if problem:
        if not allow_no_path:
            raise PreconditionFailed(
                problem,
                fix=fix
                + " Updating along no path is unsupported; only if you must, override with --allow-no-path.",
                title="No update path",
            )
        if emit is not None:
            emit.warning(f"{problem}; continuing because you explicitly overrode it.")
        return PathChoice(current, target, None, None, UpdatePath((Hop(current, target, [], explicit=True),)))
    assert choice is not None
    if emit is not None:
        describe_choice(choice, emit)
    return choice


def giant_hop(current: str, target: str) -> str:
    """Why the CVO refuses to go from ``current`` to ``target`` at once, or "".

    The CVO's ClusterVersionGiantHop precondition (cluster-version-operator
    ``pkg/payload/precondition/clusterversion/gianthop.go``) refuses a target more than one minor version beyond
    the version it reconciles, and a new major version; it cannot be waived by ``oc adm upgrade``."""
    cur, tgt = minor_of(current), minor_of(target)
    if cur is None or tgt is None:
        return ""
    if tgt[0] > cur[0]:
        return (
            f"{target} has a larger major version than the current {current}: the cluster only updates within its "
            "major version"
        )
    if tgt[1] > cur[1] + 1:
        return (
            f"{target} is more than one minor version beyond the current {current}: the cluster refuses to skip a "
            f"minor version (precondition ClusterVersionGiantHop, reason MultipleMinorVersionsUpdate); it updates "
            f"only within {cur[0]}.{cur[1]} or to {cur[0]}.{cur[1] + 1}"
        )
    return ""


def intermediate(graph: Graph, current: str, target: str) -> str:
    """The release to update to first on the way from ``current`` to ``target`` when that skips a minor: on the
    graph's path, the last version still within the next minor; else the newest next-minor version the graph
    reaches from ``current``. "" when the graph knows none."""
    cur = minor_of(current)
    if cur is None or not graph.has(current):
        return ""
    allowed = (cur[0], cur[1] + 1)

    def fits(v: str) -> bool:
        m = minor_of(v)
        return m is not None and m <= allowed and m >= cur

    if graph.has(target):
        choice = find_paths(graph, current, target)
        path = choice.chosen
        if path is not None:
            steps = [v for v in path.versions[1:] if fits(v)]
            if steps:
                return steps[-1]
    candidates = sorted(
        (v for v in graph.versions() if minor_of(v) == allowed), key=version_key, reverse=True
    )
    for v in candidates:
        if find_paths(graph, current, v).chosen is not None:
            return v
    return ""


def describe_choice(choice: PathChoice, emit: Emitter) -> None:
    if choice.recommended is not None:
        hops = len(choice.recommended.hops)
        emit.info(
            f"Update path ({hops} update{'s' if hops != 1 else ''}, recommended edges only): "
            f"{choice.recommended.describe()}"
        )
    if choice.shortest is not None:
        label = "Shorter path" if choice.recommended else "Update path"
        emit.info(f"{label} with conditional updates: {choice.shortest.describe()}")
        for hop in choice.shortest.hops:
            emit.info("  " + hop.describe())
        for risk in choice.shortest.risks:
            emit.warning(f"Risk {risk.describe()}")
        if choice.recommended is None:
            emit.warning(
                "Every path to the target needs a conditional update: read the risks above; the update step "
                "asks you to accept them explicitly."
            )
    if choice.override is not None:
        emit.warning(f"Explicit update outside the graph: {choice.override.describe()}")


def merge_graphs(graphs: Iterable[Graph]) -> Graph:
    """The union of several channels' graphs (nodes, edges, conditional edges with their risks): a path across
    minors whose releases no single channel carries (e.g. ``stable-4.17`` then ``stable-4.18``)."""
    releases: dict[str, Release] = {}
    edges: set[tuple[str, str]] = set()
    conditional: dict[tuple[str, str], list[Risk]] = {}
    names, sources = [], []
    arch = ""
    for g in graphs:
        for v, r in g.releases.items():
            releases.setdefault(v, r)
        edges |= g.edges
        for k, risks in g.conditional.items():
            bucket = conditional.setdefault(k, [])
            bucket += [r for r in risks if r.name not in {x.name for x in bucket}]
        names.append(g.channel)
        sources.append(g.source)
        arch = arch or g.arch
    return Graph(
        releases,
        edges,
        conditional,
        channel="+".join(n for n in names if n),
        arch=arch,
        source=" ".join(s for s in sources if s),
    )


def risks_of(paths: Iterable[UpdatePath | None]) -> list[Risk]:
    out: dict[str, Risk] = {}
    for p in paths:
        if p is not None:
            for r in p.risks:
                out.setdefault(r.name, r)
    return list(out.values())


__all__ = [
    "GO_ARCH",
    "Graph",
    "Hop",
    "PathChoice",
    "Release",
    "Risk",
    "UpdatePath",
    "describe_choice",
    "fetch_graph",
    "find_paths",
    "go_arch",
    "graph_request_url",
    "load_graph",
    "merge_graphs",
    "minor_of",
    "parse_graph",
    "plan_path",
    "save_graph",
    "version_key",
]
