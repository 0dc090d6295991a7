"""The runbook is valid shell (item 15): the credentials step's journaled commands — the jq merge run through
'sh -c' and the 'oc set data ... --from-file=.dockerconfigjson=PATH' of the cluster update — come out quoted and
unmangled, the whole runbook passes 'bash -n', and its read-only lines run against the lab."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.journal import Journal
from engine.plan import Plan
from engine.runbook import render_runbook, shell_line
from tests.guards.helpers import cli, plan_copy


def test_lines_that_are_not_shell_become_comments() -> None:
    assert shell_line(
        "oc set data secret/pull-secret --from-file=.dockerconfigjson=<merged file>"
    ).startswith("# not runnable as recorded")
    assert shell_line('oc patch x --patch \'{"a": 1}').startswith("# not valid shell as recorded")
    assert shell_line("oc get nodes | head", allow_operators=True) == "oc get nodes | head"
    assert shell_line(shlex.join(["sh", "-c", "jq . a > b"])) == shlex.join(["sh", "-c", "jq . a > b"])


def test_runbook_of_the_credentials_step_is_valid_shell(sandbox: Any, tmp_path: Path) -> None:
    from engine.workflow import journal_path

    state = tmp_path / "state"
    plan = plan_copy(sandbox, tmp_path)
    auth = tmp_path / "auth.json"
    P = ("--plan", str(plan))
    merged = cli(
        "credentials", "merge", *P, "--pull-secret", sandbox.pull_secret, "--auth-file", str(auth),
        "--update-cluster", "--password-stdin", "--yes", state=state, input=sandbox.mirror_password() + "\n",
    )  # fmt: skip
    try:
        assert merged.returncode == 0, merged.stdout + merged.stderr
    finally:  # the shared lab's pull secret is put back whatever happens
        restored = cli("credentials", "restore-pull-secret", *P, "--yes", state=state)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    preflight = cli("preflight", *P, "--json", state=state, timeout=300)
    shown = [json.loads(line) for line in preflight.stdout.splitlines() if line.startswith("{")]
    extra = {"preflight": [shlex.join(e["argv"]) for e in shown if e.get("kind") == "Command"]}
    assert extra["preflight"], preflight.stdout[-2000:]

    os.environ["OCP_AIRGAP_STATE_DIR"] = str(state)
    journal = Journal(journal_path(Plan.load(plan)))
    text = render_runbook(
        journal.records,
        cluster=journal.cluster,
        generated=datetime.now(UTC),
        operator="t",
        extra_commands=extra,
    )
    script = tmp_path / "runbook.sh"
    script.write_text(text)
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + text

    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    set_data = [line for line in lines if " set data secret/pull-secret " in line]
    assert len(set_data) >= 2, text  # the update and the restore
    for line in set_data:
        path = Path(shlex.split(line)[-1].split("=", 2)[2])
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600, line
        assert "redacted" not in line, line
    jq = next(line for line in lines if line.startswith("sh -c "))
    inner = shlex.split(jq)[2]
    assert inner.startswith("jq --arg auth ") and "MIRROR_PASSWORD" in inner, jq
    assert sandbox.mirror_password() not in text

    # the read-only lines (the registry probes of preflight) run as written against the lab
    probes = [line for line in lines if line.startswith("curl ")]
    assert probes, text
    env = {**os.environ, "CURL_CA_BUNDLE": sandbox.mirror.ca_file}
    for line in probes:
        ran = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)
        assert ran.returncode == 0 and ran.stdout.strip(), (line, ran.stderr)
        if line.endswith("/v2/"):
            assert ran.stdout.strip() in ("200", "401"), (line, ran.stdout)  # the registry answered
