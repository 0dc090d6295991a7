"""Pull secret: validation with positions, merge of the mirror login, 0600 writes keeping the previous file,
the documented locations, and the cluster's global pull secret with restore."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import pullsecret
from engine.context import Context
from engine.errors import CredentialsError, InputError
from engine.events import Emitter, Recorder
from engine.plan import Plan

SEED = Path(__file__).resolve().parents[1] / "data" / "doc-11.3-pull-secret-examples.ja.txt"
"""The documentation's pull secret template and example, verbatim (both are malformed as printed)."""


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


def seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").splitlines()


def seed_example() -> str:
    """The example pull secret of 11.3 exactly as the page shows it (prompt included), de-indented."""
    lines = seed_lines()
    start = next(
        i for i, line in enumerate(lines) if line.strip().startswith('$ {"auths":{"cloud.openshift.com"')
    )
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith("}}}"))
    return textwrap.dedent("\n".join(lines[start : end + 1])) + "\n"


def seed_template() -> str:
    return next(
        line.strip() for line in seed_lines() if line.strip().startswith('{"auths":{"<local_registry>"')
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def good_doc() -> dict:
    return {
        "auths": {
            "quay.io": {"auth": b64("robot:quaypass-1234"), "email": "a@example.com"},
            "registry.redhat.io": {"auth": b64("rh:rhpass-5678")},
        }
    }


# ----- validation -----------------------------------------------------------------------------------------


def test_seed_example_with_prompt_names_prompt_and_missing_colon():
    text = seed_example()
    assert text.startswith('$ {"auths"')
    secret, problems = pullsecret.check(text, "pasted.json")
    assert secret is None
    assert [(p.line, p.column) for p in problems] == [(1, 1), (3, 30)]
    assert "shell prompt" in problems[0].message
    assert "Expecting ':' delimiter" in problems[1].message
    assert "registry" in problems[1].message  # the hint says what is missing
    assert text.splitlines()[2][29] == "{"  # column 30 is where the ':' should have been


def test_seed_example_without_prompt_fails_at_line_3_column_30():
    text = seed_example()[2:]
    with pytest.raises(InputError) as info:
        pullsecret.parse(text, "pull-secret.json")
    err = info.value
    assert (err.line, err.column) == (3, 30)
    assert err.message.startswith("pull-secret.json:3:30: not valid JSON")
    assert "jq" in err.fix


def test_seed_template_extra_brace_is_located():
    text = seed_template()
    _, problems = pullsecret.check(text)
    assert len(problems) == 1
    p = problems[0]
    assert p.line == 1
    assert text[p.column - 1] == ","  # the text after the '}' that closed the document too early
    assert text[p.column - 4 : p.column - 1] == "}}}"
    assert "Extra data" in p.message and "'}' too many" in p.message


def test_error_snippets_never_show_credentials():
    text = seed_example()
    _, problems = pullsecret.check(text)
    shown = " ".join(p.message + p.fix for p in problems)
    for value in ("NTE3MTMwNDB8dWhjLTFEZlN3VHkxOSTd4VGVGVU1MdTpleUpoYkdjaUailA==", "NTE3MTMwNDB8dWhj"):
        assert value not in shown


def test_missing_auths():
    _, problems = pullsecret.check('{"credsStore": "desktop"}')
    assert len(problems) == 1 and "no 'auths'" in problems[0].message


def test_non_base64_auth_is_located():
    text = '{\n  "auths": {\n    "quay.io": {\n      "auth": "not*base64!"\n    }\n  }\n}\n'
    _, problems = pullsecret.check(text)
    assert [(p.line, p.column) for p in problems] == [(4, 7)]
    assert "not valid base64" in problems[0].message
    assert "not*base64!" not in problems[0].message


def test_auth_without_colon():
    text = json.dumps({"auths": {"quay.io": {"auth": b64("useronly")}}}, indent=2)
    _, problems = pullsecret.check(text)
    assert len(problems) == 1
    assert "no ':'" in problems[0].message
    assert (problems[0].line, problems[0].column) == (4, 7)


def test_bad_registry_key_and_entry_without_auth():
    text = json.dumps({"auths": {"not a host": {"auth": b64("a:b")}, "quay.io": {"email": "x@y"}}}, indent=2)
    _, problems = pullsecret.check(text)
    messages = [p.message for p in problems]
    assert any("'not a host' is not a registry name" in m for m in messages)
    assert any("'quay.io' has no 'auth'" in m for m in messages)


def test_valid_secret_and_credentials():
    secret = pullsecret.parse(json.dumps(good_doc()))
    assert secret.registries == ["quay.io", "registry.redhat.io"]
    assert secret.credentials("quay.io") == ("robot", "quaypass-1234")
    assert secret.summary() == ["quay.io (robot)", "registry.redhat.io (rh)"]


# ----- the CLI ----------------------------------------------------------------------------------------------


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, input=stdin, timeout=60
    )


