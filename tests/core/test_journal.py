import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from engine.errors import InputError
from engine.journal import Journal, cluster_key, journal_path
from tests.helpers import wait_until


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


def test_records_and_queries(tmp_path):
    j = Journal.for_cluster("https://api.lab.example:6443")
    j.step_started("mhc")
    j.change(
        "mhc",
        "annotate",
        "machinehealthcheck/openshift-machine-api/worker-mhc",
        before={},
        after={"paused": ""},
    )
    j.record_decision("preflight", "etcd-backup", "2026-11-25T02:00Z", reason="stated by admin")
    j.step_finished("mhc", "succeeded", "paused 1")
    again = Journal.for_cluster("https://api.lab.example:6443")
    assert [r.kind for r in again.records] == ["step-started", "change", "decision", "step-finished"]
    assert again.step_status("mhc") == "succeeded"
    assert again.decision("preflight", "etcd-backup") == "2026-11-25T02:00Z"
    assert again.changes("mhc")[0].data["resource"].endswith("worker-mhc")
    path = journal_path("https://api.lab.example:6443")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert path.parent.name == cluster_key("https://api.lab.example:6443")
    assert path.is_relative_to(tmp_path / "state")


def test_running_step_status():
    j = Journal(journal_path("https://x:6443"))
    j.step_started("upgrade")
    assert j.step_status("upgrade") == "running"
    assert j.step_status("never") is None


def test_never_holds_a_secret():
    j = Journal.for_cluster("https://x:6443")
    j.change(
        "credentials",
        "update",
        "secret/openshift-config/pull-secret",
        before={"data": {".dockerconfigjson": "c2VjcmV0"}},
        after={"auths": {"r:5000": {"auth": "dXNlcjpwYXNz"}}},
        command="oc set data secret/pull-secret --from-file=.dockerconfigjson=x --token=sha256~abcdefghijklmnop",
    )
    text = journal_path("https://x:6443").read_text()
    assert "c2VjcmV0" not in text and "dXNlcjpwYXNz" not in text and "abcdefghijklmnop" not in text


def test_two_writers_do_not_lose_records():
    a = Journal.for_cluster("https://x:6443")
    b = Journal.for_cluster("https://x:6443")
    a.note("s", "from a")
    b.note("s", "from b")  # b has not reloaded, but must not drop a's record
    a.note("s", "a again")
    assert [r.data["text"] for r in Journal.for_cluster("https://x:6443").records] == [
        "from a",
        "from b",
        "a again",
    ]


def test_damaged_journal_names_line_and_column():
    path = journal_path("https://x:6443")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "ocp-airgap/journal-v1",\n "records": [\n')
    with pytest.raises(InputError) as info:
        Journal(path)
    assert info.value.line == 3


def test_killed_writer_leaves_a_readable_journal(tmp_path):
    """SIGKILL a process that appends as fast as it can: the file is always complete JSON."""
    script = textwrap.dedent(
        """
        import sys
        from engine.journal import Journal
        j = Journal(sys.argv[1])
        print("ready", flush=True)
        i = 0
        while True:
            i += 1
            j.note("loop", "record %d" % i, payload="x" * 2000)
        """
    )
    path = tmp_path / "kill" / "journal.json"
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        # wait (bounded) until a few records exist, then kill mid-stream
        wait_until(lambda: path.exists() and path.stat().st_size > 20000, what="the journal to grow")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    doc = json.loads(path.read_text())
    assert len(doc["records"]) >= 5
    assert Journal(path).records[-1].kind == "note"
