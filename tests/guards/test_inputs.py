"""Inputs that used to crash or mislead, each now one clear error with its cause, fix and exit code (items 10, 12,
13, 14): binary and UTF-16 plans, duplicate plan keys, unusable kubeconfigs, a folder given for a file (and a file
for a folder), password files, journals of the wrong shape, empty pull secrets, a '--current' typo, 'upgrade
watch' with nothing to watch, a closed output pipe, a wrong architecture, an insecure kubeconfig, plain http://
and cross-host redirects of the outside endpoints."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.context import Context
from engine.errors import AirgapError, CredentialsError, InputError
from engine.events import Emitter
from engine.plan import Plan
from tests.guards.helpers import ROOT, assert_clear_error, cli, plan_copy

# ----------------------------------------------------------------------------------------------- plan files


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("kind: ocp-airgap/plan-v1\n".encode("utf-16"), "it is UTF-16 text"),
        (bytes(range(256)) * 4, "it looks like a binary file"),
        (b"kind: ocp-airgap/plan-v1\nrelease: {version: \xe9}\n", "not UTF-8"),
        (b"kind: ocp-airgap/plan-v1\nmirror: \x01\n", "not a YAML text file"),
    ],
)
def test_binary_or_utf16_plan(content: bytes, phrase: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(content)
    for args in (("plan", "check", str(plan)), ("preflight", "--plan", str(plan))):
        res = cli(*args, state=tmp_path / "state")
        assert_clear_error(res, 2, phrase)
    assert not (tmp_path / "state").exists()


def test_duplicate_plan_key_is_refused_with_line_and_column(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "kind: ocp-airgap/plan-v1\nrelease:\n  version: 4.17.3\n  channel: stable-4.17\n  version: 4.17.4\n"
    )
    res = cli("plan", "check", str(plan), state=tmp_path / "state")
    assert_clear_error(res, 2, f"{plan}:5:3: duplicate setting 'release.version'", "first set at line 3")


def test_folder_given_as_plan(tmp_path: Path) -> None:
    res = cli("plan", "check", str(tmp_path), state=tmp_path / "state")
    assert_clear_error(res, 2, "is a folder, not a plan file")


# ----------------------------------------------------------------------------------------------- kubeconfig


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (random.Random(8).randbytes(64) + b"\xff\xfe", "is not a text file"),
        (b"just a string\n", "not a kubeconfig"),
        (b"contexts: 3\ncurrent-context: x\n", "'contexts' is not a list"),
        (b"apiVersion: v1\nkind: Config\ncurrent-context: nowhere\ncontexts: []\n", "context 'nowhere'"),
        (b"clusters: [\n", "not valid YAML"),
        (None, "is a folder, not a file"),
    ],
)
def test_unusable_kubeconfig(content: bytes | None, phrase: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    if content is None:
        kubeconfig.mkdir()
    else:
        kubeconfig.write_bytes(content)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        yaml.safe_dump(
            {
                "kind": "ocp-airgap/plan-v1",
                "cluster": {"kubeconfig": str(kubeconfig)},
                "mirror": {"registry": "127.0.0.1:5000"},
                "release": {"version": "4.17.3"},
            }
        )
    )
    for args in (("status", "--plan", str(plan)), ("mhc", "status", "--plan", str(plan))):
        res = cli(*args, state=tmp_path / "state")
        assert_clear_error(res, 2, phrase)


# ----------------------------------------------------------------------------------------------- files vs folders


def _plan(tmp_path: Path, **mirror: str) -> Plan:
    doc = {
        "kind": "ocp-airgap/plan-v1",
        "mirror": {"registry": "127.0.0.1:5000", "username": "admin", **mirror},
        "release": {"version": "4.17.3"},
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return Plan.load(path)


def test_folder_given_as_ca_file_or_auth_file(tmp_path: Path) -> None:
    from engine.authfile import find_auth_file
    from engine.oci.registry import build_ssl_context

    with pytest.raises(InputError, match="is a folder, not a file") as info:
        build_ssl_context("127.0.0.1:5000", str(tmp_path))
    assert info.value.fix and info.value.exit_code == 2
    with pytest.raises(InputError, match="named in the plan is a folder, not a file"):
        find_auth_file(str(tmp_path))
    from engine.trust import load_ca

    with pytest.raises(InputError, match="is a folder, not a file"):
        load_ca(tmp_path)


def test_password_file_problems_surface_as_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0644 password file, a folder and a non-text file are named as such, not as 'no login in the auth file'."""
    from engine.mirror.core import _auth

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    os.chmod(pw, 0o644)
    ctx = Context(_plan(tmp_path, password_file=str(pw)), Emitter("mirror"))
    with pytest.raises(CredentialsError, match="can be read by other users") as info:
        _auth(ctx)
    assert "chmod 600" in info.value.fix
    os.chmod(pw, 0o600)
    pw.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8 text"):
        _auth(ctx)
    folder = tmp_path / "pwdir"
    folder.mkdir(mode=0o700)
    ctx = Context(_plan(tmp_path, password_file=str(folder)), Emitter("mirror"))
    with pytest.raises(InputError, match="not a regular file"):
        _auth(ctx)


