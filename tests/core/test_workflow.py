"""engine.workflow: one owner of the steps, their states per host role, where the journals live, the mirror use
case both front ends call."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import workflow as wf
from engine.errors import InputError
from engine.journal import Journal
from engine.mirror.request import MirrorRequest
from engine.plan import Plan
from screens.steps import STEP_IDS as WIZARD_STEP_IDS


def _plan(tmp_path: Path, mode: str = "direct", **release: str) -> Plan:
    plan = Plan()
    plan.mirroring.mode = mode
    plan.mirroring.media_path = str(tmp_path / "usb") if mode != "direct" else ""
    plan.mirror.registry, plan.mirror.repository = "mirror.example:8443", "ocp4/openshift4"
    plan.release.version = release.get("version", "4.17.3")
    plan.save(tmp_path / "plan.yaml")
    return plan


def test_the_wizard_lists_the_workflow_steps_in_its_order() -> None:
    assert ("welcome", *wf.STEP_IDS) == WIZARD_STEP_IDS


def test_roles_follow_the_mirroring_mode(tmp_path: Path) -> None:
    assert wf.role_of(_plan(tmp_path, "direct")) == wf.DIRECT
    assert wf.role_of(_plan(tmp_path, "to-media")) == wf.CONNECTED
    assert wf.role_of(_plan(tmp_path, "from-media")) == wf.DISCONNECTED
    connected = [s.id for s in wf.steps_for(wf.CONNECTED)]
    assert connected == [
        "credentials",
        "release",
        "mirror",
        "catalog",
    ]  # the catalog: optional, onto the media
    assert [s.id for s in wf.steps_for(wf.DISCONNECTED)] == list(wf.STEP_IDS[:])


def test_a_to_media_run_never_counts_as_in_the_mirror_on_the_cluster_side(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.json")
    j.step_started("mirror", mode="to-media", release="4.17.3")
    j.step_finished("mirror", "succeeded", "to media", mode="to-media")
    assert wf.states_by_id(j, wf.CONNECTED)["mirror"].status == "succeeded"
    assert wf.states_by_id(j, wf.DISCONNECTED)["mirror"].status == "pending"
    assert wf.states_by_id(j, wf.DIRECT)["mirror"].status == "pending"
    j.step_started("mirror", mode="from-media", release="4.17.3")
    j.step_finished("mirror", "succeeded", "from media", mode="from-media")
    assert wf.states_by_id(j, wf.DISCONNECTED)["mirror"].status == "succeeded"


def test_steps_of_other_roles_are_not_applicable_and_requirements_follow_the_role(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.json")
    states = wf.states_by_id(j, wf.CONNECTED)
    assert states["upgrade"].status == "n/a" and states["preflight"].status == "n/a"
    assert states["credentials"].missing == []  # preflight is not a step of the connected side
    states = wf.states_by_id(j, wf.DIRECT)
    assert states["credentials"].missing == ["preflight"]
    assert wf.next_step(list(states.values())).step.id == "preflight"  # type: ignore[union-attr]


def test_mhc_resume_is_pending_again_after_a_new_pause(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.json")
    j.step_finished("mhc", "succeeded", "paused 1", action="pause")
    j.step_finished("mhc", "succeeded", "resumed 1", action="resume")
    assert wf.states_by_id(j, wf.DIRECT)["mhc-resume"].status == "succeeded"
    j.step_finished("mhc", "succeeded", "paused 1", action="pause")
    assert wf.states_by_id(j, wf.DIRECT)["mhc-resume"].status == "pending"


def test_only_optional_steps_can_be_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.json")
    wf.skip(j, "catalog", "no operator catalog mirrored")
    state = wf.states_by_id(j, wf.DIRECT)["catalog"]
    assert state.status == "skipped" and state.summary == "no operator catalog mirrored"
    with pytest.raises(InputError):
        wf.skip(j, "signature", "no")


def test_the_journal_follows_the_plans_state_dir_per_role(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "to-media")
    plan.state_dir = "state"
    assert wf.journal_path(plan) == tmp_path / "state" / "connected" / "journal.json"
    plan.mirroring.mode = "from-media"
    assert wf.journal_path(plan) == tmp_path / "state" / "disconnected" / "journal.json"


def test_the_connected_side_needs_no_kubeconfig_and_never_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    plan = _plan(tmp_path, "to-media")
    journal = wf.journal_for(plan)
    assert journal.path.is_relative_to(tmp_path / "state" / "connected")  # OCP_AIRGAP_STATE_DIR of the tests
    assert wf.journal_for(plan).path == journal.path  # stable: reopening finds it again
    with pytest.raises(InputError, match="connected side"):
        wf.require_cluster_side(plan)
    from engine.context import Context
    from engine.events import Emitter

    with pytest.raises(InputError, match="does not reach the cluster"):
        _ = Context(plan, Emitter("t")).cluster


def test_one_media_folder_for_the_wizard_and_the_cli(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "to-media")
    req = MirrorRequest.from_plan(plan)
    assert req.mode == "to-media" and req.media == str(tmp_path / "usb" / "mirror")
    assert req.to_dir == req.media and req.from_dir == ""
    plan.mirroring.mode = "from-media"
    req = MirrorRequest.from_plan(plan)
    assert req.mode == "from-media" and req.from_dir == str(tmp_path / "usb" / "mirror")
    explicit = MirrorRequest.from_plan(_plan(tmp_path), to_dir=str(tmp_path / "other"))
    assert explicit.mode == "to-media" and explicit.media == str(tmp_path / "other")


def test_the_plans_backend_is_honoured_and_checked(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    plan.mirroring.backend = "oc-mirror"
    assert MirrorRequest.from_plan(plan).backend == "oc-mirror"
    assert MirrorRequest.from_plan(plan, backend="builtin").backend == "builtin"
    with pytest.raises(InputError):
        MirrorRequest.from_plan(plan, concurrency=0 - 1)


def test_the_media_record_is_read_only_and_described(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "from-media")
    assert wf.media_record(plan) is None
    on_media = Journal(tmp_path / "usb" / "mirror" / "ocp-airgap" / "journal.json", cluster="removable-media")
    on_media.step_started("mirror", mode="to-media", release="4.17.3", digest="sha256:" + "a" * 64)
    on_media.step_finished("mirror", "succeeded", "4.17.3 on the media", mode="to-media")
    before = on_media.path.read_bytes()
    rec = wf.media_record(plan)
    assert rec is not None and rec.status == "succeeded" and rec.release == "4.17.3"
    assert "connected side: mirroring of 4.17.3 to the media succeeded" in rec.describe()
    assert on_media.path.read_bytes() == before


def test_a_state_dir_that_is_a_file_is_bad_input(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "to-media")
    (tmp_path / "taken").write_text("x")
    plan.state_dir = "taken"
    assert ("state_dir", "expected a folder (the journals live there), found a file") in plan.problems()
