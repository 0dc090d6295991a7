"""The one owner of the update's steps: their order, prerequisites, the host roles they run on, the names they
carry in the journal, and what the journal says about each of them.

The wizard's step list, ``ocp-airgap status``, the runbook and the change record all read the steps and their
states from here, so they can never disagree. Every engine operation journals its own outcome (``step-started``
/ ``step-finished`` under the step's journal name, see :func:`journal_outcome`); front ends never write outcomes.

**Host roles.** Where this host sits decides which steps run here, and which journal records them:

- ``direct`` — the host reaches the internet and the mirror registry (and the cluster): every step;
- ``connected`` — the host reaches the internet but not the cluster: credentials (the pull secret, from a file),
  release selection, mirroring *to removable media* and, optionally, the filtered operator catalog onto the same
  media. It never needs the cluster;
- ``disconnected`` — the host reaches the mirror registry and the cluster but not the internet: every step, with
  mirroring *from the media* and the release signature read from the media.

The role follows the plan's ``mirroring.mode`` (direct / to-media / from-media). Each role has its own journal
(:func:`journal_for`): a record written on one host is never taken as proof of something on the other. The media
carry the connected side's record, which the disconnected side reads (:func:`media_record`) and shows, read-only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import AirgapError, InputError
from engine.journal import Journal, Record, state_root

if TYPE_CHECKING:
    from engine.context import Context
    from engine.plan import Plan

DIRECT, CONNECTED, DISCONNECTED = "direct", "connected", "disconnected"
ROLES = (DIRECT, CONNECTED, DISCONNECTED)
ROLE_OF_MODE = {"direct": DIRECT, "to-media": CONNECTED, "from-media": DISCONNECTED}
MODE_OF_ROLE = {v: k for k, v in ROLE_OF_MODE.items()}
ROLE_TITLES = {
    DIRECT: "this host reaches the internet, the mirror registry and the cluster",
    CONNECTED: "connected side: this host reaches the internet, not the cluster",
    DISCONNECTED: "disconnected side: this host reaches the mirror registry and the cluster",
}

DONE = ("succeeded", "skipped")


@dataclass(frozen=True)
class Step:
    id: str
    """The step's id (wizard screens, ``status``, the runbook)."""
    title: str
    """Short title (fits 18 columns)."""
    what: str
    """One line: what the step achieves (``status``, the change record)."""
    command: str
    """The headless command that does it (``P`` stands for the plan file)."""
    journal: str = ""
    """The step's name in the journal; empty means the same as ``id``."""
    action: str = ""
    """For steps sharing a journal name: the ``action`` their records carry (MHC pause / resume)."""
    requires: tuple[str, ...] = ()
    """Steps that must be done (or skipped) first, among those of this host's role."""
    roles: tuple[str, ...] = ROLES
    optional: bool = False
    """The update can go on without it (skip it explicitly)."""
    needs_cluster: bool = True

    @property
    def journal_name(self) -> str:
        return self.journal or self.id


