"""The mirror password: a real Secret Service (gnome-keyring in a private D-Bus session), the fail back end,
a plain-text back end that must not be used unless chosen, and the explicit 0600 password file."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from engine import credentials
from engine.context import Context
from engine.errors import CredentialsError, InputError, KeyringUnavailable
from engine.events import Emitter, Recorder
from engine.plan import Plan

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "mirror.example.com:8443"
USER = "mirror-admin"
PASSWORD = "Kr-test-pass-8841"


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Journals and backups of this test go to its own folder, never the user's state dir."""
    if "OCP_AIRGAP_STATE_DIR" not in os.environ or not os.environ["OCP_AIRGAP_STATE_DIR"].startswith(
        str(tmp_path)
    ):
        monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def isolated_keyring(monkeypatch, tmp_path):
    """Restore the process-wide keyring afterwards; no keyring configuration of the machine leaks in."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def make_ctx(tmp_path: Path, password_file: str = "") -> tuple[Context, Recorder]:
    plan = Plan()
    plan.mirror.registry = REGISTRY
    plan.mirror.username = USER
    plan.mirror.password_file = password_file
    plan.cluster.kubeconfig = str(tmp_path / "no-kubeconfig")
    rec = Recorder()
    return Context(plan, Emitter("credentials", rec)), rec


def test_fail_backend_says_so_and_asks_each_time(isolated_keyring, tmp_path):
    keyring.set_keyring(fail.Keyring())
    info = credentials.keyring_info()
    assert not info.available and not info.usable
    with pytest.raises(KeyringUnavailable) as exc:
        credentials.store_password(REGISTRY, USER, PASSWORD)
    assert "no system keyring" in exc.value.message.lower()
    assert "gnome-keyring" in exc.value.fix.lower() or "secret service" in exc.value.fix.lower()

    ctx, rec = make_ctx(tmp_path)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    assert credentials.mirror_password(ctx, ask) == PASSWORD
    assert credentials.mirror_password(ctx, ask) == PASSWORD
    assert len(asked) == 2  # nothing was remembered: asked each time
    assert any("asked each time" in t for t in rec.texts())
    with pytest.raises(KeyringUnavailable):
        credentials.mirror_password(ctx)  # no way to ask: the error says what to do
    assert not list(tmp_path.rglob("*keyring*")), "nothing may be written anywhere"


def test_fail_backend_from_environment_in_the_cli(tmp_path):
    plan = Plan()
    plan.mirror.registry = REGISTRY
    plan.mirror.username = USER
    plan.save(tmp_path / "plan.yaml")
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "credentials",
            "store-password",
            "--plan",
            str(tmp_path / "plan.yaml"),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "No system keyring is available" in res.stderr
    assert "fix:" in res.stderr
    assert PASSWORD not in res.stdout + res.stderr


def test_plaintext_backend_is_not_used_unless_chosen(isolated_keyring, tmp_path, monkeypatch):
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "plain.cfg")
    keyring.set_keyring(kr)
    info = credentials.keyring_info()
    assert info.available and info.plaintext and not info.explicit and not info.usable
    with pytest.raises(KeyringUnavailable) as exc:
        credentials.store_password(REGISTRY, USER, PASSWORD)
    assert "plain file" in exc.value.message
    assert not (tmp_path / "plain.cfg").exists()

    # the user explicitly chose it: then it is used (and the user is reminded it is plain text)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    rec = Recorder()
    info = credentials.store_password(REGISTRY, USER, PASSWORD, Emitter("credentials", rec))
    assert info.usable and info.explicit
    assert credentials.lookup_password(REGISTRY, USER) == PASSWORD
    assert any("plain file" in t for t in rec.texts())
    assert credentials.delete_password(REGISTRY, USER)
    assert credentials.lookup_password(REGISTRY, USER) is None


def test_password_file_only_when_chosen_and_0600(isolated_keyring, tmp_path):
    keyring.set_keyring(fail.Keyring())
    path = credentials.write_password_file(tmp_path / "mirror.pw", PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ctx, _ = make_ctx(tmp_path, password_file=str(path))
    assert credentials.mirror_password(ctx) == PASSWORD
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError) as exc:
        credentials.mirror_password(ctx)
    assert "chmod 600" in exc.value.fix


GNOME_SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, threading, time
    sys.path.insert(0, {repo!r})
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    daemon.stdin.write(b"login-pw"); daemon.stdin.close()
    result = {{}}
    try:
        import keyring, keyring.core
        from keyring.backends import SecretService
        deadline = time.monotonic() + 20
        pause = threading.Event()
        while True:
            try:
                SecretService.Keyring.priority
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                pause.wait(0.05)
        keyring.core.init_backend()
        from engine import credentials
        from engine.context import Context
        from engine.events import Emitter, Recorder
        from engine.plan import Plan
        info = credentials.keyring_info()
        result["backend"] = info.backend
        result["usable"] = info.usable
        credentials.store_password({registry!r}, {user!r}, {password!r})
        result["lookup"] = credentials.lookup_password({registry!r}, {user!r}) == {password!r}
        plan = Plan(); plan.mirror.registry = {registry!r}; plan.mirror.username = {user!r}
        def ask(prompt):
            raise AssertionError("must not ask: the keyring has it")
        result["mirror_password"] = credentials.mirror_password(Context(plan, Emitter("t", Recorder())), ask) == {password!r}
        tool = subprocess.run(["secret-tool", "lookup", "service", "ocp-airgap:" + {registry!r}, "username", {user!r}],
                              capture_output=True, text=True, timeout=20)
        result["secret_tool"] = tool.stdout.strip() == {password!r}
        hits = []
        for root, _dirs, files in os.walk(os.environ["HOME"]):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    if {password!r}.encode() in f.read():
                        hits.append(name)
        result["plaintext_files"] = hits
        result["deleted"] = credentials.delete_password({registry!r}, {user!r})
        result["after_delete"] = credentials.lookup_password({registry!r}, {user!r})
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    print(json.dumps(result))
    """
)


