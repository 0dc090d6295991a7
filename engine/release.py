"""Release selection (docs/steps/release.md): where the cluster is, where it can go, and the target's digest.

1. The current version and channel come from the cluster's ClusterVersion (``status.history``, ``spec.channel``);
   on a connected host without the cluster the user gives the current version. The plan's
   ``release.channel`` wins over the cluster's channel (the target's minor is often in the next channel).
2. The update graph comes from ``plan.endpoints.update_graph`` or from a file saved on the connected side
   (:mod:`engine.graph`); the shortest path from current to target is shown with its conditional edges and
   their risks; a target without a path is refused unless the user explicitly overrides.
3. The target's digest is resolved natively: a manifest ``HEAD`` of
   ``<release_source>:<version>-<arch>`` (what ``oc adm release info -o jsonpath={.digest}`` prints); when the
   graph names the release by digest too, both must agree.
4. Release facts — version, digest, component count, errata URL — come from the release image's
   ``release-metadata`` and ``image-references`` (:mod:`engine.oci.payload`), the errata URL also from the graph.
5. On request the digest is stored in the plan (``release.digest``) and the choice in the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.cluster import current_version
from engine.context import Context
from engine.errors import AirgapError, DigestMismatch, InputError, RegistryNotFound
from engine.graph import (
    Graph,
    PathChoice,
    UpdatePath,
    fetch_graph,
    go_arch,
    load_graph,
    merge_graphs,
    plan_path,
    save_graph,
)
from engine.util import minor_of
from engine.workflow import ctx_journal, journal_outcome

STEP = "release"


@dataclass
class ReleaseFacts:
    version: str
    digest: str
    pullspec: str
    components: int | None = None
    errata_url: str = ""
    channels: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Version:    {self.version}", f"Digest:     {self.digest}", f"Pull spec:  {self.pullspec}"]
        out.append(f"Components: {self.components if self.components is not None else 'unknown'}")
        if self.errata_url:
            out.append(f"Errata:     {self.errata_url}")
        return out


@dataclass
class ReleaseSelection:
    current: str
    channel: str
    target: str
    architecture: str
    choice: PathChoice
    facts: ReleaseFacts | None
    graph_source: str = ""
    hop_digests: dict[str, str] = field(default_factory=dict)
    """Digest of each version on the chosen path, as the graph names it."""
    hop_channels: dict[str, str] = field(default_factory=dict)
    """The channel the cluster is set to for each hop of the chosen path."""

    @property
    def digest(self) -> str:
        return self.facts.digest if self.facts else ""

    @property
    def next_hop(self) -> str:
        path = self.choice.chosen
        return path.hops[0].to if path and path.hops else self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "channel": self.channel,
            "target": self.target,
            "architecture": self.architecture,
            "digest": self.digest,
            "next_hop": self.next_hop,
            "path": self.choice.to_dict(),
            "facts": None
            if self.facts is None
            else {
                "version": self.facts.version,
                "digest": self.facts.digest,
                "pullspec": self.facts.pullspec,
                "components": self.facts.components,
                "errata_url": self.facts.errata_url,
            },
            "graph_source": self.graph_source,
            "hop_digests": self.hop_digests,
            "hop_channels": self.hop_channels,
        }


def cluster_position(ctx: Context) -> tuple[str, str]:
    """(current version, channel) of the cluster (``oc get clusterversion version``)."""
    ctx.emit.command(
        [
            "oc",
            *ctx.cluster.oc_args(),
            "get",
            "clusterversion",
            "version",
            "-o",
            "jsonpath={.status.history[0].version} {.spec.channel}",
        ]
    )
    cv = ctx.cluster.cluster_version()
    return current_version(cv), str((cv.get("spec") or {}).get("channel") or "")


def get_graph(ctx: Context, channel: str, *, graph_file: str = "", save_to: str = "") -> tuple[Graph, str]:
    """The graph of ``channel``: from ``graph_file`` when given, else fetched (and saved to ``save_to``)."""
    plan = ctx.plan
    arch = go_arch(plan.release.architecture)
    if graph_file:
        graph = load_graph(graph_file, channel=channel, arch=arch)
        ctx.emit.info(f"Read the update graph from {graph_file} ({len(graph.releases)} releases).")
        return graph, graph_file
    graph, raw = fetch_graph(
        plan.endpoints.update_graph,
        channel,
        arch,
        ca_file=plan.resolve_path(plan.endpoints.ca_file),
        emit=ctx.emit,
    )
    ctx.emit.info(f"Fetched the {channel} update graph for {arch}: {len(graph.releases)} releases.")
    if save_to:
        path = save_graph(save_to, raw)
        ctx.emit.info(f"Saved the graph to {path}: carry it to the disconnected side (--graph-file {path}).")
    return graph, plan.endpoints.update_graph


def _source_client(ctx: Context) -> tuple[Any, str, str]:
    from engine.authfile import AuthFile
    from engine.oci.registry import Reference, RegistryClient

    plan = ctx.plan
    ref = Reference.parse(f"{plan.endpoints.release_source}:x")
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    client = RegistryClient(
        ref.registry,
        auth=auth,
        ca_file=plan.resolve_path(plan.endpoints.source_ca_file),
        ca_setting="endpoints.source_ca_file",
    )
    return client, ref.registry, ref.repository


def resolve_digest(ctx: Context, version: str = "") -> str:
    """The release image digest of ``version`` (default: the plan's target), by a manifest HEAD on the source."""
    plan = ctx.plan
    version = version or plan.release.version
    tag = f"{version}-{plan.release.architecture}"
    ctx.emit.command(
        [
            "oc",
            "adm",
            "release",
            "info",
            "-o",
            'jsonpath={.digest}{"\\n"}',
            f"{plan.endpoints.release_source}:{tag}",
        ]
    )
    client, registry, repository = _source_client(ctx)
    with client:
        digest = client.head_manifest(repository, tag)
    if not digest:
        raise RegistryNotFound(
            f"{registry}/{repository}:{tag} does not exist",
            fix="Check release.version and release.architecture in the plan (tags look like 4.17.3-x86_64).",
        )
    return str(digest)


def read_release_info(ctx: Context, pullspec: str) -> Any:
    """The release image's own facts (release-metadata, image-references): an engine.oci.payload ReleaseInfo."""
    from engine.oci.payload import read_release_pullspec

    plan = ctx.plan
    ctx.emit.command(["oc", "adm", "release", "info", pullspec], note="version, components, errata URL")
    return read_release_pullspec(
        pullspec,
        auth_file=plan.resolve_path(plan.auth_file),
        ca_file=plan.resolve_path(plan.endpoints.source_ca_file),
        architecture=plan.release.architecture,
    )


def release_facts(ctx: Context, version: str, digest: str, graph: Graph | None = None) -> ReleaseFacts:
    """Version, digest, component count and errata URL of the release ``digest`` (read from the image)."""
    plan = ctx.plan
    pullspec = f"{plan.endpoints.release_source}@{digest}"
    node = graph.releases.get(version) if graph is not None else None
    info = read_release_info(ctx, pullspec)
    if info.version != version:
        raise DigestMismatch(
            f"the release image {pullspec} says it is version {info.version}, not {version}",
            fix="The tag points at another release: check release.version and the source registry.",
        )
    return ReleaseFacts(
        version=version,
        digest=digest,
        pullspec=pullspec,
        components=len(info.components),
        errata_url=info.errata_url or (node.url if node else ""),
        channels=list(info.channels) or (node.channels if node else []),
    )


def select_release(
    ctx: Context,
    *,
    current: str = "",
    graph_file: str = "",
    save_graph_to: str = "",
    allow_no_path: bool = False,
    resolve: bool = True,
) -> ReleaseSelection:
    """Current → target path and the target's facts. Raises PreconditionFailed when the graph has no path."""
    plan = ctx.plan
    if not (plan.release.target or plan.release.version):
        plan.require("release.version")
    channel = plan.release.channel
    if not current:
        current, cluster_channel = cluster_position(ctx)
        ctx.emit.info(f"The cluster runs {current}, channel {cluster_channel or '(none)'}.")
        if not channel:
            channel = cluster_channel
        elif cluster_channel and cluster_channel != channel:
            ctx.emit.info(
                f"Using the plan's channel {channel} (the cluster is in {cluster_channel}); the cluster's "
                f"channel itself is not changed: oc adm upgrade channel {channel}"
            )
    if not channel:
        raise InputError(
            "no update channel: the plan has none and the cluster's is not set",
            fix="Set release.channel in the plan, e.g. stable-4.17.",
        )
    target = plan.release.target or plan.release.version
    graph, source = get_graph(ctx, channel, graph_file=graph_file, save_to=save_graph_to)
    if not graph_file:
        graph = _widen(ctx, graph, channel, current, target)
    choice = plan_path(graph, current, target, allow_no_path=allow_no_path, emit=ctx.emit)
    hop_digests = {}
    path = choice.chosen
    for version in path.versions[1:] if path else []:
        node = graph.releases.get(version)
        if node and node.digest:
            hop_digests[version] = node.digest
    path_len = len(path.hops) if path else 0
    hop_channels = hop_channels_for(path, channel) if path else {}
    if path_len > 1 and path:
        ctx.emit.info(
            f"Reaching {target} takes {path_len} updates: "
            + "; ".join(f"{h.frm} -> {h.to} in {hop_channels.get(h.to, channel)}" for h in path.hops)
            + ". '--write-plan' stores the whole path (release.path): one mirroring run and one media trip "
            "carry every release, and 'ocp-airgap upgrade run-path' applies them hop by hop."
        )
    facts = None
    if resolve:
        digest = resolve_digest(ctx, target)
        graph_digest = graph.releases[target].digest if graph.has(target) else ""
        if graph_digest and graph_digest != digest:
            raise DigestMismatch(
                f"the update graph names {target} as {graph_digest} but the registry has {digest}",
                fix="The source registry or the graph is not the official one, or the tag was moved: "
                "check endpoints.release_source and endpoints.update_graph.",
            )
        facts = release_facts(ctx, target, digest, graph)
        for line in facts.lines():
            ctx.emit.info(line)
    return ReleaseSelection(
        current=current,
        channel=channel,
        target=target,
        architecture=plan.release.architecture,
        choice=choice,
        facts=facts,
        graph_source=source,
        hop_digests=hop_digests,
        hop_channels=hop_channels,
    )


def _widen(ctx: Context, graph: Graph, channel: str, current: str, target: str) -> Graph:
    """A ``stable-4.18`` graph does not carry 4.16 releases: when the plan's channel has the target but not the
    current version, also read the same kind of channel for every minor on the way and search their union (an
    ``eus-4.N`` channel carries the whole EUS-to-EUS path by itself)."""
    if graph.has(current) or not graph.has(target):
        return graph  # nothing to widen; a target the channel lacks is refused as it is
    kind, _, _ = channel.partition("-")
    lo, hi = minor_of(current), minor_of(target)
    if lo is None or hi is None or lo[0] != hi[0] or kind not in ("candidate", "fast", "stable", "eus"):
        return graph
    major = lo[0]
    graphs = [graph]
    for m in range(lo[1], hi[1] + 1):
        name = f"{kind}-{major}.{m}"
        if name == channel or (kind == "eus" and m % 2):
            continue
        try:
            g, _ = get_graph(ctx, name)
        except AirgapError as exc:
            ctx.emit.debug(f"channel {name} not read: {exc.message}")
            continue
        graphs.append(g)
    if len(graphs) == 1:
        return graph
    ctx.emit.info(f"The path crosses minors: searching the union of {', '.join(g.channel for g in graphs)}.")
    return merge_graphs(graphs)


def hop_channels_for(path: UpdatePath, channel: str) -> dict[str, str]:
    """The channel the cluster is set to before each hop (``oc adm upgrade channel ...``).

    An EUS channel carries the whole EUS-to-EUS path, so every hop keeps it (the documented control-plane-only
    procedure sets ``eus-4.(y+2)`` once and updates through 4.(y+1)); otherwise a hop into 4.M uses the same
    kind of channel of 4.M (``stable-4.M``), the channel that recommends updates into that minor."""
    kind, _, _ = channel.partition("-")
    out: dict[str, str] = {}
    for hop in path.hops:
        minor = minor_of(hop.to)
        out[hop.to] = channel if kind == "eus" or minor is None else f"{kind}-{minor[0]}.{minor[1]}"
    return out


def store_in_plan(ctx: Context, selection: ReleaseSelection, *, next_hop: bool = False) -> Path:
    """Write the target (or the first hop of a longer path) and its digest into the plan file; journal it."""
    plan = ctx.plan
    if not plan.source_path:
        raise InputError("the plan was not loaded from a file", fix="Save the plan first (--plan P).")
    version = selection.next_hop if next_hop else selection.target
    digest = selection.hop_digests.get(version, "") if next_hop else selection.digest
    if next_hop and version != selection.target:
        digest = resolve_digest(ctx, version)
        expected = selection.hop_digests.get(version)
        if expected and expected != digest:
            raise DigestMismatch(
                f"the update graph names {version} as {expected} but the registry has {digest}",
                fix="Check endpoints.release_source and endpoints.update_graph.",
            )
    if not digest:
        raise AirgapError("the target digest is not known", fix="Run the release step without --no-resolve.")
    chosen = selection.choice.chosen
    # the whole path, unless the admin chose one hop per pass (next_hop: the plan then holds no path)
    hops = (
        path_entries(ctx, selection) if not next_hop and chosen is not None and len(chosen.hops) > 1 else []
    )
    plan.release.target = selection.target
    plan.release.version = version
    plan.release.digest = digest
    plan.release.path = hops
    if not plan.release.channel:
        plan.release.channel = selection.channel
    plan.save(plan.source_path)
    if hops:
        ctx.emit.info(
            f"The plan stores the whole path (release.path): {selection.current} -> "
            + " -> ".join(f"{h['version']} [{h['channel']}]" for h in hops)
        )
    if version != selection.target:
        ctx.emit.info(
            f"The plan {plan.source_path} keeps the target {selection.target}; this pass updates to the hop "
            f"{version} at {digest}" + (f" (path: {' → '.join(chosen.versions)})" if chosen else "")
        )
    else:
        ctx.emit.info(f"The plan {plan.source_path} now targets {version} at {digest}.")
    hop = next((h for h in chosen.hops if h.to == version), None) if chosen else None
    try:
        ctx.journal.record_decision(
            STEP,
            "target",
            {
                "version": version,
                "digest": digest,
                "path": chosen.versions if chosen else [],
                # a conditional edge of the update graph: `upgrade start` asks for the risks to be accepted
                "from": hop.frm if hop else selection.current,
                "risks": [{"name": r.name, "message": r.message, "url": r.url} for r in hop.risks]
                if hop
                else [],
            },
            reason="release selection",
        )
    except InputError as exc:
        ctx.emit.debug(f"not recorded in a cluster journal ({exc.message})")
    path_text = " → ".join(chosen.versions) if chosen else version
    journal_outcome(
        ctx_journal(ctx),
        STEP,
        "succeeded",
        f"target {selection.target}"
        + (f", this pass to {version}" if version != selection.target else "")
        + f" at {digest} (path {path_text})",
        target=selection.target,
        version=version,
        digest=digest,
        path=[h["version"] for h in hops],
    )
    return Path(plan.source_path)


def path_entries(ctx: Context, selection: ReleaseSelection) -> list[dict[str, Any]]:
    """``release.path``: every release on the chosen path with its digest (resolved on the source registry and
    checked against the graph, or the graph's when the source cannot be asked), the channel for the hop and the
    risks of a conditional edge into it."""
    chosen = selection.choice.chosen
    out: list[dict[str, Any]] = []
    for hop in chosen.hops if chosen else ():
        version = hop.to
        expected = selection.hop_digests.get(version, "")
        if version == selection.target and selection.digest:
            digest = selection.digest
        elif selection.facts is not None:  # the source registry answers (not --no-resolve)
            digest = resolve_digest(ctx, version)
            if expected and expected != digest:
                raise DigestMismatch(
                    f"the update graph names {version} as {expected} but the registry has {digest}",
                    fix="Check endpoints.release_source and endpoints.update_graph.",
                )
        else:
            digest = expected
        out.append(
            {
                "version": version,
                "digest": digest,
                "channel": selection.hop_channels.get(version, selection.channel),
                "risks": [r.name for r in hop.risks],
            }
        )
    return out


__all__ = [
    "ReleaseFacts",
    "ReleaseSelection",
    "cluster_position",
    "get_graph",
    "release_facts",
    "resolve_digest",
    "select_release",
    "store_in_plan",
]
