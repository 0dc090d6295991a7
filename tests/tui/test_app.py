"""The wizard's shell with Pilot, offline (no cluster): keys, navigation, modals, workers, log batching, quit
safety, runbook key. Engine operations here are real functions run in real thread workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input, Log

from engine.context import Context
from engine.errors import RegistryAuthError
from screens.base import StepScreen
from tests.helpers import wait_until
from tests.tui.conftest import journal_of, screen_text
from tui.widgets.modals import ConfirmModal, ErrorModal, HelpModal, LogModal
from tui.widgets.step_log import StepLog


async def test_first_screen_and_keys(make_app: Callable[..., Any]) -> None:
    app = make_app(live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Welcome & plan" in text and "Next: press r to continue with Preflight" in text
        assert "r Continue" in text and "^q Quit" in text and "? more keys" in text
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen) and app.screen.STEP == "preflight"
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.STEP == "credentials"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.STEP == "preflight"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        assert "Needs:" in screen_text(app) and "Changes:" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LogModal)


async def test_single_keys_work_until_a_field_is_focused(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="release", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.focused is None  # AUTO_FOCUS off: 'n', 'r', '?' are keys, not typing
        await pilot.press("tab")
        assert isinstance(app.focused, Input) and app.focused.id == "version"
        await pilot.press("ctrl+a", "ctrl+k", *"4.x")
        await pilot.pause()
        assert "expected a version such as 4.17.3" in screen_text(app)
        await pilot.press("backspace", "1", "7", ".", "9")
        await pilot.pause()
        assert app.plan.release.version == "4.17.9"
        await pilot.press("escape")  # leaves the field, stays on the screen
        assert app.focused is None and app.screen.STEP == "release"


async def test_ascii_mode_uses_plain_marks(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="credentials", live=False, ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "> Credentials" in text
        assert "✔" not in text and "▶" not in text and "╭" not in text


async def test_engine_error_shows_cause_and_fix_not_a_traceback(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="mirror", live=False)

    def failing(ctx: Context) -> None:
        ctx.emit.info("talking to the registry")
        raise RegistryAuthError(
            "the mirror registry 127.0.0.1:5000 rejected the credentials of mirror-admin (401)",
            fix="Correct the password in the auth file.",
        )

    async with app.run_test(size=(80, 24)) as pilot:
        app.run_operation("mirror", "Mirroring", failing)
        await wait_for_screen(pilot, app, ErrorModal)
        text = screen_text(app)
        assert "rejected the credentials" in text and "Fix: Correct the password" in text
        assert "Traceback" not in text
        await pilot.press("l")
        await wait_for_screen(pilot, app, LogModal)
        assert "talking to the registry" in screen_text(app)


async def test_log_batches_and_keeps_bounded_history(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="mirror", live=False)
    lines = 12_000
    messages: list[Any] = []

    def flood(ctx: Context) -> int:
        for i in range(lines):
            ctx.emit.info(f"line {i}")
        return lines

    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        app.run_operation("mirror", "Flooding", flood)
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        log = app.screen.query_one(StepLog)
        run = app.run_for("mirror")
        assert run.log_total == lines + 1  # + the wizard's own "== Flooding" line
        assert len(run.log) == run.log.maxlen  # bounded
        assert log.line_count <= log.max_lines
        assert log.last_n == run.log_total
        pending = [m for m in messages if type(m).__name__ == "EventsPending"]
        assert 0 < len(pending) < lines / 10  # batched: far fewer messages than lines


async def test_full_log_folds_long_lines_instead_of_cutting_them(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="mirror", live=False)
    long = "error: " + " ".join(f"word{i}" for i in range(40)) + " END-OF-LINE"

    def say(ctx: Context) -> None:
        ctx.emit.info(long)

    async with app.run_test(size=(80, 24)) as pilot:
        app.run_operation("mirror", "Saying", say)
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        await pilot.press("l")
        await pilot.pause(0.3)
        assert isinstance(app.screen, LogModal)
        log = app.screen.query_one(Log)
        shown = [str(log.lines[i]) for i in range(log.line_count)]
        assert any("END-OF-LINE" in line for line in shown), shown
        assert all(len(line) < log.size.width for line in shown)


async def test_quit_asks_while_a_cluster_change_runs(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="mhc-pause", live=False)
    release = threading.Event()

    def change(ctx: Context) -> str:
        while not ctx.cancel.is_set() and not release.is_set():
            ctx.cancel.wait(0.02)
        return "done"

    async with app.run_test(size=(80, 24)) as pilot:
        app.run_operation("mhc-pause", "Pausing the MachineHealthChecks", change, changes_cluster=True)
        await pilot.pause()
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, app, ConfirmModal)
        assert "changing the cluster right now" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.run_for("mhc-pause").running
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_leaving_a_screen_keeps_work_running(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="mirror", live=False)
    go = threading.Event()

    def work(ctx: Context) -> str:
        go.wait(10)
        ctx.emit.info("finished while another screen was shown")
        return "ok"

    async with app.run_test(size=(80, 24)) as pilot:
        app.run_operation("mirror", "Long work", work)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.STEP == "mirror-config"
        go.set()
        await app.workers.wait_for_complete()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.STEP == "mirror"
        assert "finished while another screen was shown" in screen_text(app)


async def test_runbook_key_writes_both_files(make_app: Callable[..., Any], workdir: Path) -> None:
    app = make_app(start_step="mhc-resume", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await pilot.pause()
    runbook = (workdir / "runbook.sh").read_text()
    record = (workdir / "change-record.md").read_text()
    assert "# cluster:   https://127.0.0.1:9" in runbook
    assert "**Prepared by:** oncall@bastion" in record


async def wait_for_screen(pilot: Any, app: Any, kind: type) -> None:
    for _ in range(200):
        if isinstance(app.screen, kind):
            await pilot.pause(0.05)
            return
        await pilot.pause(0.02)
    raise AssertionError(f"{kind.__name__} did not open; screen is {app.screen!r}")


def test_wait_helper_exists() -> None:
    assert wait_until(lambda: True)


async def test_summary_names_what_remains_after_this_update(
    make_app: Callable[..., Any], workdir: Path
) -> None:
    journal = journal_of(workdir)
    journal.record_decision(
        "release",
        "target",
        {"version": "4.16.20", "digest": "sha256:" + "1" * 64, "path": ["4.16.18", "4.16.20", "4.17.3"]},
    )
    res = "poddisruptionbudget/payments/payments-api-pdb"
    for phase in ("intent", "done"):
        journal.change(
            "fixes",
            "relax",
            res,
            before={"spec": {"minAvailable": 1}},
            after={"spec": {}},
            phase=phase,
            fix="pdb",
        )
    app = make_app(start_step="mhc-resume", live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Relaxed by ocp-airgap: payments-api-pdb" in text
        assert "This update goes to 4.16.20; 4.17.3 needs 1 more: 4.17.3." in text
        assert "run the steps again from Release with the target 4.17.3" in text


async def test_preflight_arrows_move_at_once_and_the_detail_follows(make_app: Callable[..., Any]) -> None:
    from tests.tui.test_snapshots import _preflight_results
    from tui.widgets.checks import CheckTable

    app = make_app(start_step="preflight", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        worker = app.run_operation(
            "preflight", "Running the preflight checks", _preflight_results, app.screen.show_results
        )
        await worker.wait()
        await pilot.pause()
        table = app.screen.query_one(CheckTable)
        assert table.selected() is not None and table.selected().name == "PodDisruptionBudgets"  # the failure
        text = screen_text(app)
        assert "FAIL  PodDisruptionBudgets" in text and "FAIL PodDisruptionBudgets: payments" in text
        assert "x: ocp-airgap makes this fix for you" in text
        assert "1 warning" not in text and "2 warnings" in text
        await pilot.press("up")  # no Tab first
        await pilot.pause()
        assert table.selected().name == "MachineConfigPools"
        text = screen_text(app)
        assert "WARN  MachineConfigPools" in text and "WARN MachineConfigPools: worker" in text
        for _ in range(8):
            await pilot.press("down")
        await pilot.pause()
        assert table.selected().name == "mirror registry"
        assert "PASS  mirror registry" in screen_text(app)  # the selection scrolled into view


async def test_invalid_input_stays_readable(make_app: Callable[..., Any]) -> None:
    app = make_app(start_step="release", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", "ctrl+a", "ctrl+k", *"4.99")
        await pilot.pause()
        text = screen_text(app)
        target = next(line for line in text.splitlines() if "Target" in line)
        assert "4.99" in target
        assert "4.99: expected a version such as 4.17.3" in text


async def test_relative_media_path_is_refused(make_app: Callable[..., Any]) -> None:
    app = make_app(live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#media-path", Input).focus()
        await pilot.press(*"media")
        await pilot.pause()
        assert "expected an absolute path" in screen_text(app)
        await pilot.press("escape", "r")
        await pilot.pause()
        assert app.screen.STEP == "welcome"  # not continued with a relative path


async def test_quit_dialog_names_its_action(make_app: Callable[..., Any]) -> None:
    """(Ctrl+C's hint is a notification: the tmux test of plain terminals waits for it on the real screen.)"""
    app = make_app(start_step="mirror", live=False)
    started = threading.Event()

    def slow(ctx: Context) -> None:
        started.set()
        ctx.cancel.wait(10)

    async with app.run_test(size=(80, 24)) as pilot:
        app.run_operation("mirror", "Mirroring the release", slow, changes_cluster=True)
        started.wait(5)
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, app, ConfirmModal)
        text = screen_text(app)
        assert "y quit" in text and "y apply" not in text
        await pilot.press("n")
        app.run_for("mirror").cancel.set()


