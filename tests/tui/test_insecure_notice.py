"""A kubeconfig that skips TLS verification is named on the wizard's first screen (resume notes), not only in
preflight."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.plan import Plan
from tui.app import WizardApp


def _kubeconfig(path: Path, insecure: bool) -> Path:
    cluster: dict[str, object] = {"server": "https://api.example:6443"}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "sha256~x"}}],
        "contexts": [{"name": "admin", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "admin",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def _app(tmp_path: Path, insecure: bool) -> WizardApp:
    plan = Plan()
    plan.cluster.kubeconfig = str(_kubeconfig(tmp_path / f"kc-{insecure}", insecure))
    plan.cluster.context = "admin"
    return WizardApp(plan, live=False)


def test_insecure_kubeconfig_is_named_on_the_first_screen(tmp_path: Path) -> None:
    notes = _app(tmp_path, insecure=True).resume_notes()
    assert notes and notes[0].startswith("WARNING: the kubeconfig skips TLS verification")
    assert not any("skips TLS" in n for n in _app(tmp_path, insecure=False).resume_notes())