STEPS: tuple[Step, ...] = (
    Step(
        "preflight",
        "Preflight",
        "preflight checks of the cluster, the mirror registry and this host",
        "ocp-airgap preflight --plan P",
        roles=(DIRECT, DISCONNECTED),
    ),
    Step(
        "credentials",
        "Credentials",
        "pull secret merged with the mirror credentials (0600 auth file), mirror CA trusted",
        "ocp-airgap credentials merge --plan P",
        requires=("preflight",),
    ),
    Step(
        "release",
        "Release",
        "target release chosen from the update graph, its digest resolved",
        "ocp-airgap release --plan P --write-plan",
        requires=("credentials",),
        needs_cluster=False,
    ),
    Step(
        "mirror",
        "Mirroring",
        "release mirrored (into the mirror registry, or onto removable media on the connected side)",
        "ocp-airgap mirror --plan P",
        requires=("release",),
        needs_cluster=False,
    ),
    Step(
        "mirror-config",
        "Mirror config",
        "ImageDigestMirrorSet / ImageContentSourcePolicy in place",
        "ocp-airgap mirror-config apply --plan P",
        requires=("mirror",),
        roles=(DIRECT, DISCONNECTED),
    ),
    Step(
        "signature",
        "Signature",
        "release signature ConfigMap verified and applied",
        "ocp-airgap signature apply --plan P",
        requires=("mirror",),
        roles=(DIRECT, DISCONNECTED),
    ),
    Step(
        "catalog",
        "Operator catalog",
        "operator catalog pointed at the mirrored index image (optional)",
        "ocp-airgap catalog set --plan P NAME IMAGE",
        requires=("mirror",),
        optional=True,  # on the connected side it writes the filtered catalog onto the media
    ),
    Step(
        "mhc-pause",
        "Pause MHCs",
        "MachineHealthChecks paused",
        "ocp-airgap mhc pause --plan P",
        journal="mhc",
        action="pause",
        requires=("signature",),
        roles=(DIRECT, DISCONNECTED),
    ),
    Step(
        "upgrade",
        "Update & monitor",
        "cluster update started by digest and completed",
        "ocp-airgap upgrade start --plan P --watch",
        requires=("mirror-config", "signature", "mhc-pause"),
        roles=(DIRECT, DISCONNECTED),
    ),
    Step(
        "mhc-resume",
        "Resume & summary",
        "MachineHealthChecks paused by ocp-airgap resumed",
        "ocp-airgap mhc resume --plan P",
        journal="mhc",
        action="resume",
        requires=("upgrade",),
        roles=(DIRECT, DISCONNECTED),
    ),
)
STEP_IDS: tuple[str, ...] = tuple(s.id for s in STEPS)
BY_ID: dict[str, Step] = {s.id: s for s in STEPS}
TITLES: dict[str, str] = {s.id: s.title for s in STEPS}


def role_of(plan: Plan) -> str:
    return ROLE_OF_MODE.get(plan.mirroring.mode, DIRECT)


def require_cluster_side(plan: Plan, what: str = "use the cluster") -> None:
    """The connected side never needs the cluster: anything that would reach it there stops with this."""
    if role_of(plan) == CONNECTED:
        raise InputError(
            f"this host is the connected side (mirroring.mode: to-media): it does not reach the cluster, so it "
            f"cannot {what}",
            fix="Do cluster steps on the disconnected side. Here: give the pull secret as a file, give the "
            "cluster's current version with --current (release step), and mirror to the media.",
        )


def steps_for(role: str) -> tuple[Step, ...]:
    return tuple(s for s in STEPS if role in s.roles)


# ----- where the journal lives -----------------------------------------------------------------------------
def _plan_key(plan: Plan) -> str:
    """A folder name for a host without a cluster: from the media folder (the handoff), else the plan file."""
    basis = plan.resolve_path(plan.mirroring.media_path) or (plan.source_path or "") or "default"
    readable = "".join(c if c.isalnum() or c in ".-" else "_" for c in Path(basis).name)[:40] or "plan"
    return f"{readable}-{hashlib.sha256(os.path.abspath(basis).encode()).hexdigest()[:8]}"


def journal_path(plan: Plan, role: str | None = None, *, server: str = "") -> Path:
    """Where this plan's journal for ``role`` lives.

    - The plan names its state folder (``state_dir``): ``<state_dir>/<role>/journal.json`` — reopening the plan
      always finds its record (the sandbox lab's plan does this).
    - Otherwise the XDG state folder: per cluster (by API server URL) for the roles that reach the cluster, per
      media folder for the connected side.
    """
    role = role or role_of(plan)
    if plan.state_dir:
        return Path(plan.resolve_path(plan.state_dir)) / role / "journal.json"
    if role == CONNECTED:
        return state_root() / "connected" / _plan_key(plan) / "journal.json"
    from engine.journal import journal_path as cluster_journal_path

    if not server:
        from engine.cluster import kubeconfig_path, read_server_url

        server = read_server_url(
            kubeconfig_path(plan.resolve_path(plan.cluster.kubeconfig)), plan.cluster.context
        )
    return cluster_journal_path(server)


