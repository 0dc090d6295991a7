"""The crash-safe record of one cluster's disconnected update: every step started and finished, every change
made (with what was there before and after), every explicit decision the admin took.

One journal per cluster, under the XDG state dir (``$XDG_STATE_HOME/ocp-airgap/clusters/<key>/journal.json``,
or ``$OCP_AIRGAP_STATE_DIR/clusters/<key>/...``). Each record is appended by rewriting the whole file
atomically (write beside, fsync, rename, fsync folder) under an exclusive ``flock``, so a process killed at
any instant leaves the previous or the new journal, both readable, and two processes never lose each other's
records. Everything written passes through :func:`engine.redact.redact_obj`: the journal never holds a secret.

Resume and undo read it: which MachineHealthChecks *this tool* paused, the previous pull secret's location,
the previous CatalogSource image, the update that was started.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from engine.errors import InputError
from engine.fsutil import atomic_write_text
from engine.redact import redact_obj

FORMAT = "ocp-airgap/journal-v1"


def state_root() -> Path:
    override = os.environ.get("OCP_AIRGAP_STATE_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir("ocp-airgap", appauthor=False))


def cluster_key(server_url: str) -> str:
    """A stable, readable folder name for a cluster from its API server URL."""
    host = re.sub(r"^[a-z]+://", "", server_url.strip().lower()).rstrip("/")
    readable = re.sub(r"[^a-z0-9.-]+", "_", host)[:60]
    digest = hashlib.sha256(server_url.strip().encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def journal_path(server_url: str) -> Path:
    return state_root() / "clusters" / cluster_key(server_url) / "journal.json"


@dataclass(frozen=True)
class Record:
    seq: int
    ts: str
    kind: str
    """step-started | step-finished | change | decision | note"""
    step: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "step": self.step, "data": self.data}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    def __init__(self, path: str | os.PathLike[str], *, cluster: str = "") -> None:
        self.path = Path(path)
        self.cluster = cluster
        self._records: list[Record] = []
        self.reload()

    @classmethod
    def for_cluster(cls, server_url: str) -> Journal:
        return cls(journal_path(server_url), cluster=server_url)

    # ----- reading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._records = self._read()

    def _read(self) -> list[Record]:
        fix = "Restore it from a backup, or move it aside to start a fresh record."
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except UnicodeDecodeError:
            raise InputError(
                "the journal is damaged: it is not UTF-8 text", path=str(self.path), fix=fix
            ) from None
        except OSError as exc:
            raise InputError(
                f"cannot read the journal: {exc.strerror}",
                path=str(self.path),
                fix="Check the file's permissions.",
            ) from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"the journal is damaged: {exc.msg}",
                path=str(self.path),
                line=exc.lineno,
                column=exc.colno,
                fix=fix,
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise InputError(f"not an ocp-airgap journal (format {found!r})", path=str(self.path), fix=fix)
        if not self.cluster:
            self.cluster = str(doc.get("cluster", ""))
        raw = doc.get("records", [])
        if not isinstance(raw, list):
            raise InputError("the journal is damaged: 'records' is not a list", path=str(self.path), fix=fix)
        records = []
        for n, r in enumerate(raw, 1):
            try:
                if not isinstance(r, dict) or not isinstance(r.get("data", {}), dict):
                    raise TypeError
                record = Record(
                    seq=int(r["seq"]),
                    ts=str(r["ts"]),
                    kind=str(r["kind"]),
                    step=str(r["step"]),
                    data=dict(r.get("data") or {}),
                )
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"the journal is damaged: record {n} is not a journal record",
                    path=str(self.path),
                    fix=fix,
                ) from None
            records.append(record)
        return records

    @property
    def records(self) -> list[Record]:
        return list(self._records)

    def of_step(self, step: str) -> list[Record]:
        return [r for r in self._records if r.step == step]

    def last(self, kind: str, step: str | None = None) -> Record | None:
        for r in reversed(self._records):
            if r.kind == kind and (step is None or r.step == step):
                return r
        return None

    def step_status(self, step: str) -> str | None:
        """'running' if started and not finished, else the last finished status, else None."""
        for r in reversed(self._records):
            if r.step != step:
                continue
            if r.kind == "step-finished":
                return str(r.data.get("status", ""))
            if r.kind == "step-started":
                return "running"
        return None

    def changes(self, step: str | None = None) -> list[Record]:
        return [r for r in self._records if r.kind == "change" and (step is None or r.step == step)]

    def decision(self, step: str, key: str) -> Any:
        for r in reversed(self._records):
            if r.kind == "decision" and r.step == step and r.data.get("key") == key:
                return r.data.get("value")
        return None

    # ----- writing ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def append(self, kind: str, step: str, data: dict[str, Any] | None = None) -> Record:
        with self._locked():
            records = self._read()  # another process may have written since we last looked
            seq = (records[-1].seq + 1) if records else 1
            record = Record(seq=seq, ts=_now(), kind=kind, step=step, data=redact_obj(dict(data or {})))
            records.append(record)
            doc = {"format": FORMAT, "cluster": self.cluster, "records": [r.to_dict() for r in records]}
            atomic_write_text(self.path, json.dumps(doc, indent=1, sort_keys=False) + "\n", mode=0o600)
            self._records = records
            return record

    def step_started(self, step: str, **data: Any) -> Record:
        return self.append("step-started", step, data)

    def step_finished(self, step: str, status: str, summary: str = "", **data: Any) -> Record:
        return self.append("step-finished", step, {"status": status, "summary": summary, **data})

    def change(
        self,
        step: str,
        action: str,
        resource: str,
        before: Any = None,
        after: Any = None,
        command: str = "",
        **data: Any,
    ) -> Record:
        """A change this tool made: ``resource`` like 'machinehealthcheck/openshift-machine-api/worker-mhc'."""
        return self.append(
            "change",
            step,
            {
                "action": action,
                "resource": resource,
                "before": before,
                "after": after,
                "command": command,
                **data,
            },
        )

    def record_decision(self, step: str, key: str, value: Any, reason: str = "") -> Record:
        return self.append("decision", step, {"key": key, "value": value, "reason": reason})

    def note(self, step: str, text: str, **data: Any) -> Record:
        return self.append("note", step, {"text": text, **data})
