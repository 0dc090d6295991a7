"""The air-gap handoff: the connected side writes the media, the disconnected side — with a fresh state of its
own — uploads it and updates the cluster. The wizard and the CLI are interchangeable on either side (both call
the same use cases), and the update cannot be started while the mirror registry lacks the release, whatever any
journal says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.journal import Journal
from engine.plan import Plan
from tests.procedures.test_upgrade import (
    LAB_VERSIONS,
    admin,
    json_events,
    lab_plan,
    relax_drain_blocker,
    run_cli,
)
from tests.tui.conftest import FIXED_NOW
from tests.tui.test_wizard_sandbox import act
from tui.app import WizardApp, open_journal


def _ok(res: Any, what: str) -> str:
    assert res.returncode == 0, (
        f"{what} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}"
    )
    return str(res.stdout)


def _side(info: Any, tmp_path: Path, name: str, mode: str, media: Path) -> Path:
    """A plan for one side of the air gap: its own state folder and auth file, the shared media folder."""
    folder = tmp_path / name
    folder.mkdir()
    path = lab_plan(info, folder, name="plan")
    doc = yaml.safe_load(path.read_text())
    doc["mirroring"]["mode"] = mode
    doc["mirroring"]["media_path"] = str(media)
    doc["state_dir"] = "state"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _steps(plan: Path, state: Path) -> dict[str, str]:
    res = run_cli("status", "--plan", str(plan), "--offline", "--json", state=state)
    return {s["step"]: s["status"] for s in json_events(res.stdout)[-1]["data"]["steps"]}


def _disconnected_update(info: Any, plan: Path, state: Path, *, via_cli_upload: bool = True) -> None:
    """From-media upload (unless already done), signature from the media, then the update to completion."""
    P = ("--plan", str(plan))
    if via_cli_upload:
        out = _ok(run_cli("mirror", *P, state=state, timeout=600), "mirror from media")
        assert "media checksums" in out or "intact" in out, out
    out = _ok(run_cli("signature", "apply", *P, "--yes", state=state), "signature apply")
    assert "Using the signature file the connected side wrote onto the media" in out
    relax_drain_blocker(admin(info))
    _ok(run_cli("mhc", "pause", *P, "--yes", state=state), "mhc pause")
    _ok(run_cli("upgrade", "start", *P, "--yes", state=state), "upgrade start")
    _ok(run_cli("upgrade", "watch", *P, "--interval", "0.1", "--timeout", "240", state=state), "watch")
    _ok(run_cli("mhc", "resume", *P, "--yes", state=state), "mhc resume")
    head = admin(info).cluster_version()["status"]["history"][0]
    assert (head["state"], head["version"]) == ("Completed", info.target_version)
    status = _ok(run_cli("status", *P, "--offline", state=state), "status")
    assert "Media: connected side: mirroring of" in status and "succeeded" in status
    assert "Next: nothing; the update is complete." in status


def test_cli_to_media_then_cli_from_media_on_a_fresh_state(sandbox_factory: Any, tmp_path: Path) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)

    _ok(run_cli("mirror", "--plan", str(connected), state=state, timeout=600), "mirror to media")
    assert (media / "mirror" / "v2").is_dir(), "the media layout is <media_path>/mirror/v2 (as documented)"
    assert list((media / "mirror" / "config").glob("signature-sha256-*"))
    assert _steps(connected, state)["mirror"] == "succeeded"
    # the disconnected side starts with nothing recorded: the connected side's record is not its proof
    steps = _steps(disconnected, state)
    assert steps["mirror"] == "pending"
    assert not (tmp_path / "disconnected" / "state" / "disconnected" / "journal.json").exists() or all(
        r.step != "mirror"
        for r in Journal(tmp_path / "disconnected" / "state" / "disconnected" / "journal.json").records
    )
    _disconnected_update(info, disconnected, state)


def test_the_update_cannot_start_while_the_mirror_lacks_the_release(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    digest = info.release(info.target_version).digest
    # a journal that claims everything: a mirror run of this very digest "succeeded" on this host
    journal = Journal(tmp_path / "disconnected" / "state" / "disconnected" / "journal.json", cluster="x")
    journal.step_started("mirror", mode="direct", release=info.target_version, digest=digest)
    journal.step_finished("mirror", "succeeded", "forged", mode="direct", release={"digest": digest})
    assert _steps(disconnected, state)["mirror"] == "succeeded"
    P = ("--plan", str(disconnected))
    _ok(run_cli("mhc", "skip", *P, "--reason", "test", "--yes", state=state), "mhc skip")
    res = run_cli("upgrade", "start", *P, "--yes", state=state)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "is not in the mirror registry" in res.stdout, res.stdout
    assert admin(info).cluster_version()["spec"].get("desiredUpdate") in (None, {}), "nothing was sent"


def _wizard(plan_path: Path, monkeypatch: pytest.MonkeyPatch, state: Path) -> WizardApp:
    monkeypatch.setenv("OCP_AIRGAP_STATE_DIR", str(state))
    plan = Plan.load(plan_path)
    return WizardApp(
        plan,
        journal=open_journal(plan),
        clock=lambda: FIXED_NOW,
        operator="oncall@bastion",
        cursor_blink=False,
        output_dir=plan_path.parent,
        watch_interval=0.2,
        rollout_settle=5.0,
        start_step="mirror",
    )


async def test_wizard_to_media_then_cli_from_media(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    # the connected side's earlier steps, headless (the wizard reads the same journal)
    C = ("--plan", str(connected))
    current = info.current_version
    _ok(run_cli("release", *C, "--current", current, "--write-plan", state=state), "release --current")
    app = _wizard(connected, monkeypatch, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.role == "connected" and app.recorded_status("release") == "succeeded"
        text = await act(pilot, app, "r", limit=300)
        assert app.recorded_status("mirror") == "succeeded", text
    assert (media / "mirror" / "v2").is_dir(), "the wizard writes the documented media layout"
    _disconnected_update(info, disconnected, state)


async def test_cli_to_media_then_wizard_from_media(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = sandbox_factory(versions=LAB_VERSIONS, components=6, size_mb=2)
    media, state = tmp_path / "usb", tmp_path / "xdg"
    connected = _side(info, tmp_path, "connected", "to-media", media)
    disconnected = _side(info, tmp_path, "disconnected", "from-media", media)
    _ok(run_cli("mirror", "--plan", str(connected), state=state, timeout=600), "mirror to media")
    # the disconnected side's earlier steps, headless, on its own fresh journal; the wizard reads the same journal
    D = ("--plan", str(disconnected))
    relax_drain_blocker(admin(info))
    res = run_cli("preflight", *D, "--etcd-backup-at", "now", state=state)
    assert res.returncode == 0, res.stdout + res.stderr
    _ok(run_cli("credentials", "merge", *D, "--from-cluster", "--yes", state=state), "credentials merge")
    _ok(run_cli("release", *D, "--write-plan", state=state), "release")
    app = _wizard(disconnected, monkeypatch, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.role == "disconnected"
        assert any("connected side: mirroring of" in n for n in app.resume_notes())
        assert app.recorded_status("release") == "succeeded" and app.recorded_status("mirror") is None
        text = await act(pilot, app, "r", limit=300)
        assert app.recorded_status("mirror") == "succeeded", text
    _disconnected_update(info, disconnected, state, via_cli_upload=False)
