"""The user's choices for one disconnected update, as a YAML file that can be reviewed, reused and run headless.

A plan never holds a secret: the mirror registry password lives in the system keyring (or, only if the user
explicitly chooses it, in a 0600 ``password_file``); registry credentials are in the auth file it points to.

Loading validates every field; a malformed or invalid plan raises :class:`~engine.errors.PlanError` naming the
file, line and column and what was expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from engine.errors import PlanError
from engine.fsutil import atomic_write_text
from engine.util import DIGEST

DEFAULT_RELEASE_SOURCE = "quay.io/openshift-release-dev/ocp-release"
DEFAULT_COMPONENT_SOURCE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
DEFAULT_SIGNATURE_STORE = "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release"
DEFAULT_UPDATE_GRAPH = "https://api.openshift.com/api/upgrades_info/v1/graph"
DEFAULT_OPERATOR_INDEX = "registry.redhat.io/redhat/redhat-operator-index"

ARCHITECTURES = ("x86_64", "aarch64", "s390x", "ppc64le", "multi")
MIRROR_MODES = ("direct", "to-media", "from-media")
BACKENDS = ("builtin", "oc", "oc-mirror")

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_HOSTPORT = re.compile(
    r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)"
    r"(?::(\d{1,5}))?$"
)
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_CHANNEL = re.compile(r"^(candidate|fast|stable|eus)-\d+\.\d+$")


def is_semver(value: str) -> bool:
    return bool(_SEMVER.match(value))


def is_host_port(value: str) -> bool:
    m = _HOSTPORT.match(value)
    return m is not None and (m.group(1) is None or 0 < int(m.group(1)) < 65536)


def is_repository(value: str) -> bool:
    return bool(_REPO.match(value))


def is_digest(value: str) -> bool:
    return bool(DIGEST.match(value))


@dataclass
class ClusterSettings:
    kubeconfig: str = ""
    """Path of the kubeconfig; empty means $KUBECONFIG or ~/.kube/config."""
    context: str = ""
    """Context in the kubeconfig; empty means its current-context."""


@dataclass
class MirrorSettings:
    registry: str = ""
    """The mirror registry, host[:port] (LOCAL_REGISTRY)."""
    repository: str = "ocp4/openshift4"
    """Repository on the mirror (LOCAL_REPOSITORY)."""
    release_images_repository: str = ""
    """Separate repository for release images, only with an OpenShift Update Service (OSUS)."""
    operators_prefix: str = "olm"
    """Operator content goes to <registry>/<operators_prefix>/<source path> (as oc-mirror keeps source paths)."""
    ca_file: str = ""
    """PEM file of the CA that signed the mirror registry's certificate; empty means system trust."""
    username: str = ""
    """User on the mirror registry; the password is kept in the system keyring."""
    password_file: str = ""
    """Only if the user chose it explicitly: a 0600 file holding the mirror password."""


@dataclass
class ReleaseSettings:
    version: str = ""
    """The release this pass updates to (OCP_RELEASE), e.g. 4.17.3: the target itself, or the next hop of a
    longer path (the release step stores it)."""
    target: str = ""
    """The final target of the update; empty means ``version``. Kept when ``version`` is a hop on the way."""
    architecture: str = "x86_64"
    channel: str = ""
    """Update channel, e.g. stable-4.17; empty means the cluster's current channel."""
    digest: str = ""
    """Release image digest once resolved (sha256:...)."""
    path: list[dict[str, Any]] = field(default_factory=list)
    """The whole update path from the cluster's version to ``target``, one entry per release to update to, in
    order: ``version``, ``digest``, ``channel`` (the channel the cluster is set to for that hop) and ``risks``
    (names of the risks of a conditional edge into it; empty for a recommended edge). Empty means one hop per
    pass (``version``)."""


@dataclass
class MirroringSettings:
    mode: str = "direct"
    """direct (host reaches internet and registry), to-media (connected side), from-media (disconnected side)."""
    media_path: str = ""
    """REMOVABLE_MEDIA_PATH for to-media / from-media."""
    backend: str = "builtin"
    """builtin (ocp-airgap's own client), oc (oc adm release mirror), oc-mirror (the oc-mirror v2 plugin)."""
    concurrency: int = 6
    upload_chunk_mb: int = 0
    """Size of each PATCH when uploading a blob to the mirror, in MiB. 0: automatic (64 MiB pieces; when the
    registry or a proxy in front of it answers 413 Request Entity Too Large, smaller ones, said once)."""
    stall_timeout: int = 60
    """Seconds without a byte from a registry before the connection counts as stalled and is retried."""


