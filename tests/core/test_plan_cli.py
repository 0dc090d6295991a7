import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True)


def test_new_check_show(tmp_path):
    path = tmp_path / "p.yaml"
    r = run("plan", "new", str(path), "--registry", "mirror.example:8443", "--version", "4.17.3")
    assert r.returncode == 0, r.stderr
    assert run("plan", "check", str(path)).returncode == 0
    shown = run("plan", "show", str(path)).stdout
    assert (
        "registry: mirror.example:8443" in shown and "signature_store: https://mirror.openshift.com" in shown
    )
    assert run("plan", "new", str(path)).returncode == 2  # exists


def test_check_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: ocp-airgap/plan-v1\nrelease:\n  version: four\n")
    r = run("plan", "check", str(path))
    assert r.returncode == 2
    assert f"error: {path}:3:12: release.version" in r.stderr
    assert "fix:" in r.stderr
