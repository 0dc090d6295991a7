"""Snapshots of every wizard screen at 80x24 (the SSH minimum) and 120x40, deterministic: a fixed plan, no live
cluster reads, a fixed clock and operator, no cursor blink, relative paths only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from screens.steps import STEP_IDS

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEP_IDS)
def test_step_screen(
    snap_compare: Any, make_app: Callable[..., Any], step: str, size: tuple[int, int]
) -> None:
    app = make_app(start_step=step, live=False)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ascii_mode(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    app = make_app(start_step="credentials", live=False, ascii_only=True)
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    app = make_app(start_step="mhc-pause", live=False)
    assert snap_compare(app, press=["question_mark"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_confirm_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    from engine.changes import Change, render_changes
    from tui.widgets.modals import ConfirmModal

    change = Change(
        title="Pause MachineHealthCheck worker-mhc",
        resource="machinehealthcheck/openshift-machine-api/worker-mhc",
        before={"metadata": {"annotations": {}}},
        after={"metadata": {"annotations": {"cluster.x-k8s.io/paused": ""}}},
        command=[
            "oc",
            "-n",
            "openshift-machine-api",
            "annotate",
            "mhc",
            "worker-mhc",
            'cluster.x-k8s.io/paused=""',
        ],
    )
    app = make_app(start_step="mhc-pause", live=False)

    async def run_before(pilot: Any) -> None:
        app.push_screen(ConfirmModal("Pause these MachineHealthChecks?", render_changes([change])))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_error_modal(snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]) -> None:
    from engine.errors import Unauthorized

    app = make_app(start_step="signature", live=False)

    async def run_before(pilot: Any) -> None:
        app.show_error(
            "signature",
            Unauthorized(
                "the API server https://127.0.0.1:9 did not accept the credentials (401 Unauthorized)",
                fix="Your token has expired or is wrong: log in again with 'oc login'.",
            ),
        )
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


# ----- live states: driven through the App's public operations with fixed data -------------------------------

PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    + "".join(
        "MIIDdzCCAl+gAwIBAgIUQ0FUUklOR0xBQlJPT1RDQTAwMDAwMDAwMDAwMDAw" + str(i) + "\n" for i in range(12)
    )
    + "-----END CERTIFICATE-----\n"
)


def _preflight_results(ctx: Any) -> list[Any]:
    from engine.events import CheckStatus

    emit = ctx.emit
    emit.command(["oc", "get", "clusterversion", "version", "-o", "yaml"])
    emit.info("ClusterVersion: 4.16.18 in stable-4.16, available, not progressing")
    rows = [
        (
            "oc client",
            CheckStatus.PASS,
            "oc 4.17.3 matches the target",
            "",
            "the docs ask for the target's oc",
        ),
        ("cluster API", CheckStatus.PASS, "https://127.0.0.1:6443 as system:admin", "", ""),
        ("ClusterVersion", CheckStatus.PASS, "4.16.18, channel stable-4.16", "", ""),
        ("ClusterOperators", CheckStatus.PASS, "33 of 33 available, none degraded", "", ""),
        ("Nodes", CheckStatus.PASS, "6 of 6 Ready", "", ""),
        ("MachineConfigPools", CheckStatus.WARN, "worker: 1 machine still updating", "wait for the pool", ""),
        (
            "PodDisruptionBudgets",
            CheckStatus.FAIL,
            "payments/payments-api-pdb allows no disruption (minAvailable 1 of 1 pod, on worker-0)",
            "scale the deployment up or relax the budget for the update; x relaxes it and records the old spec",
            "a budget that allows no disruption stops the drain of its node forever, so the update stalls",
        ),
        ("CloudCredential", CheckStatus.PASS, "Mint mode", "", ""),
        ("etcd backup", CheckStatus.WARN, "none stated", "take one: cluster-backup.sh", "restore point"),
        ("mirror registry", CheckStatus.PASS, "mirror.example.com:8443 reachable, TLS trusted", "", ""),
    ]
    results = [emit.check(name, status, detail, fix, why) for name, status, detail, fix, why in rows]
    return results


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("ascii_only", [False, True], ids=["unicode", "ascii"])
def test_preflight_table_with_a_failure_and_its_fix_selected(
    snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int], ascii_only: bool
) -> None:
    app = make_app(start_step="preflight", live=False, ascii_only=ascii_only)

    async def run_before(pilot: Any) -> None:
        screen = app.screen
        worker = app.run_operation(
            "preflight", "Running the preflight checks", _preflight_results, screen.show_results
        )
        await worker.wait()
        for _ in range(4):  # the table, its detail pane and their scrollbars settle over a few refreshes
            await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


def _blocking(emit_events: Callable[[Any], None], app: Any) -> Callable[[Any], None]:
    """Work that reports a state, then holds it (as a long copy or an update does) until cancelled or the app
    stops running."""

    def work(ctx: Any) -> None:
        emit_events(ctx)
        deadline = time.monotonic() + 30
        while app.is_running and not ctx.cancel.wait(0.05) and time.monotonic() < deadline:
            pass

    return work


def _mirror_progress(ctx: Any) -> None:
    emit = ctx.emit
    emit.command(
        [
            "oc",
            "adm",
            "release",
            "mirror",
            "-a",
            "auth.json",
            "--from=quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
            "--to=mirror.example.com:8443/ocp4/openshift4",
            "--apply-release-image-signature",
        ]
    )
    for i in range(1, 4):
        emit.info(f"copied sha256:{i:064x} (48.2 MiB)")
    emit.progress(3.4 * 2**30, 9.1 * 2**30, "bytes", "release payload", rate=42.5 * 2**20, eta_seconds=137)
    emit.progress(71, 188, "images", "images")


def _update_progress(ctx: Any) -> None:
    emit = ctx.emit
    emit.command(["oc", "adm", "upgrade"])
    emit.info("Working towards 4.17.3: 412 of 903 done (46% complete)")
    emit.info("ClusterOperators at 4.17.3: 14 of 33 (kube-apiserver updating)")
    emit.info("MachineConfigPools: master 0/3, worker 0/3 updated")
    emit.progress(412, 903, "manifests", "CVO")
    emit.progress(14, 33, "operators", "at target")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "step,work,description",
    [
        ("mirror", _mirror_progress, "Mirroring the release"),
        ("upgrade", _update_progress, "Following the update"),
    ],
    ids=["mirror-in-progress", "update-mid-way"],
)
def test_work_in_progress(
    snap_compare: Any,
    make_app: Callable[..., Any],
    size: tuple[int, int],
    step: str,
    work: Callable[[Any], None],
    description: str,
) -> None:
    from engine.plan import Plan

    plan = Plan.load("plan.yaml")
    plan.source_path = "plan.yaml"
    plan.release.digest = "sha256:" + "ab" * 32
    app = make_app(plan, start_step=step, live=False)

    async def run_before(pilot: Any) -> None:
        app.run_operation(step, description, _blocking(work, app), changes_cluster=step == "upgrade")
        run = app.run_for(step)
        for _ in range(100):
            if len(run.progress_list()) == 2:
                break
            await pilot.pause(0.02)
        for _ in range(4):
            await pilot.pause()

    try:
        assert snap_compare(app, run_before=run_before, terminal_size=size)
    finally:
        for run in app.runs.values():
            run.cancel.set()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_confirmation_with_a_long_diff(
    snap_compare: Any, make_app: Callable[..., Any], size: tuple[int, int]
) -> None:
    """A CA bundle added to the cluster: a long diff, multi-line text shown line by line (no blank lines)."""
    from engine.changes import Change

    change = Change(
        title="Add the mirror CA to the cluster's trusted CAs",
        resource="configmap/openshift-config/registry-cas",
        before={"data": {}},
        after={"data": {"mirror.example.com..8443": PEM}},
        command=["oc", "apply", "-f", "registry-cas.yaml"],
    )
    app = make_app(start_step="credentials", live=False)

    async def run_before(pilot: Any) -> None:
        screen = app.screen
        screen.confirm_changes("Make the cluster trust the mirror CA?", [change], lambda: None)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_summary(
    snap_compare: Any, make_app: Callable[..., Any], workdir: Any, size: tuple[int, int]
) -> None:
    from tests.tui.conftest import journal_of

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
    assert snap_compare(app, terminal_size=size)