@dataclass
class Endpoints:
    release_source: str = DEFAULT_RELEASE_SOURCE
    """Where releases come from (quay.io/openshift-release-dev/ocp-release)."""
    component_source: str = DEFAULT_COMPONENT_SOURCE
    """Where release components come from (quay.io/openshift-release-dev/ocp-v4.0-art-dev)."""
    source_ca_file: str = ""
    """CA bundle for the release source registry; empty means system trust."""
    signature_store: str = DEFAULT_SIGNATURE_STORE
    update_graph: str = DEFAULT_UPDATE_GRAPH
    ca_file: str = ""
    """CA bundle for the signature store and update graph (https); empty means system trust."""
    sigstore_key: str = ""
    """PEM public key of the release's Sigstore (cosign) signature, to verify it on the connected side; empty:
    the key of the cluster's ClusterImagePolicy (preflight)."""
    operator_index: str = DEFAULT_OPERATOR_INDEX
    """The operator catalog's index image repository; its tag is ``v<target minor>``."""
    operator_index_ca_file: str = ""
    """CA bundle for the operator index registry (and the operator images next to it); empty: system trust."""


@dataclass
class Plan:
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    mirroring: MirroringSettings = field(default_factory=MirroringSettings)
    endpoints: Endpoints = field(default_factory=Endpoints)
    auth_file: str = ""
    """The merged pull secret (LOCAL_SECRET_JSON): upstream + mirror credentials, mode 0600."""
    oc_path: str = ""
    """Path of the oc binary; empty means search $PATH."""
    state_dir: str = ""
    """Where this plan's journals live (one per host role); empty means the user's state folder (per cluster,
    or per media folder on the connected side). Relative to the plan file."""

    source_path: str | None = field(default=None, compare=False, repr=False)

    KIND: ClassVar[str] = "ocp-airgap/plan-v1"

    # ----- derived values -------------------------------------------------------------------------------
    @property
    def release_tag(self) -> str:
        return f"{self.release.version}-{self.release.architecture}"

    @property
    def source_pullspec(self) -> str:
        """quay.io/${PRODUCT_REPO}/${RELEASE_NAME}:${OCP_RELEASE}-${ARCHITECTURE}"""
        return f"{self.endpoints.release_source}:{self.release_tag}"

    @property
    def mirror_repository(self) -> str:
        """LOCAL_REGISTRY/LOCAL_REPOSITORY"""
        return f"{self.mirror.registry}/{self.mirror.repository}"

    def mirror_pullspec(self, digest: str | None = None) -> str:
        digest = digest or self.release.digest
        if not digest:
            raise PlanError("the release digest is not known yet", fix="Run the release step first.")
        return f"{self.mirror_repository}@{digest}"

    @property
    def path_versions(self) -> list[str]:
        """The versions of ``release.path`` in order (empty: one hop per pass)."""
        return [str(h.get("version", "")) for h in self.release.path if isinstance(h, dict)]

    def for_hop(self, version: str) -> Plan:
        """A copy of this plan narrowed to one hop of ``release.path``: ``release.version``/``digest`` (and the
        hop's channel) are the hop's; everything else, the source file included, is the same."""
        import copy

        hop = next((h for h in self.release.path if h.get("version") == version), None)
        if hop is None:
            raise PlanError(
                f"{version} is not on the plan's update path ({', '.join(self.path_versions) or 'none'})",
                fix="Store the path with 'ocp-airgap release --plan P --write-plan'.",
            )
        out = copy.deepcopy(self)
        out.source_path = self.source_path
        out.release.version = version
        out.release.digest = str(hop.get("digest", ""))
        if hop.get("channel"):
            out.release.channel = str(hop["channel"])
        return out

    def resolve_path(self, value: str) -> str:
        """Plan paths are relative to the plan file's folder."""
        if not value:
            return value
        p = Path(os.path.expanduser(value))
        if not p.is_absolute() and self.source_path:
            p = Path(self.source_path).parent / p
        return str(p)

    # ----- validation -----------------------------------------------------------------------------------
    def problems(self, *, require: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        """(dotted field, what is wrong) for every invalid value; ``require`` names fields that must be set."""
        out: list[tuple[str, str]] = []
        m, r, mi, e = self.mirror, self.release, self.mirroring, self.endpoints
        if m.registry and not is_host_port(m.registry):
            out.append(("mirror.registry", "expected host or host:port, e.g. registry.example.com:8443"))
        if m.repository and not is_repository(m.repository):
            out.append(("mirror.repository", "expected a lower-case repository path, e.g. ocp4/openshift4"))
        if m.operators_prefix and not is_repository(m.operators_prefix):
            out.append(("mirror.operators_prefix", "expected a lower-case repository path, e.g. olm"))
        if m.release_images_repository and not is_repository(m.release_images_repository):
            out.append(("mirror.release_images_repository", "expected a lower-case repository path"))
        if r.version and not is_semver(r.version):
            out.append(("release.version", "expected a release version such as 4.17.3"))
        if r.architecture not in ARCHITECTURES:
            out.append(("release.architecture", "expected one of " + ", ".join(ARCHITECTURES)))
        if r.digest and not is_digest(r.digest):
            out.append(("release.digest", "expected sha256: followed by 64 hex digits"))
        if r.channel and not _CHANNEL.match(r.channel):
            out.append(("release.channel", "expected a channel such as stable-4.17"))
        out += path_problems(r.path, r.target)
        if mi.mode not in MIRROR_MODES:
            out.append(("mirroring.mode", "expected one of " + ", ".join(MIRROR_MODES)))
        if mi.backend not in BACKENDS:
            out.append(("mirroring.backend", "expected one of " + ", ".join(BACKENDS)))
        if mi.mode in ("to-media", "from-media") and not mi.media_path:
            out.append(("mirroring.media_path", f"required with mode {mi.mode}"))
        if (
            self.state_dir
            and os.path.exists(self.resolve_path(self.state_dir))
            and not os.path.isdir(self.resolve_path(self.state_dir))
        ):
            out.append(("state_dir", "expected a folder (the journals live there), found a file"))
        if not 1 <= mi.concurrency <= 64:
            out.append(("mirroring.concurrency", "expected a number from 1 to 64"))
        if not 0 <= mi.upload_chunk_mb <= 4096:
            out.append(("mirroring.upload_chunk_mb", "expected a number of MiB from 0 (automatic) to 4096"))
        if not 2 <= mi.stall_timeout <= 3600:
            out.append(("mirroring.stall_timeout", "expected a number of seconds from 2 to 3600"))
        for name in ("signature_store", "update_graph"):
            url = getattr(e, name)
            if not re.match(r"^(https?|file)://", url):
                out.append((f"endpoints.{name}", "expected an http(s):// or file:// URL"))
        src = e.release_source
        if (
            "/" not in src
            or not is_host_port(src.split("/", 1)[0])
            or not is_repository(src.split("/", 1)[1])
        ):
            out.append(
                ("endpoints.release_source", "expected registry/repository, e.g. " + DEFAULT_RELEASE_SOURCE)
            )
        for dotted in require:
            section, _, name = dotted.partition(".")
            value = getattr(getattr(self, section), name) if name else getattr(self, section)
            if not value:
                out.append((dotted, "required for this step"))
        return out

    def require(self, *names: str) -> None:
        """Raise a PlanError (with line/column when loaded from a file) if any named field is empty/invalid."""
        problems = self.problems(require=names)
        if problems:
            raise _plan_error(self, problems)

    # ----- YAML -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source_path", None)
        return {"kind": self.KIND, **data}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        atomic_write_text(Path(path), self.to_yaml(), mode=0o644)
        self.source_path = str(path)

    @classmethod
    def from_yaml(cls, text: str, path: str = "<plan>") -> Plan:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise PlanError(
                f"not valid YAML: {exc.problem or exc}",
                path=path,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                fix="Correct the YAML syntax at that position.",
            ) from None
        except yaml.YAMLError as exc:  # e.g. a control character (ReaderError): position in characters
            where = getattr(exc, "position", None)
            line = text.count("\n", 0, where) + 1 if isinstance(where, int) else None
            column = where - (text.rfind("\n", 0, where) + 1) + 1 if isinstance(where, int) else None
            raise PlanError(
                f"not a YAML text file: {getattr(exc, 'reason', '') or exc}",
                path=path,
                line=line,
                column=column,
                fix="Give the plan file (UTF-8 YAML text); create one with 'ocp-airgap plan new'.",
            ) from None
        if node is None:
            raise PlanError("the plan is empty", path=path, fix="Create one with 'ocp-airgap plan new'.")
        plan = cls()
        plan.source_path = path
        marks: dict[str, tuple[int, int]] = {}
        _load_mapping(plan, node, path, "", marks)
        plan._marks = marks  # type: ignore[attr-defined]
        problems = plan.problems()
        if problems:
            raise _plan_error(plan, problems)
        return plan

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Plan:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlanError(f"plan file {p} does not exist", fix="Check the path given to --plan.") from None
        except IsADirectoryError:
            raise PlanError(
                f"{p} is a folder, not a plan file", fix="Give the plan file (YAML) itself to --plan."
            ) from None
        except UnicodeDecodeError as exc:
            raise PlanError(
                f"plan file {p} is not UTF-8 text ({describe_encoding(exc)})",
                fix="Give the plan file (UTF-8 YAML text); if an editor saved it as UTF-16, save it as UTF-8.",
            ) from None
        except OSError as exc:
            raise PlanError(
                f"cannot read plan file {p}: {exc.strerror}", fix="Check the file's permissions."
            ) from None
        return cls.from_yaml(text, str(p))


def describe_encoding(exc: UnicodeDecodeError) -> str:
    """Why bytes are not UTF-8 text, in plain words (UTF-16 byte order mark, or the first bad byte)."""
    data = bytes(exc.object)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it is UTF-16 text"
    if b"\x00" in data[:4096]:
        return "it looks like a binary file"
    return f"byte {exc.start} is 0x{data[exc.start]:02x}, not UTF-8"


PATH_KEYS = ("version", "digest", "channel", "risks")


def path_problems(path: Any, target: str = "") -> list[tuple[str, str]]:
    """(dotted field, what is wrong) for ``release.path``: a list of hops, versions in increasing order."""
    if not isinstance(path, list):
        return [("release.path", "expected a list of hops (version, digest, channel, risks)")]
    out: list[tuple[str, str]] = []
    seen: list[str] = []
    for i, hop in enumerate(path):
        where = f"release.path[{i}]"
        if not isinstance(hop, dict):
            out.append((where, "expected a mapping with version, digest, channel, risks"))
            continue
        unknown = sorted(str(k) for k in hop if k not in PATH_KEYS)
        if unknown:
            out.append((f"{where}.{unknown[0]}", "unknown setting; expected one of: " + ", ".join(PATH_KEYS)))
        version = hop.get("version")
        if not isinstance(version, str) or not is_semver(version):
            out.append((f"{where}.version", "expected a release version such as 4.17.3"))
            continue
        digest = hop.get("digest", "")
        if digest and (not isinstance(digest, str) or not is_digest(digest)):
            out.append((f"{where}.digest", "expected sha256: followed by 64 hex digits"))
        channel = hop.get("channel", "")
        if channel and (not isinstance(channel, str) or not _CHANNEL.match(channel)):
            out.append((f"{where}.channel", "expected a channel such as eus-4.18 or stable-4.17"))
        risks = hop.get("risks", [])
        if not isinstance(risks, list) or not all(isinstance(x, str) for x in risks):
            out.append((f"{where}.risks", "expected a list of risk names"))
        if seen and _version_tuple(version) <= _version_tuple(seen[-1]):
            out.append((f"{where}.version", f"expected a version after {seen[-1]} (hops go forward)"))
        seen.append(version)
    if seen and target and seen[-1] != target:
        out.append(("release.path", f"the last hop is {seen[-1]}, but release.target is {target}"))
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("-", 1)[0].split("+", 1)[0].split("."))