def test_file_given_as_from_dir(sandbox: Any, tmp_path: Path) -> None:
    plan = plan_copy(sandbox, tmp_path)
    not_a_folder = tmp_path / "media.txt"
    not_a_folder.write_text("x")
    res = cli("mirror", "--plan", str(plan), "--from-dir", str(not_a_folder), state=tmp_path / "state")
    assert_clear_error(res, 2, "is a file, not a folder")


def test_unreadable_signature_file(tmp_path: Path) -> None:
    from sandbox.sigstore import generate_key

    key = tmp_path / "key.gpg"
    key.write_bytes(bytes(generate_key(tmp_path, user_id="Other <o@lab.invalid>").cert))
    digest = "sha256:" + "ab" * 32
    for target, phrase in ((tmp_path, "is a folder, not a file"), (tmp_path / "none.json", "does not exist")):
        res = cli(
            "signature",
            "verify",
            str(target),
            "--digest",
            digest,
            "--keyring",
            str(key),
            state=tmp_path / "s",
        )
        assert_clear_error(res, 2, phrase)


# ----------------------------------------------------------------------------------------------- journal


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'{"format": "ocp-airgap/journal-v1", "records": {"a": 1}}',
        b'{"format": "ocp-airgap/journal-v1", "records": [{"seq": "x"}]}',
        b'{"format": "ocp-airgap/journal-v1", "records": [7]}',
        b"\xff\xfe{",
        b'{"format": "ocp-airgap/journal-v1", "rec',
    ],
)
def test_journal_of_the_wrong_shape(sandbox: Any, tmp_path: Path, content: bytes) -> None:
    from engine.workflow import journal_path

    plan = plan_copy(sandbox, tmp_path)
    os.environ["OCP_AIRGAP_STATE_DIR"] = str(tmp_path / "state")  # as the command will see it
    journal = journal_path(Plan.load(plan))
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(content)
    res = cli("status", "--plan", str(plan), "--offline", state=tmp_path / "state")
    assert_clear_error(res, 2, "journal")
    assert journal.read_bytes() == content, "a damaged journal is left as it was"


# ----------------------------------------------------------------------------------------------- pull secrets


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("doc", "phrase"),
    [
        ({"auths": {}}, "'auths' is empty"),
        ({"auths": {"quay.io": {"auth": _b64(":")}}}, "empty user name"),
        ({"auths": {"quay.io": {"auth": _b64("user:")}}}, "empty password"),
    ],
)
def test_pull_secret_that_would_fail_later(doc: dict[str, Any], phrase: str, tmp_path: Path) -> None:
    f = tmp_path / "ps.json"
    f.write_text(json.dumps(doc))
    res = cli("pull-secret", "check", str(f), state=tmp_path / "state")
    assert_clear_error(res, 2, phrase)


