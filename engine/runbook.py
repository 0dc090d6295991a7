"""The runbook and the change record of a disconnected update, generated from the cluster's journal.

- :func:`render_runbook` — a shell script of the equivalent commands of everything done so far, step by step,
  in the order they were done (the ``command`` of every journaled change, plus commands the caller saw the
  engine emit), with the decisions as comments. It is a record to read and to replay by hand, so it starts
  with ``set -euo pipefail`` and never contains a secret (the journal never holds one, and every line is
  redacted again here).
- :func:`render_change_record` — Markdown for the on-call handoff and change management: who, when, which
  cluster, the steps with their outcome, every change with before/after, the decisions taken.

Pure functions of the journal records: no clock, user or host is read here (the caller passes them), so the
output is reproducible and testable without a terminal.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from engine.changes import Change
from engine.fsutil import atomic_write_text
from engine.journal import Journal, Record
from engine.redact import redact, redact_obj
from engine.workflow import STEPS

STEP_TITLES: dict[str, str] = {
    **{s.id: s.title for s in STEPS},
    # journal names that are not step ids
    "mhc": "MachineHealthChecks",
    "pools": "Worker pools (control-plane-only)",
    "pull-secret": "Pull secret",
    "trust": "Registry CA trust",
    "fixes": "Fixes for preflight findings",
}
"""Titles of the steps (engine.workflow) and of the other names records carry in the journal."""


@dataclass(frozen=True)
class StepSummary:
    step: str
    status: str
    summary: str
    started: str
    finished: str


def _title(step: str) -> str:
    return STEP_TITLES.get(step, step)


def _steps_in_order(records: Sequence[Record]) -> list[str]:
    seen: list[str] = []
    for r in records:
        if r.step not in seen:
            seen.append(r.step)
    return seen


def step_summaries(records: Sequence[Record]) -> list[StepSummary]:
    out: list[StepSummary] = []
    for step in _steps_in_order(records):
        started = finished = status = summary = ""
        for r in records:
            if r.step != step:
                continue
            if r.kind == "step-started":
                started = started or r.ts
                status = status or "running"
                if status != "running":
                    status = "running"
            elif r.kind == "step-finished":
                finished = r.ts
                status = str(r.data.get("status", ""))
                summary = str(r.data.get("summary", ""))
        if not status:
            status = "recorded"
        out.append(StepSummary(step, status, redact(summary), started, finished))
    return out


def render_runbook(
    records: Sequence[Record],
    *,
    cluster: str,
    generated: datetime,
    operator: str,
    extra_commands: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The shell runbook. ``extra_commands`` (step → commands) adds commands the engine emitted this session
    that the journal does not keep (reads, checks), after the journaled ones of that step."""
    extra = {k: list(v) for k, v in (extra_commands or {}).items()}
    lines = [
        "#!/usr/bin/env bash",
        "# ocp-airgap runbook: the equivalent commands of what was done, in order.",
        f"# cluster:   {redact(cluster)}",
        f"# generated: {generated.isoformat(timespec='seconds')} by {redact(operator)}",
        "# Read before replaying: steps already done on the cluster must not be repeated blindly.",
        "set -euo pipefail",
        "",
    ]
    steps = _steps_in_order(records)
    for step in extra:
        if step not in steps:
            steps.append(step)
    if not steps:
        lines.append("# Nothing has been done yet.")
    for step in steps:
        lines.append(f"# ---- {_title(step)} ({step}) " + "-" * max(0, 60 - len(_title(step)) - len(step)))
        wrote = False
        for r in records:
            if r.step != step:
                continue
            if r.kind == "change":
                cmd = str(r.data.get("command") or "").strip()
                what = f"{r.data.get('action', 'change')} {r.data.get('resource', '')}".strip()
                lines.append(f"# {r.ts}  {redact(what)}")
                if cmd:
                    lines.append(redact(cmd))
                else:
                    lines.append("#   (no single equivalent command was recorded for this change)")
                wrote = True
            elif r.kind == "decision":
                reason = f" ({r.data.get('reason')})" if r.data.get("reason") else ""
                lines.append(
                    f"# decision: {r.data.get('key')} = {json_scalar(r.data.get('value'))}{redact(str(reason))}"
                )
                wrote = True
            elif r.kind == "note" and r.data.get("hop"):
                lines.append(f"# {r.ts}  {redact(str(r.data.get('text', '')))}")
                wrote = True
            elif r.kind == "step-finished":
                lines.append(
                    f"# {r.ts}  {step} {r.data.get('status', '')}: {redact(str(r.data.get('summary', '')))}"
                )
                wrote = True
        for cmd in extra.get(step, []):
            lines.append(redact(cmd))
            wrote = True
        if not wrote:
            lines.append("# (started; nothing recorded yet)")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def json_scalar(value: Any) -> str:
    if isinstance(value, str):
        return shlex.quote(redact(value))
    return redact(str(value))