_FIX_HINTS = {
    "state_dir": "Name a folder for 'state_dir' (created when missing), or remove it to keep the journals in the "
    "user's state folder.",
    "release.digest": "Resolve it with 'ocp-airgap release --plan {plan} --write-plan' (the release step of the wizard does the same).",
    "release.version": "Set 'release.version' in the plan to the target release, e.g. 4.17.3.",
    "mirror.registry": "Set 'mirror.registry' in the plan to the mirror registry's host:port.",
    "release.path": "Store the path again with 'ocp-airgap release --plan {plan} --write-plan'.",
}


def _plan_error(plan: Plan, problems: list[tuple[str, str]]) -> PlanError:
    dotted, what = problems[0]
    marks: dict[str, tuple[int, int]] = getattr(plan, "_marks", {})
    line, col = marks.get(dotted, (None, None))
    probe = dotted
    while line is None and ("." in probe or "[" in probe):  # release.path[1].digest → release.path[1] → ...
        probe = probe.rsplit(".", 1)[0] if probe.rfind(".") > probe.rfind("[") else probe.rsplit("[", 1)[0]
        line, col = marks.get(probe, (None, None))
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return PlanError(
        f"{dotted}: {what}{more}",
        path=plan.source_path,
        line=line,
        column=col,
        fix=_FIX_HINTS.get(
            "release.path" if dotted.startswith("release.path") else dotted, "Set '{dotted}' in the plan."
        ).format(plan=plan.source_path or "P", dotted=dotted),
    )