def test_merging_an_empty_pull_secret_writes_nothing(sandbox: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('{"auths": {}}')
    out = tmp_path / "auth.json"
    plan = plan_copy(sandbox, tmp_path)
    res = cli(
        "credentials", "merge", "--plan", str(plan), "--pull-secret", str(empty), "--auth-file", str(out),
        "--password-stdin", "--yes", state=tmp_path / "state", input="pw\n",
    )  # fmt: skip
    assert_clear_error(res, 2, "'auths' is empty")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------- misleading messages


def test_current_version_typo_is_bad_input(sandbox: Any, tmp_path: Path) -> None:
    plan = plan_copy(sandbox, tmp_path)
    res = cli("release", "--plan", str(plan), "--current", "v4.16", "--no-resolve", state=tmp_path / "state")
    assert_clear_error(res, 2, "--current 'v4.16' is not a release version")


def test_wrong_architecture_is_not_a_channel_problem(sandbox: Any, tmp_path: Path) -> None:
    plan = plan_copy(sandbox, tmp_path, release__architecture="s390x")
    res = cli("release", "--plan", str(plan), "--no-resolve", state=tmp_path / "state")
    out = res.stdout + res.stderr
    assert "Traceback" not in out and res.returncode in (2, 3), out
    assert "architecture" in res.stderr and "release.architecture" in res.stderr, res.stderr


def test_watch_with_no_update_started_says_so(sandbox: Any, tmp_path: Path) -> None:
    doc = yaml.safe_load(Path(sandbox.plan).read_text())
    doc["release"]["version"] = sandbox.target_version
    doc["release"]["digest"] = sandbox.release(sandbox.target_version).digest
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc))
    res = cli(
        "upgrade", "watch", "--plan", str(plan), "--timeout", "600", state=tmp_path / "state", timeout=60
    )
    assert_clear_error(res, 4, "there is nothing to watch", "upgrade start")


def test_closed_output_pipe_ends_quietly(sandbox: Any, tmp_path: Path) -> None:
    plan = plan_copy(sandbox, tmp_path)
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "mhc", "status", "--plan", str(plan), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1)  # like 'head -c1': read one byte, then close the pipe
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 0, err
    assert proc.returncode != -signal.SIGPIPE


# ----------------------------------------------------------------------------------------------- trust


def test_insecure_kubeconfig_is_a_visible_warning(sandbox: Any, tmp_path: Path) -> None:
    from engine.preflight.base import PreflightOptions, _Run
    from engine.preflight.cluster import _check_cluster

    doc = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
    for c in doc["clusters"]:
        c["cluster"].pop("certificate-authority", None)
        c["cluster"].pop("certificate-authority-data", None)
        c["cluster"]["insecure-skip-tls-verify"] = True
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(doc))
    plan = Plan.load(plan_copy(sandbox, tmp_path, cluster__kubeconfig=str(kubeconfig)))
    seen: list[Any] = []
    run = _Run(Context(plan, Emitter("preflight", seen.append)), PreflightOptions())
    _check_cluster(run)
    checks = {r.name: r for r in run.results}
    assert checks["cluster API"].status.value == "pass"
    tls = checks["cluster API TLS"]
    assert tls.status.value == "warn" and "insecure-skip-tls-verify" in tls.detail and tls.fix


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    """A plain http:// endpoint on 127.0.0.1 that redirects every request to another host (localhost)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    _Redirect.target = f"http://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/graph"
    finally:
        server.shutdown()
        server.server_close()


def test_plain_http_graph_warns_and_cross_host_redirect_is_not_followed(redirecting_server: str) -> None:
    from engine.graph import fetch_graph

    seen: list[Any] = []
    with pytest.raises(AirgapError, match="redirected to another host") as info:
        fetch_graph(redirecting_server, "stable-4.17", "amd64", emit=Emitter("release", seen.append))
    assert "127.0.0.1" in info.value.message and "localhost" in info.value.message and info.value.fix
    warnings = [e.text for e in seen if getattr(e, "level", None) is not None and e.level.value == "warning"]
    assert any("plain http://" in w for w in warnings), warnings


def test_cross_host_redirect_of_the_signature_store(redirecting_server: str) -> None:
    from engine.signatures import fetch_signatures

    with pytest.raises(AirgapError, match="redirected to another host"):
        fetch_signatures(redirecting_server, "sha256:" + "ab" * 32)