def journal_for(plan: Plan, role: str | None = None, *, server: str = "") -> Journal:
    role = role or role_of(plan)
    label = f"{role} host" if role == CONNECTED or not server else server
    path = journal_path(plan, role, server=server)
    if role != CONNECTED and not server:
        with contextlib.suppress(AirgapError):
            from engine.cluster import kubeconfig_path, read_server_url

            label = read_server_url(
                kubeconfig_path(plan.resolve_path(plan.cluster.kubeconfig)), plan.cluster.context
            )
    return Journal(path, cluster=label)


def find_journal(plan: Plan, role: str | None = None) -> Journal | None:
    """The journal if it can be located without contacting anything (None: no usable kubeconfig on a host
    that needs one)."""
    try:
        return journal_for(plan, role)
    except AirgapError:
        return None


# ----- the media's record (read-only on the disconnected side) -------------------------------------------
@dataclass
class MediaRecord:
    """What the connected side wrote onto the media: its journal's mirror outcome, read-only here."""

    path: str
    release: str = ""
    digest: str = ""
    finished: str = ""
    status: str = ""
    summary: str = ""
    operator: str = ""
    checksums_digest: str = ""

    def describe(self) -> str:
        if not self.status:
            return f"the media's record ({self.path}) holds no mirroring outcome"
        return (
            f"connected side: mirroring of {self.release or '?'} to the media {self.status} at {self.finished}"
            + (f" ({self.summary})" if self.summary else "")
        )


def media_record(plan: Plan) -> MediaRecord | None:
    """The connected side's record on the plan's media (``<media>/mirror/ocp-airgap/journal.json``); None when
    there is no media folder or no record on it. Never written from here."""
    from engine.mirror.core import media_dir
    from engine.mirror.media import STATE_DIR

    if not plan.mirroring.media_path:
        return None
    try:
        folder = Path(media_dir(plan)) / STATE_DIR
    except AirgapError:
        return None
    path = folder / "journal.json"
    if not path.is_file():
        return None
    try:
        records = Journal(path).records
    except (AirgapError, OSError, ValueError, TypeError):
        return MediaRecord(str(path), status="unreadable")
    rec = MediaRecord(str(path))
    for r in records:
        if r.step == "mirror" and r.kind == "step-finished":
            rec.status = str(r.data.get("status", ""))
            rec.summary = str(r.data.get("summary", ""))
            rec.finished = r.ts
            release = r.data.get("release")
            if isinstance(release, dict):
                rec.release = str(release.get("version", ""))
                rec.digest = str(release.get("digest", ""))
            elif release:
                rec.release = str(release)
            rec.checksums_digest = str(r.data.get("checksums_digest", ""))
        if r.step == "mirror" and r.kind == "step-started":
            rec.release = rec.release or str(r.data.get("release", ""))
            rec.digest = rec.digest or str(r.data.get("digest", ""))
    return rec


# ----- states ----------------------------------------------------------------------------------------------
@dataclass
class StepState:
    step: Step
    status: str = "pending"
    """pending | running | succeeded | failed | cancelled | skipped | n/a"""
    summary: str = ""
    when: str = ""
    missing: list[str] = field(default_factory=list)
    """Required earlier steps not done yet (this host's role)."""

    @property
    def done(self) -> bool:
        return self.status in DONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.id,
            "title": self.step.what,
            "status": self.status,
            "summary": self.summary,
            "when": self.when,
            "command": self.step.command,
            "required": not self.step.optional,
            "missing": list(self.missing),
        }


def _matches(step: Step, role: str, r: Record) -> bool:
    if r.step != step.journal_name:
        return False
    if step.action and r.data.get("action") not in (step.action, None):
        return False
    # a to-media run proves nothing about the mirror registry: on the cluster's side it never counts
    return not (step.id == "mirror" and role != CONNECTED and r.data.get("mode") == "to-media")