def _load_mapping(
    obj: Any, node: yaml.Node, path: str, prefix: str, marks: dict[str, tuple[int, int]]
) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise PlanError(
            f"{prefix.rstrip('.') or 'the plan'}: expected a mapping (key: value lines)",
            path=path,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
        )
    known = {f.name: f for f in fields(obj) if f.name != "source_path"}
    seen: dict[str, tuple[int, int]] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        dotted = prefix + str(key)
        where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        if not isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
            raise PlanError(
                f"{prefix.rstrip('.') or 'the plan'}: a setting name must be plain text",
                path=path,
                line=where[0],
                column=where[1],
                fix="Write each setting as 'name: value'.",
            )
        if key in seen:
            raise PlanError(
                f"duplicate setting {dotted!r} (first set at line {seen[key][0]}, column {seen[key][1]}); "
                "YAML would silently keep only the last one",
                path=path,
                line=where[0],
                column=where[1],
                fix="Keep one of the two and remove the other.",
            )
        seen[key] = where
        here = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
        marks[dotted] = here
        if not prefix and key == "kind":
            if value_node.value != Plan.KIND:
                raise PlanError(
                    f"kind: expected {Plan.KIND!r}, found {value_node.value!r}",
                    path=path,
                    line=here[0],
                    column=here[1],
                )
            continue
        if key not in known:
            raise PlanError(
                f"unknown setting {dotted!r}; expected one of: {', '.join(sorted(known))}",
                path=path,
                line=key_node.start_mark.line + 1,
                column=key_node.start_mark.column + 1,
                fix="Remove it or correct its spelling.",
            )
        current = getattr(obj, key)
        if hasattr(current, "__dataclass_fields__"):
            _load_mapping(current, value_node, path, dotted + ".", marks)
            continue
        if isinstance(current, list):
            _mark_sequence(value_node, dotted, marks)
        value = yaml.SafeLoader("").construct_object(value_node, deep=True)
        if value is None:
            value = "" if isinstance(current, str) else current
        expected = type(current)
        if expected is int and isinstance(value, bool) or not isinstance(value, expected):
            if expected is str and isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)  # e.g. version: 4.17 typed without quotes is still caught by validation
            else:
                raise PlanError(
                    f"{dotted}: expected {'a number' if expected is int else 'a list' if expected is list else 'text'}, "
                    f"found {value!r}",
                    path=path,
                    line=here[0],
                    column=here[1],
                )
        setattr(obj, key, value)


def _mark_sequence(node: yaml.Node, dotted: str, marks: dict[str, tuple[int, int]]) -> None:
    """Positions of a list's items and their keys (``release.path[1].digest``) for line/column errors."""
    if not isinstance(node, yaml.SequenceNode):
        return
    for i, item in enumerate(node.value):
        where = f"{dotted}[{i}]"
        marks[where] = (item.start_mark.line + 1, item.start_mark.column + 1)
        if isinstance(item, yaml.MappingNode):
            for k, v in item.value:
                marks[f"{where}.{k.value}"] = (v.start_mark.line + 1, v.start_mark.column + 1)