def _prepared_signature() -> Any:
    from engine.changes import Change
    from engine.signatures import PreparedSignature, VerifiedSignature

    digest = "sha256:" + "ab" * 32
    blob = "owGbwMvMwMX4" * 40
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sha256-" + "ab" * 32, "namespace": "openshift-config-managed"},
        "binaryData": {"sha256-" + "ab" * 32 + "-1": blob},
    }
    verified = VerifiedSignature(
        index=1,
        keyring="openshift-config-managed/release-verification",
        signer_fingerprint="567e347ad0044ade55ba8a5f199e2f91fd431d51",
        signer_user_ids=("Red Hat, Inc. (release key 2) <security@redhat.com>",),
        signing_key="199e2f91fd431d51",
        digest=digest,
        docker_reference="quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
        timestamp=1741940813,
    )
    change = Change("Create the signature ConfigMap", "configmap/openshift-config-managed/x", None, cm)
    return PreparedSignature(
        digest, cm, [verified], change, "https://mirror.openshift.com/pub/openshift-v4/signatures"
    )


def test_signature_facts_are_decoded_not_a_blob() -> None:
    from screens.signature import signature_facts

    text = "\n".join(signature_facts(_prepared_signature()))
    assert "sha256:" + "ab" * 32 in text
    assert "Red Hat, Inc. (release key 2)" in text and "567E347AD0044ADE" in text
    assert "2025-03-14 08:26 UTC" in text and "ocp-release:4.17.3-x86_64" in text
    assert "owGbwMvMwMX4" not in text


