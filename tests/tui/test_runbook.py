"""The runbook and change record, generated headless from a real journal file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from engine.journal import Journal
from engine.redact import register_secret
from engine.runbook import render_change_record, render_runbook, write_handoff
from tests.tui.conftest import FIXED_NOW


def _journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.json", cluster="https://api.lab.example:6443")
    j.step_started("signature", digest="sha256:" + "a" * 64)
    j.change(
        "signature",
        "create",
        "configmap/openshift-config-managed/release-image-4.16.20",
        before=None,
        after={"name": "release-image-4.16.20"},
        command="oc apply -f signature-sha256-aaaaaaaaaaaaaaaa.yaml",
    )
    j.step_finished("signature", "succeeded", "signature ConfigMap applied")
    j.record_decision("mhc", "skip-pause", False, "paused as documented")
    j.change(
        "mhc",
        "pause",
        "machinehealthcheck/openshift-machine-api/worker-mhc",
        before={"annotation": False},
        after={"annotation": True},
        command='oc -n openshift-machine-api annotate mhc worker-mhc cluster.x-k8s.io/paused=""',
        phase="done",
    )
    return j


def test_runbook_lists_every_recorded_command_in_order(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    text = render_runbook(
        j.records,
        cluster=j.cluster,
        generated=FIXED_NOW,
        operator="oncall@bastion",
        extra_commands={"upgrade": ["oc adm upgrade"]},
    )
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    sig = text.index("oc apply -f signature-sha256-aaaaaaaaaaaaaaaa.yaml")
    mhc = text.index('oc -n openshift-machine-api annotate mhc worker-mhc cluster.x-k8s.io/paused=""')
    up = text.index("oc adm upgrade")
    assert sig < mhc < up
    assert "# decision: skip-pause = False (paused as documented)" in text
    assert "2025-03-14T09:26:53+00:00 by oncall@bastion" in text
    # the script is valid shell syntax
    script = tmp_path / "runbook.sh"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0


def test_change_record_has_who_when_and_before_after(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    md = render_change_record(
        j.records,
        cluster=j.cluster,
        generated=FIXED_NOW,
        operator="oncall@bastion",
        plan_summary={"Target": "4.16.20"},
    )
    assert "**Prepared by:** oncall@bastion" in md
    assert "**Cluster:** `https://api.lab.example:6443`" in md
    assert "| Signature | succeeded |" in md
    assert "## Changes (2)" in md
    assert "-  annotation: false" not in md  # YAML diff lines carry the real keys
    assert "-annotation: false" in md and "+annotation: true" in md
    assert "**Target:** 4.16.20" in md


def test_nothing_done_yet(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.json", cluster="https://x:6443")
    assert "# Nothing has been done yet." in render_runbook(
        [], cluster=j.cluster, generated=FIXED_NOW, operator="a"
    )
    assert "Nothing has been done yet." in render_change_record(
        [], cluster=j.cluster, generated=FIXED_NOW, operator="a"
    )


def test_write_handoff_modes_and_no_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-token-value-123"
    register_secret(secret)
    j = _journal(tmp_path)
    j.note("credentials", f"used token {secret}")
    runbook, record = write_handoff(
        j,
        tmp_path / "out",
        generated=FIXED_NOW,
        operator="oncall@bastion",
        extra_commands={"credentials": [f"echo {secret}"]},
    )
    assert oct(os.stat(runbook).st_mode & 0o777) == "0o700"
    assert oct(os.stat(record).st_mode & 0o777) == "0o644"
    assert secret not in runbook.read_text()
    assert secret not in record.read_text()