def _state_from_records(step: Step, role: str, records: Sequence[Record]) -> StepState:
    state = StepState(step)
    for r in reversed(records):
        data = r.data
        if (
            step.id == "mhc-resume"
            and r.step == "mhc"
            and r.kind == "step-finished"
            and data.get("action") == "pause"
            and data.get("status") == "succeeded"
        ):
            return state  # paused again since the last resume: a new update
        if r.kind == "decision" and r.step == step.journal_name:
            if step.id == "mhc-pause" and data.get("key") == "skip-pause" and data.get("value"):
                state.status, state.when = "skipped", r.ts
                state.summary = "the admin chose to update without pausing MachineHealthChecks"
                return state
            if data.get("key") == "skip-step" and data.get("value") == step.id:
                state.status, state.when = "skipped", r.ts
                state.summary = str(data.get("reason", "")) or "skipped by the admin"
                return state
        if r.kind not in ("step-started", "step-finished") or not _matches(step, role, r):
            continue
        if step.action and r.data.get("action") != step.action:
            continue
        state.when = r.ts
        if r.kind == "step-started":
            state.status = "running"
        else:
            state.status = str(r.data.get("status", "succeeded")) or "succeeded"
            state.summary = str(r.data.get("summary", ""))
        return state
    return state


def step_states(
    journal: Journal | None, role: str, *, records: Sequence[Record] | None = None
) -> list[StepState]:
    """Every step's state for ``role`` from the journal (steps of other roles are ``n/a``)."""
    recs = list(records) if records is not None else (journal.records if journal is not None else [])
    states = []
    for step in STEPS:
        if role not in step.roles:
            states.append(StepState(step, "n/a"))
            continue
        states.append(_state_from_records(step, role, recs))
    by = {s.step.id: s for s in states}
    _path_runs(by, recs)
    # MHC resume: nothing this tool paused remains (e.g. no MHC existed) once the pause step succeeded
    pause, resume = by["mhc-pause"], by["mhc-resume"]
    if journal is not None and resume.status == "pending" and pause.status == "succeeded":
        from engine.mhc import journal_states

        if not journal_states(journal) and by["upgrade"].status == "succeeded":
            resume.status, resume.summary = "succeeded", "nothing paused by ocp-airgap remains"
    if (
        pause.status == "skipped"
        and resume.status == "pending"
        and pause.summary.startswith("not applicable")
    ):
        resume.status, resume.summary = "skipped", pause.summary
    for s in states:
        if s.status == "n/a":
            continue
        s.missing = [req for req in s.step.requires if req in by and by[req].status not in ("n/a", *DONE)]
    return states


def path_run(records: Sequence[Record], step: str) -> dict[str, Any] | None:
    """The latest run of ``step`` (``mirror`` or ``upgrade``) over a whole update path: its records carry
    ``path`` (the releases, in order). Returns path, status (running until its outcome is recorded), the
    releases done (mirror: hop outcomes; upgrade: hop notes), the hop in progress and a line of text."""
    start = next(
        (r for r in reversed(records) if r.step == step and r.kind == "step-started" and "path" in r.data),
        None,
    )
    if start is None:
        return None
    later = [r for r in records if r.seq > start.seq and r.step == step]
    finish = next((r for r in later if r.kind == "step-finished" and "path" in r.data), None)
    path = [str(v) for v in start.data.get("path") or []]
    if step == "upgrade":
        done = [str(r.data["hop"]) for r in later if r.kind == "note" and r.data.get("event") == "finished"]
        begun = [str(r.data["hop"]) for r in later if r.kind == "note" and r.data.get("event") == "started"]
        gated = [
            str(r.data.get("text", "")) for r in later if r.kind == "note" and r.data.get("event") == "gated"
        ]
    else:
        done = [
            str(r.data.get("version", ""))
            for r in later
            if r.kind == "step-finished" and "path" not in r.data and r.data.get("status") == "succeeded"
        ]
        begun, gated = [], []
    current = begun[-1] if begun and begun[-1] not in done else ""
    status = str(finish.data.get("status", "")) if finish else "running"
    text = f"path {' -> '.join(path)}: {len(done)} of {len(path)} done" + (
        f", now {current}" if current else ""
    )
    notes = [r for r in later if r.kind == "note"]
    if gated and not finish and notes and notes[-1].data.get("event") == "gated":
        text += f"; waiting for the admin: {gated[-1]}"
    return {
        "path": path,
        "done": done,
        "current": current,
        "status": status,
        "summary": str(finish.data.get("summary", "")) if finish else text,
        "text": text,
        "control_plane_only": bool(start.data.get("control_plane_only")),
        "started": start.ts,
    }