async def test_confirmation_keeps_the_raw_change_one_key_away(make_app: Callable[..., Any]) -> None:
    from engine.changes import render_changes
    from screens.signature import signature_facts

    prepared = _prepared_signature()
    app = make_app(start_step="signature", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(
            ConfirmModal(
                "Apply the release signature ConfigMap?",
                "\n".join(signature_facts(prepared)),
                details=render_changes(prepared.changes),
            )
        )
        await pilot.pause()
        text = screen_text(app)
        assert "signed by: Red Hat" in text and "owGbwMvMwMX4" not in text and "d details" in text
        await pilot.press("d")
        await pilot.pause()
        text = screen_text(app)
        assert "owGbwMvMwMX4" in text and "d back" in text
        await pilot.press("d")
        await pilot.pause()
        assert "signed by: Red Hat" in screen_text(app)


async def test_a_key_pressed_during_the_screens_own_read_waits_for_it(make_app: Callable[..., Any]) -> None:
    """A screen that reads something by itself when it opens (start_read) does not refuse a key pressed
    meanwhile: the key's action is carried out when the read is done. Any other running work still refuses."""
    app = make_app(start_step="mhc-pause", live=False)
    release = threading.Event()
    shown: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StepScreen)
        screen.start_read("Reading slowly", lambda ctx: release.wait(10) and "read", shown.append)
        wait_until(lambda: screen.run.running, 5, what="the read to run")
        assert screen.check_not_running("app.help") is False  # queued, not refused
        assert not isinstance(app.screen, HelpModal)
        release.set()
        for _ in range(200):
            await pilot.pause(0.02)
            if isinstance(app.screen, HelpModal):
                break
        assert shown == ["read"] and isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        # work that is not the screen's own read is refused, not queued
        block = threading.Event()
        screen.start("Changing something", lambda ctx: block.wait(10))
        wait_until(lambda: screen.run.running, 5, what="the work to run")
        assert screen.check_not_running("app.help") is False
        block.set()
        for _ in range(200):
            await pilot.pause(0.02)
            if not screen.run.running:
                break
        await pilot.pause(0.2)
        assert not isinstance(app.screen, HelpModal)