def test_cli_check_seed_example_exit_2_with_line_and_column(tmp_path):
    f = tmp_path / "pasted.json"
    f.write_text(seed_example())
    res = run_cli("pull-secret", "check", str(f))
    assert res.returncode == 2, res.stderr
    out = res.stdout + res.stderr
    assert f"{f}:1:1:" in out
    assert f"{f}:3:30:" in out
    assert "NTE3MTMwNDB8dWhj" not in out


def test_cli_check_from_stdin_and_json(tmp_path):
    res = run_cli("pull-secret", "check", "--json", "-", stdin=json.dumps(good_doc()))
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    result = events[-1]
    assert result["kind"] == "StepResult" and result["data"]["valid"] is True
    assert "quaypass-1234" not in res.stdout and b64("robot:quaypass-1234") not in res.stdout


# ----- merge and write ----------------------------------------------------------------------------------


def test_registry_key_forms():
    assert pullsecret.registry_key("mirror.example.com:8443") == "mirror.example.com:8443"
    assert pullsecret.registry_key("mirror.example.com:8443", "ocp4") == "mirror.example.com:8443/ocp4/"
    with pytest.raises(CredentialsError):
        pullsecret.check_registry_key("bad host:99999")


def ctx_for(tmp_path: Path) -> tuple[Context, Recorder]:
    plan = Plan()
    plan.cluster.kubeconfig = str(tmp_path / "no-kubeconfig")
    rec = Recorder()
    return Context(plan, Emitter("credentials", rec)), rec


def test_merge_writes_0600_keeps_previous_and_redacts_diff(tmp_path):
    base = pullsecret.parse(json.dumps(good_doc()), "pull-secret.json")
    dest = tmp_path / "auth" / "auth.json"
    update = pullsecret.prepare_merge(
        dest, base, "mirror.example.com:8443", "mirror-admin", "S3cret-mirror-pw"
    )
    rendered = update.change.render()
    assert "mirror.example.com:8443" in rendered
    assert "S3cret-mirror-pw" not in rendered and b64("mirror-admin:S3cret-mirror-pw") not in rendered
    assert not dest.exists()  # preparing changes nothing

    ctx, rec = ctx_for(tmp_path)
    assert pullsecret.write_auth_file(ctx, update) is None  # nothing to keep the first time
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    doc = json.loads(dest.read_text())
    assert set(doc["auths"]) == {"quay.io", "registry.redhat.io", "mirror.example.com:8443"}
    assert (
        base64.b64decode(doc["auths"]["mirror.example.com:8443"]["auth"]).decode()
        == "mirror-admin:S3cret-mirror-pw"
    )
    assert any(pullsecret.INSTALL_WARNING in t for t in rec.texts())

    # a second merge (namespace key) keeps what the file had, and the previous file as .bak (0600 too)
    update2 = pullsecret.prepare_merge(dest, None, "mirror.example.com:8443/ocp4/", "reader", "R34der-pw-x")
    assert update2.before is not None and update2.change.action == "update"
    backup = pullsecret.write_auth_file(ctx, update2)
    assert backup == dest.with_name("auth.json.bak")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert json.loads(backup.read_text()) == doc
    doc2 = json.loads(dest.read_text())
    assert "mirror.example.com:8443/ocp4/" in doc2["auths"] and "quay.io" in doc2["auths"]
    for event in rec.events:
        assert "S3cret-mirror-pw" not in json.dumps(event.to_dict(), default=str)


def test_merge_refuses_a_malformed_existing_file(tmp_path):
    dest = tmp_path / "auth.json"
    dest.write_text('{"auths": {"quay.io": {"auth": "x"}')
    with pytest.raises(InputError) as info:
        pullsecret.prepare_merge(dest, None, "mirror.example.com:8443", "u", "password-1")
    assert info.value.line == 1


