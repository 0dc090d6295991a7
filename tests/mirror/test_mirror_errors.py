"""Registry errors in plain words: each is one line of cause and a fix, through the engine and the CLI."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AirgapError, RegistryAuthError, RegistryDenied, RegistryNotFound, TLSError
from engine.mirror import mirror_release
from tests.mirror.conftest import TargetRegistry, auth_entry, context

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def one_line(exc: AirgapError) -> None:
    assert exc.message and "\n" not in exc.message
    assert exc.fix and "\n" not in exc.fix


def run_cli(plan_path: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "mirror", "--plan", plan_path],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_wrong_password_401(registry_factory: Any, make_plan: Any) -> None:
    target = registry_factory()
    wrong = "not-the-password-" + secrets.token_hex(6)
    plan = make_plan(target, password=wrong)
    with pytest.raises(RegistryAuthError) as err:
        mirror_release(context(plan)[0])
    one_line(err.value)
    assert "wrong user name or password" in err.value.message
    assert target.host in err.value.message and plan.auth_file in err.value.message
    assert plan.auth_file in err.value.fix
    assert target.repositories() == []
    res = run_cli(str(plan.source_path))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-2].startswith("error: ") and "wrong user name or password" in lines[-2]
    assert lines[-1].startswith("fix: ")
    assert wrong not in res.stdout + res.stderr


def test_read_only_account_push_403_denied(sandbox: Any, make_plan: Any) -> None:
    ro = sandbox.mirror
    password = Path(ro.readonly_password_file).read_text().strip()
    plan = make_plan(None)
    plan.mirror.registry = ro.readonly_registry
    plan.mirror.ca_file = ro.ca_file
    plan.mirror.repository = f"denied-test/r{secrets.token_hex(4)}"
    import json

    doc = json.loads(Path(plan.auth_file).read_text())
    doc["auths"][ro.readonly_registry] = auth_entry(ro.readonly_username, password)
    Path(plan.auth_file).write_text(json.dumps(doc))
    plan.save(str(plan.source_path))
    with pytest.raises(RegistryDenied) as err:
        mirror_release(context(plan)[0])
    one_line(err.value)
    assert (
        f"'{ro.readonly_username}' may not push to {ro.readonly_registry}/{plan.mirror.repository}"
        in err.value.message
    )
    assert "push" in err.value.fix
    res = run_cli(str(plan.source_path))
    assert res.returncode == 1 and "may not push" in res.stderr and "fix: " in res.stderr
    assert password not in res.stdout + res.stderr


def test_unknown_ca(registry_factory: Any, make_plan: Any, pki: Any) -> None:
    target = registry_factory()
    plan = make_plan(target, mirror__ca_file=str(pki.other_ca.cert))
    with pytest.raises(TLSError) as err:
        mirror_release(context(plan)[0])
    one_line(err.value)
    assert "signed by a certificate authority this host does not trust" in err.value.message
    assert (
        "mirror.ca_file" in err.value.fix and f"/etc/containers/certs.d/{target.host}/ca.crt" in err.value.fix
    )


def test_certificate_without_san(registry_factory: Any, make_plan: Any) -> None:
    target: TargetRegistry = registry_factory(cert="no_san")
    plan = make_plan(target)
    with pytest.raises(TLSError) as err:
        mirror_release(context(plan)[0])
    one_line(err.value)
    assert "subjectAltName" in err.value.message and "127.0.0.1" in err.value.message
    assert "subjectAltName=IP:127.0.0.1" in err.value.fix
    res = run_cli(str(plan.source_path))
    assert res.returncode == 1 and "subjectAltName" in res.stderr


def test_expired_certificate(registry_factory: Any, make_plan: Any) -> None:
    target = registry_factory(cert="expired")
    with pytest.raises(TLSError) as err:
        mirror_release(context(make_plan(target))[0])
    one_line(err.value)
    assert "has expired" in err.value.message and "Renew" in err.value.fix


def test_nonexistent_release_tag_404(sandbox: Any, registry_factory: Any, make_plan: Any) -> None:
    target = registry_factory()
    plan = make_plan(target, release__version="4.99.0")
    with pytest.raises(RegistryNotFound) as err:
        mirror_release(context(plan)[0])
    one_line(err.value)
    assert (
        f"{plan.endpoints.release_source}:4.99.0-x86_64 does not exist (manifest unknown)"
        in err.value.message
    )
    assert "release.version" in err.value.fix
    assert target.repositories() == []
    res = run_cli(str(plan.source_path))
    assert res.returncode == 1 and "manifest unknown" in res.stderr
