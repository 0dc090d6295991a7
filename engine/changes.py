"""A change the engine is about to make, shown before it is made.

Every operation that changes the cluster or the host first builds :class:`Change` objects (what, before, after,
the equivalent command); the wizard shows them in a confirmation modal and the CLI prints them and asks
(``--yes`` / ``--dry-run``). Only then is the change applied and recorded in the journal.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.redact import redact, redact_obj


@dataclass
class Change:
    title: str
    """One line: 'Pause MachineHealthCheck worker-mhc'."""
    resource: str
    """'machinehealthcheck/openshift-machine-api/worker-mhc', or a host path."""
    before: Any = None
    """The object (or text) before the change; None when it is created."""
    after: Any = None
    """The object (or text) after the change; None when it is deleted."""
    command: list[str] = field(default_factory=list)
    """The equivalent oc (or shell) command."""

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        if self.after is None:
            return "delete"
        return "update"

    def diff(self) -> str:
        """A unified diff of before/after as YAML, secrets masked."""
        a = _as_text(self.before)
        b = _as_text(self.after)
        lines = difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True), fromfile="before", tofile="after", n=3
        )
        return "".join(lines)

    def render(self) -> str:
        out = [f"* {self.title}  [{self.action} {self.resource}]"]
        if self.command:
            out.append(f"  $ {redact(shlex.join(self.command))}")
        diff = self.diff()
        if diff:
            out.extend("  " + line for line in diff.rstrip("\n").splitlines())
        return "\n".join(out)


def render_changes(changes: list[Change]) -> str:
    if not changes:
        return "No change is needed."
    return "\n".join(c.render() for c in changes)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (a CA bundle, a script) as YAML literal blocks, one line of text per line of diff;
    the default quoted style puts a blank line between every two lines."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value.rstrip("\n") and not any(line != line.rstrip() for line in value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_BlockDumper.add_representer(str, _str_representer)


def _as_text(obj: Any) -> str:
    if obj is None:
        return ""
    if isinstance(obj, str):
        return redact(obj) if obj.endswith("\n") else redact(obj) + "\n"
    return yaml.dump(redact_obj(obj), Dumper=_BlockDumper, sort_keys=True, default_flow_style=False)