def test_auth_file_locations_honour_registry_auth_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "env-auth.json"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    candidates = [str(p) for p, _ in pullsecret.auth_file_candidates()]
    assert candidates == [
        str(tmp_path / "env-auth.json"),
        str(tmp_path / "run" / "containers" / "auth.json"),
        os.path.expanduser("~/.docker/config.json"),
    ]
    assert pullsecret.auth_file_path(None) == tmp_path / "env-auth.json"
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    assert pullsecret.auth_file_path(None) == tmp_path / "run" / "containers" / "auth.json"
    plan = Plan()
    plan.auth_file = "merged.json"
    plan.source_path = str(tmp_path / "plan.yaml")
    assert pullsecret.auth_file_path(plan) == tmp_path / "merged.json"
    assert pullsecret.auth_file_path(plan, str(tmp_path / "chosen.json")) == tmp_path / "chosen.json"


# ----- the cluster's global pull secret (shared lab; restored by the test itself) ----------------------------


def cluster_secret_doc(sandbox) -> dict:
    from engine.cluster import SECRET, Cluster

    cluster = Cluster.connect(sandbox.kubeconfig, "admin")
    secret = cluster.get(SECRET, "pull-secret", "openshift-config")
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def test_load_from_cluster(sandbox):
    plan = Plan.load(sandbox.plan)
    rec = Recorder()
    secret = pullsecret.load_from_cluster(Context(plan, Emitter("credentials", rec)))
    assert secret.doc == cluster_secret_doc(sandbox)
    assert secret.registries
    [cmd] = [e.shell for e in rec.events if e.kind == "Command"]
    assert cmd == "oc extract secret/pull-secret -n openshift-config --confirm --to=."


def test_merge_update_cluster_and_restore(sandbox, tmp_path):
    original = cluster_secret_doc(sandbox)
    password = sandbox.mirror_password()
    out = tmp_path / "merged.json"
    state = tmp_path / "state"
    env = dict(os.environ, OCP_AIRGAP_STATE_DIR=str(state))
    repo = Path(__file__).resolve().parents[2]
    base = [sys.executable, "-m", "cli", "credentials"]
    res = subprocess.run(
        [
            *base,
            "merge",
            "--plan",
            sandbox.plan,
            "--from-cluster",
            "--auth-file",
            str(out),
            "--update-cluster",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "dry run" in res.stdout and not out.exists()
    assert cluster_secret_doc(sandbox) == original
    res = subprocess.run(
        [
            *base,
            "merge",
            "--plan",
            sandbox.plan,
            "--from-cluster",
            "--auth-file",
            str(out),
            "--update-cluster",
            "--yes",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        timeout=60,
    )
    try:
        assert res.returncode == 0, res.stderr
        for text in (res.stdout, res.stderr):
            assert password not in text
            assert b64(f"{sandbox.mirror.username}:{password}") not in text
        assert "never use it as the cluster's pull secret at install time" in res.stdout + res.stderr
        merged = json.loads(out.read_text())
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert set(original["auths"]) | {sandbox.mirror.registry} == set(merged["auths"])
        now = cluster_secret_doc(sandbox)
        assert base64.b64decode(now["auths"][sandbox.mirror.registry]["auth"]).decode() == (
            f"{sandbox.mirror.username}:{password}"
        )
        # the previous value is kept in a 0600 file under the state folder; the journal has its path only
        from engine.journal import Journal

        journal_path = next(state.rglob("journal.json"))
        journal = Journal(journal_path)
        [record] = [
            r
            for r in journal.changes("credentials")
            if r.data["resource"] == "secret/openshift-config/pull-secret"
        ]
        backup = Path(record.data["backup"])
        assert backup.is_relative_to(state)
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert json.loads(backup.read_text()) == original
        journal_text = journal_path.read_text()
        assert password not in journal_text
        for entry in original["auths"].values():
            assert entry["auth"] not in journal_text
    finally:
        res = subprocess.run(
            [*base, "restore-pull-secret", "--plan", sandbox.plan, "--yes"],
            capture_output=True,
            text=True,
            env=env,
            cwd=repo,
            timeout=60,
        )
    assert res.returncode == 0, res.stderr
    assert cluster_secret_doc(sandbox) == original