@pytest.mark.skipif(
    not (
        shutil.which("dbus-run-session")
        and shutil.which("gnome-keyring-daemon")
        and shutil.which("secret-tool")
    ),
    reason="needs dbus-run-session, gnome-keyring-daemon and secret-tool",
)
def test_real_secret_service_in_private_dbus_session(tmp_path):
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    script = tmp_path / "gk.py"
    script.write_text(GNOME_SCRIPT.format(repo=str(REPO), registry=REGISTRY, user=USER, password=PASSWORD))
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(run),
    )
    res = subprocess.run(
        ["dbus-run-session", "--", sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert "SecretService" in result["backend"], result
    assert result["usable"] is True
    assert result["lookup"] and result["mirror_password"] and result["secret_tool"], result
    assert result["plaintext_files"] == [], "the Secret Service must not keep the password in plain text"
    assert result["deleted"] is True and result["after_delete"] is None


def test_the_credentials_step_reads_the_password_file_as_the_cli_does(isolated_keyring, tmp_path):
    """The wizard and ``credentials merge`` share one use case: a password file readable by others is refused in
    both (the wizard once read it without that check), a typed password wins, and with no password and no one to
    ask the error names the wizard's field."""
    from engine import login

    keyring.set_keyring(fail.Keyring())
    path = credentials.write_password_file(tmp_path / "mirror.pw", PASSWORD)
    ctx, rec = make_ctx(tmp_path, password_file=str(path))
    ctx.plan.auth_file = str(tmp_path / "auth.json")
    prepared = login.prepare(ctx, login.CredentialsRequest())
    assert prepared.password == PASSWORD and prepared.started_empty and not prepared.remember
    assert prepared.changes() == [prepared.update.change]
    assert not (tmp_path / "auth.json").exists(), "prepare writes nothing"
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError) as exc:
        login.prepare(ctx, login.CredentialsRequest(missing_fix="Type it in the Password field."))
    assert "chmod 600" in exc.value.fix
    typed = login.prepare(ctx, login.CredentialsRequest(password="typed-pw-1234", remember=True))
    assert typed.password == "typed-pw-1234" and typed.remember
    ctx.plan.mirror.password_file = ""
    with pytest.raises(CredentialsError) as exc:
        login.prepare(ctx, login.CredentialsRequest(missing_fix="Type it in the Password field."))
    assert exc.value.fix == "Type it in the Password field."
    assert any("no system keyring" in t.lower() for t in rec.texts())
    with pytest.raises(InputError) as bad:
        login.prepare(ctx, login.CredentialsRequest(password="x", trust_ca=True))
    assert "mirror.ca_file" in (bad.value.fix or "")
    outcome = login.apply(ctx, typed)
    assert outcome.auth_file == tmp_path / "auth.json"
    assert stat.S_IMODE(outcome.auth_file.stat().st_mode) == 0o600
    assert outcome.registries == [REGISTRY]