async def test_preflight_selection_stays_in_view_when_checks_arrive_one_by_one(
    make_app: Callable[..., Any],
) -> None:
    """The checks stream in while the preflight runs (each one redraws the table); when they are done the first
    failure is selected: it must be in the table's visible rows and be the check the detail pane describes."""
    from engine.events import CheckStatus
    from tui.widgets.checks import CheckTable

    def streamed(ctx: Context) -> list[Any]:
        results = []
        for i in range(14):
            status = CheckStatus.FAIL if i == 11 else CheckStatus.PASS
            results.append(
                ctx.emit.check(f"check-{i:02d}", status, f"detail {i}", "a fix" if i == 11 else "")
            )
            threading.Event().wait(0.03)  # the pace of real checks: each one reaches the screen on its own
        return results

    app = make_app(start_step="preflight", live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        worker = app.run_operation(
            "preflight", "Running the preflight checks", streamed, app.screen.show_results
        )
        table = app.screen.query_one(CheckTable)
        grid = table.table
        seen_while_running = 0
        while worker.is_running:
            await pilot.pause(0.01)
            if "check-11" in [c.name for c in table.checks]:
                # from the moment the failure is listed, it is the selected check
                assert table.selected() is not None and table.selected().name == "check-11"
                seen_while_running += 1
        await worker.wait()
        assert seen_while_running, "the test did not see the table while the checks arrived"

        def in_view() -> bool:
            visible = grid.size.height - grid.header_height
            return int(grid.scroll_y) <= grid.cursor_row < int(grid.scroll_y) + visible

        for _ in range(50):
            await pilot.pause(0.02)
            if table.selected() is not None and table.selected().name == "check-11" and in_view():
                break
        assert table.selected() is not None and table.selected().name == "check-11"
        assert in_view(), (grid.cursor_row, grid.scroll_y, grid.size.height)
        text = screen_text(app)
        assert "FAIL  check-11" in text and "FAIL check-11: detail 11" in text, text