def _yaml_block(obj: Any) -> str:
    if obj is None:
        return "(none)"
    if isinstance(obj, str):
        return redact(obj)
    return yaml.safe_dump(redact_obj(obj), sort_keys=True, default_flow_style=False).rstrip("\n")


def render_change_record(
    records: Sequence[Record],
    *,
    cluster: str,
    generated: datetime,
    operator: str,
    plan_summary: Mapping[str, str] | None = None,
) -> str:
    """Markdown change record: who, when, what changed (before/after), steps and decisions."""
    out = ["# Change record: disconnected OpenShift update", ""]
    out.append(f"- **Cluster:** `{redact(cluster)}`")
    out.append(f"- **Prepared by:** {redact(operator)}")
    out.append(f"- **Generated:** {generated.isoformat(timespec='seconds')}")
    if records:
        out.append(f"- **Period:** {records[0].ts} to {records[-1].ts}")
    for key, value in (plan_summary or {}).items():
        out.append(f"- **{key}:** {redact(value)}")
    out.append("")

    out.append("## Steps")
    out.append("")
    summaries = step_summaries(records)
    if not summaries:
        out.append("Nothing has been done yet.")
    else:
        out.append("| step | status | finished | summary |")
        out.append("|---|---|---|---|")
        for s in summaries:
            summary = s.summary.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {_title(s.step)} | {s.status} | {s.finished or '-'} | {summary} |")
    out.append("")

    changes = [r for r in records if r.kind == "change"]
    out.append(f"## Changes ({len(changes)})")
    out.append("")
    if not changes:
        out.append("No change was made to the cluster or the host.")
        out.append("")
    for n, r in enumerate(changes, 1):
        d = r.data
        out.append(f"### {n}. {d.get('action', 'change')} `{redact(str(d.get('resource', '')))}`")
        out.append("")
        out.append(f"- when: {r.ts}")
        out.append(f"- step: {_title(r.step)}")
        if d.get("command"):
            out.append(f"- command: `{redact(str(d['command']))}`")
        extra = {k: v for k, v in d.items() if k not in ("action", "resource", "before", "after", "command")}
        for k, v in extra.items():
            out.append(f"- {k}: {redact(str(v))}")
        change = Change(
            title=str(d.get("action", "")),
            resource=str(d.get("resource", "")),
            before=d.get("before"),
            after=d.get("after"),
        )
        diff = change.diff()
        if diff:
            out.append("")
            out.append("```diff")
            out.append(diff.rstrip("\n"))
            out.append("```")
        else:
            out.append("")
            out.append("Before:")
            out.append("```yaml")
            out.append(_yaml_block(d.get("before")))
            out.append("```")
            out.append("After:")
            out.append("```yaml")
            out.append(_yaml_block(d.get("after")))
            out.append("```")
        out.append("")

    decisions = [r for r in records if r.kind == "decision"]
    notes = [r for r in records if r.kind == "note"]
    if decisions or notes:
        out.append("## Decisions and notes")
        out.append("")
        for r in decisions:
            reason = f" — {redact(str(r.data.get('reason')))}" if r.data.get("reason") else ""
            out.append(
                f"- {r.ts} ({_title(r.step)}): {r.data.get('key')} = {redact(str(r.data.get('value')))}{reason}"
            )
        for r in notes:
            out.append(f"- {r.ts} ({_title(r.step)}): {redact(str(r.data.get('text', '')))}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_handoff(
    journal: Journal,
    directory: str | Path,
    *,
    generated: datetime,
    operator: str,
    extra_commands: Mapping[str, Sequence[str]] | None = None,
    plan_summary: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``runbook.sh`` (0700) and ``change-record.md`` (0644) into ``directory``; returns both paths."""
    journal.reload()
    records = journal.records
    cluster = journal.cluster
    folder = Path(directory)
    runbook = folder / "runbook.sh"
    record = folder / "change-record.md"
    atomic_write_text(
        runbook,
        render_runbook(
            records, cluster=cluster, generated=generated, operator=operator, extra_commands=extra_commands
        ),
        mode=0o700,
    )
    atomic_write_text(
        record,
        render_change_record(
            records, cluster=cluster, generated=generated, operator=operator, plan_summary=plan_summary
        ),
        mode=0o644,
    )
    return runbook, record
