"""Wizard benchmarks: start to first screen, and log pane throughput while keys stay responsive.

Run:  .venv/bin/python benchmarks/bench_tui.py [--lines N] [--runs R]

1. Start to first screen: a fresh Python process imports the wizard, builds the App on an offline plan and
   renders its first screen headless at 80x24; measured from before the process is spawned to the first
   refresh (so interpreter start and imports count). Target < 1 s.
2. Log throughput: a thread worker emits N log lines as fast as it can through the engine's Emitter; the log
   pane shows them in batches. Meanwhile '?' is pressed repeatedly and the time until the help modal is the
   active screen is measured (then Esc). Targets: >= 5,000 lines/s shown, key response < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: admin, context: {cluster: c, user: u}}]
current-context: admin
users: [{name: u, user: {token: x}}]
"""

STARTUP = textwrap.dedent(
    """
    import sys, time
    from engine.plan import Plan
    from tui.app import WizardApp, open_journal
    plan = Plan.load("plan.yaml")
    app = WizardApp(plan, journal=open_journal(plan), cursor_blink=False, live=False)
    def first() -> None:
        print(f"{time.time():.6f}", flush=True)
        app.exit()
    app.call_later(lambda: app.call_after_refresh(first))
    app.run(headless=True, size=(80, 24))
    """
)


def prepare(folder: Path) -> None:
    from engine.plan import Plan

    (folder / "kubeconfig").write_text(KUBECONFIG)
    plan = Plan()
    plan.cluster.kubeconfig = "kubeconfig"
    plan.mirror.registry = "mirror.example.com:8443"
    plan.release.version = "4.17.3"
    plan.save(folder / "plan.yaml")


def bench_startup(folder: Path, runs: int) -> list[float]:
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(folder / "state"), "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP], cwd=folder, env=env, capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]) - t0)
    return times


async def bench_log(folder: Path, lines: int) -> tuple[float, list[float], int]:
    from engine.context import Context
    from engine.plan import Plan
    from tui.app import WizardApp, open_journal
    from tui.widgets.modals import HelpModal
    from tui.widgets.step_log import StepLog

    plan = Plan.load(folder / "plan.yaml")
    app = WizardApp(plan, journal=open_journal(plan), cursor_blink=False, live=False, start_step="mirror")
    latencies: list[float] = []

    def flood(ctx: Context) -> int:
        for i in range(lines):
            ctx.emit.info(f"copied blob sha256:{i:064x} (6.3 MiB) to 127.0.0.1:5000/ocp4/openshift4")
        return lines

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = app.screen.query_one(StepLog)
        start = time.perf_counter()
        app.run_operation("mirror", "Flood", flood)
        while log.last_n < lines + 1:
            await asyncio.sleep(0.1)
            t0 = time.perf_counter()
            app.simulate_key("question_mark")  # a key event queued exactly as a terminal's would be
            while not isinstance(app.screen, HelpModal):  # noqa: ASYNC110 - polling what the user would see
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - t0)
            app.simulate_key("escape")
            while isinstance(app.screen, HelpModal):  # noqa: ASYNC110 - polling what the user would see
                await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - start
        shown = log.last_n
    return shown / elapsed, latencies, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["OCP_AIRGAP_STATE_DIR"] = str(folder / "state")
        prepare(folder)
        startup = bench_startup(folder, args.runs)
        print(
            f"start to first screen: median {statistics.median(startup) * 1000:.0f} ms, "
            f"max {max(startup) * 1000:.0f} ms over {len(startup)} runs (target < 1000 ms)"
        )
        rate, latencies, shown = asyncio.run(bench_log(folder, args.lines))
        lat = sorted(latencies)
        p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
        print(
            f"log pane: {shown} lines shown at {rate:,.0f} lines/s (target >= 5,000); key response while "
            f"flooding: median {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms over {len(lat)} presses (target < 100 ms)"
        )


if __name__ == "__main__":
    main()
