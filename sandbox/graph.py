"""The lab's update graph (OpenShift Update Service / Cincinnati JSON).

Which versions exist, which channels carry them and which update edges connect them. The same model gives the
``previous`` list written into each synthetic release's ``release-metadata`` so payload and graph agree.

Rules (close to how Red Hat's graph looks for a z-stream and the next minor):

* a version ``4.Y.Z`` is in ``candidate-4.Y``, ``fast-4.Y``, ``stable-4.Y`` and in the same channels of the next
  minor ``4.(Y+1)`` (channels recommend updates within 4.(Y+1) and from 4.Y to 4.(Y+1)); a "fast only" version
  is missing from the ``stable`` channels;
* a version ``4.Y.Z`` (not fast-only) is also in the EUS channels ``eus-4.M`` of the even minors M from Y to
  Y+2: Red Hat's ``eus-4.N`` channels (N even) carry the releases of 4.(N-2), 4.(N-1) and 4.N so that an
  EUS-to-EUS update can pass through the odd minor in one channel (channel names: the graph-data repository's
  ``channels/eus-4.*.yaml``; documented as "eus-4.y, only when running an even-numbered 4.y release");
* within a minor every version has an edge to every later one;
* the newest version of 4.Y has an edge to every version of 4.(Y+1); older 4.Y versions only get a
  *conditional* edge to the first 4.(Y+1) version, carrying a risk.

Defaults: built 4.16.18 (current), 4.16.20, 4.17.3; listed but not built 4.16.19 and 4.17.4 (fast only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_VERSIONS = ("4.16.18", "4.16.20", "4.17.3")
DEFAULT_EXTRA_VERSIONS: dict[str, bool] = {"4.16.19": False, "4.17.4": True}
"""Versions listed in the graph but not built: version → fast-only."""
CHANNEL_KINDS = ("candidate", "fast", "stable")
ARCH = "amd64"

DEFAULT_RISK: dict[str, Any] = {
    "url": "https://sandbox.ocp-airgap.invalid/risks/SandboxWorkerDrainStall",
    "name": "SandboxWorkerDrainStall",
    "message": (
        "Updates from this release to the next minor version can stall while draining worker nodes that run "
        "workloads protected by a PodDisruptionBudget with no allowed disruptions."
    ),
    "matchingRules": [
        {
            "type": "PromQL",
            "promql": {
                "promql": (
                    'group(kube_poddisruptionbudget_status_pod_disruptions_allowed{namespace!~"openshift-.*"} == 0)\n'
                    "or\n0 * group(kube_poddisruptionbudget_status_pod_disruptions_allowed)\n"
                )
            },
        }
    ],
}


def parse_version(v: str) -> tuple[int, int, int]:
    core = v.split("-", 1)[0].split("+", 1)[0]
    major, minor, patch = (int(x) for x in core.split("."))
    return major, minor, patch


def minor_of(v: str) -> str:
    major, minor, _ = parse_version(v)
    return f"{major}.{minor}"


def channels_for(version: str, *, fast_only: bool = False) -> list[str]:
    major, minor, _ = parse_version(version)
    kinds = [k for k in CHANNEL_KINDS if not (fast_only and k == "stable")]
    out = [f"{k}-{major}.{m}" for m in (minor, minor + 1) for k in kinds]
    if not fast_only:
        out += [f"eus-{major}.{m}" for m in (minor, minor + 1, minor + 2) if m % 2 == 0]
    return out


def errata_url(version: str) -> str:
    n = 5000 + int(hashlib.sha256(version.encode()).hexdigest(), 16) % 4000
    return f"https://access.redhat.com/errata/RHBA-2024:{n}"


@dataclass
class GraphNode:
    version: str
    channels: list[str]
    built: bool
    fast_only: bool = False


@dataclass
class GraphModel:
    nodes: list[GraphNode]
    edges: list[tuple[str, str]] = field(default_factory=list)
    conditional: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def node(self, version: str) -> GraphNode:
        for n in self.nodes:
            if n.version == version:
                return n
        raise KeyError(version)

    def previous(self, version: str) -> list[str]:
        """Versions with a (plain or conditional) edge to ``version``, oldest first."""
        prev = {a for a, b in self.edges if b == version} | {
            a for a, b, _ in self.conditional if b == version
        }
        return sorted(prev, key=parse_version)

    @property
    def channels(self) -> list[str]:
        names = {c for n in self.nodes for c in n.channels}
        return sorted(
            names,
            key=lambda c: (
                parse_version(c.split("-", 1)[1] + ".0"),
                (*CHANNEL_KINDS, "eus").index(c.split("-")[0]),
            ),
        )

    def render(self, channel: str, payloads: Mapping[str, str]) -> dict[str, Any]:
        """Cincinnati JSON for one channel; ``payloads`` maps version → pull spec by digest."""
        members = [n for n in self.nodes if channel in n.channels]
        index = {n.version: i for i, n in enumerate(members)}
        nodes = []
        for n in members:
            nodes.append(
                {
                    "version": n.version,
                    "payload": payloads[n.version],
                    "metadata": {
                        "url": errata_url(n.version),
                        "io.openshift.upgrades.graph.release.channels": ",".join(n.channels),
                        "io.openshift.upgrades.graph.release.manifestref": payloads[n.version].rsplit("@", 1)[
                            -1
                        ],
                        "release.openshift.io/architecture": ARCH,
                    },
                }
            )
        edges = [[index[a], index[b]] for a, b in self.edges if a in index and b in index]
        conditional: list[dict[str, Any]] = []
        for a, b, risk in self.conditional:
            if a not in index or b not in index:
                continue
            for entry in conditional:  # group edges that share the same risk
                if entry["risks"] == [risk]:
                    entry["edges"].append({"from": a, "to": b})
                    break
            else:
                conditional.append({"edges": [{"from": a, "to": b}], "risks": [risk]})
        return {"version": 1, "nodes": nodes, "edges": edges, "conditionalEdges": conditional}


def build_model(
    versions: Iterable[str] = DEFAULT_VERSIONS,
    extra: Mapping[str, bool] | None = None,
    *,
    risk: Mapping[str, Any] | None = None,
) -> GraphModel:
    built = list(dict.fromkeys(versions))
    extra = dict(DEFAULT_EXTRA_VERSIONS if extra is None else extra)
    all_versions = sorted(set(built) | set(extra), key=parse_version)
    nodes = [
        GraphNode(v, channels_for(v, fast_only=extra.get(v, False)), v in built, extra.get(v, False))
        for v in all_versions
    ]
    model = GraphModel(nodes)
    by_minor: dict[tuple[int, int], list[str]] = {}
    for v in all_versions:
        by_minor.setdefault(parse_version(v)[:2], []).append(v)
    the_risk = dict(risk or DEFAULT_RISK)
    for (major, minor), vs in sorted(by_minor.items()):
        for i, a in enumerate(vs):
            for b in vs[i + 1 :]:
                model.edges.append((a, b))
        nxt = by_minor.get((major, minor + 1))
        if not nxt:
            continue
        newest = vs[-1]
        for b in nxt:
            model.edges.append((newest, b))
        for a in vs[:-1]:
            model.conditional.append((a, nxt[0], the_risk))
    return model


def graph_document(model: GraphModel, payloads: Mapping[str, str]) -> dict[str, Any]:
    """What :mod:`sandbox.httpd` serves: every channel's graph."""
    return {"arch": ARCH, "channels": {c: model.render(c, payloads) for c in model.channels}}


def placeholder_payload(release_repo: str, version: str) -> str:
    """A by-digest pull spec for a version listed in the graph but not built (nothing answers for it)."""
    return f"{release_repo}@sha256:" + hashlib.sha256(f"not-built:{version}".encode()).hexdigest()