def _path_runs(by: dict[str, StepState], records: Sequence[Record]) -> None:
    """A step run over a whole update path is done only when its path-level outcome is recorded: the outcome of
    one release on the way (written by the one-release operation) does not finish it."""
    for sid in ("mirror", "upgrade"):
        state = by.get(sid)
        if state is None or state.status == "n/a":
            continue
        run = path_run(records, sid)
        if run is None:
            continue
        if run["status"] == "running" and state.status not in ("failed", "cancelled"):
            state.status, state.summary = "running", run["text"]
        elif run["status"] != "running" and state.status == "succeeded":
            state.summary = state.summary or run["summary"]


def states_by_id(journal: Journal | None, role: str) -> dict[str, StepState]:
    return {s.step.id: s for s in step_states(journal, role)}


def next_step(states: Sequence[StepState]) -> StepState | None:
    """Where to continue: a step recorded as running, else the first one of this role not done."""
    running = [s for s in states if s.status == "running"]
    if running:
        return running[-1]
    for s in states:
        if s.status not in ("n/a", *DONE):
            return s
    return None


# ----- outcomes --------------------------------------------------------------------------------------------
def journal_outcome(journal: Journal | None, step: str, status: str, summary: str = "", **data: Any) -> None:
    """Record a step's outcome (operations call this; a missing journal — no cluster on this host — is fine)."""
    if journal is None:
        return
    journal.step_finished(BY_ID[step].journal_name if step in BY_ID else step, status, summary, **data)


@contextlib.contextmanager
def outcome(ctx: Context, step: str, **data: Any) -> Iterator[dict[str, Any]]:
    """Journal ``step`` as started, then finished with the status the block leaves in the yielded dict
    (``status``, ``summary``; default succeeded), or failed/cancelled when it raises."""
    from engine.errors import Cancelled

    journal = ctx_journal(ctx)
    name = BY_ID[step].journal_name if step in BY_ID else step
    if journal is not None:
        journal.step_started(name, **data)
    result: dict[str, Any] = {"status": "succeeded", "summary": ""}
    try:
        yield result
    except BaseException as exc:
        if journal is not None:
            with contextlib.suppress(Exception):
                status = "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else "failed"
                text = exc.message if isinstance(exc, AirgapError) else type(exc).__name__
                journal.step_finished(name, status, text, **data)
        raise
    if journal is not None:
        extra = {k: v for k, v in result.items() if k not in ("status", "summary")}
        journal.step_finished(name, str(result["status"]), str(result["summary"]), **data, **extra)


def ctx_journal(ctx: Context) -> Journal | None:
    """The context's journal, or None when it cannot be located (no kubeconfig on a host that needs one)."""
    try:
        return ctx.journal
    except (AirgapError, OSError):
        return None


def skip(journal: Journal, step: str, reason: str) -> None:
    """The admin's explicit decision to skip an optional step (journaled)."""
    s = BY_ID[step]
    if not s.optional:
        raise InputError(
            f"the step {s.title!r} cannot be skipped", fix="It is required for the update; do it, then go on."
        )
    journal.record_decision(s.journal_name, "skip-step", step, reason=reason)


def describe_states(states: Sequence[StepState]) -> str:
    return json.dumps([s.to_dict() for s in states], indent=1)
