"""Mirroring over shaped links: ocp-airgap against skopeo, every tool through the same link shaper, in one run.

    .venv/bin/python -m benchmarks.bench_links                      # lan, wan, lossy; ~40 components, ~400 MB
    .venv/bin/python -m benchmarks.bench_links --profiles wan --size-mb 200

It brings up a sandbox lab (its upstream registry plays quay.io, with bearer-token auth) and puts the lab's link
shaper (:mod:`sandbox.shaper`) in front of it: the WAN link between the mirroring host and the internet. The
mirror registries stay on the LAN (no shaping). For each profile, into empty TLS + htpasswd mirror registries:

1. ``ocp-airgap mirror --plan P`` (the built-in engine, verification included);
2. ``skopeo copy --all --preserve-digests`` of every image one by one (release image + each component);
3. ``skopeo sync --all`` of the component and release repositories.

Profiles: ``lan`` (no added latency or cap), ``wan`` (40 ms RTT, 200 Mbit/s), ``lossy`` (wan plus a connection
reset every ~200 MB of downloads). Per tool: wall time, bytes on the wire (what crossed the shaper, both ways),
link utilisation (bytes received / (time × cap)), client CPU seconds per GB, and on ``lossy`` the bytes wasted
compared with the same tool on ``wan`` and whether it finished in one run. A peer that fails is reported as it
is, then run once more (what a user would do) and the total time counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.bench_mirror import VERSION, Registries, _auth_file, _env, _lab, _say

REPO_ROOT = Path(__file__).resolve().parents[1]
MBIT = 1_000_000 / 8
MAX_RUNS = 3
"""A tool that fails is run again (what a user does), at most this many runs in all."""
PROFILES: dict[str, dict[str, Any]] = {
    "lan": {"rtt": 0.0, "rate": 0.0, "cut_every": 0},
    "wan": {"rtt": 0.040, "rate": 200 * MBIT, "cut_every": 0},
    "lossy": {"rtt": 0.040, "rate": 200 * MBIT, "cut_every": 200 * 1000 * 1000},
}


def _run(
    argv: Sequence[str], env: dict[str, str] | None = None, stdout: Path | None = None
) -> tuple[bool, float, str]:
    """Run argv; (ok, CPU seconds of that process and its children, stderr tail); stdout to a file if given."""
    sink = open(stdout, "wb") if stdout else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        list(argv),
        stdout=sink or subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    if sink is not None:
        sink.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode == 0, usage.ru_utime + usage.ru_stime, err[-600:]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from engine.oci.payload import read_release_pullspec
    from engine.plan import Plan
    from sandbox.lab import down
    from sandbox.shaper import Faults, Link, Shaper

    base = Path(args.dir or tempfile.mkdtemp(prefix="ocp-airgap-links-")).absolute()
    base.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "components": args.components,
        "size_mb": args.size_mb,
        "load_average_start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "profiles": {},
    }
    regs = Registries(base / "targets")
    lab_dir = base / "lab"
    shaper: Shaper | None = None
    try:
        _say(f"bringing up a lab with {args.components} components (~{args.size_mb:.0f} MB) in {lab_dir}")
        lab = _lab(lab_dir, args.components, args.size_mb)
        rel = lab.release(VERSION)
        info = read_release_pullspec(rel.pullspec, auth_file=lab.auth_file, ca_file=lab.upstream.ca_file)
        pki = lab_dir / "pki"
        shaper = Shaper(
            f"https://{lab.upstream.registry}",
            tls=(pki / "upstream-registry.crt", pki / "upstream-registry.key"),
            upstream_ca=lab.upstream.ca_file,
            max_seconds=3 * 3600,
        ).start()
        up, via = lab.upstream.registry, shaper.host
        pull = json.loads(Path(lab.pull_secret).read_text())["auths"][up]
        results["images"] = len(info.components) + 1
        src_certs = lab.upstream.cert_dir
        total_bytes = 0

        for name in args.profiles:
            prof = PROFILES[name]
            shaper.set_link(Link(rtt=prof["rtt"], rate=prof["rate"]))
            shaper.faults = Faults(cut_every=prof["cut_every"], cut_mode="reset")
            out: dict[str, Any] = {}
            results["profiles"][name] = out
            _say(f"profile {name}: rtt {prof['rtt'] * 1000:.0f} ms, cap {prof['rate'] / MBIT:.0f} Mbit/s, "
                 f"cut every {prof['cut_every'] / 1e6:.0f} MB")  # fmt: skip

            # 1. ocp-airgap
            target = regs.start(f"{name}-ours")
            plan = Plan.load(lab.plan)
            plan.mirror.registry = target.host
            plan.mirror.ca_file = str(regs.ca.cert)
            plan.mirror.username = ""
            plan.mirror.password_file = ""
            plan.cluster.kubeconfig = str(base / "no-cluster-kubeconfig")
            plan.endpoints.release_source = lab.upstream.release_repository.replace(up, via)
            plan.endpoints.component_source = lab.upstream.component_repository.replace(up, via)
            authf = _auth_file(
                base / f"{name}-ours-auth.json", lab.auth_file, {target.host: (regs.user, regs.password)}
            )
            doc = json.loads(Path(authf).read_text())
            doc["auths"][via] = pull
            Path(authf).write_text(json.dumps(doc))
            plan.auth_file = authf
            plan_path = base / f"{name}-plan.yaml"
            plan.save(plan_path)
            state = base / f"state-{name}"
            shaper.reset_stats()
            _say("  ocp-airgap mirror …")
            events = base / f"{name}-ocp-airgap.jsonl"
            cmd = [sys.executable, "-m", "cli.main", "mirror", "--plan", str(plan_path), "--json"]
            t = time.monotonic()
            ok, cpu, err = _run(cmd, _env(state), events)
            phases = _phases(events)
            attempts = 1
            while not ok and attempts < MAX_RUNS:
                _say(f"    failed: {err.strip().splitlines()[-1:]}; running it again")
                ok, cpu2, err = _run(cmd, _env(state))
                cpu += cpu2
                attempts += 1
            seconds = time.monotonic() - t
            stats = shaper.reset_stats()
            stored = sum(p.stat().st_size for p in target.data_dir.rglob("*") if p.is_file())
            total_bytes = total_bytes or stored
            out["ocp-airgap"] = _figures(seconds, cpu, stats, prof, ok and attempts == 1, attempts, stored)
            out["ocp-airgap"]["completed"] = ok
            out["ocp-airgap"]["phases"] = phases
            _say(f"    {_line(out['ocp-airgap'])}; phases {phases}")

            # 2. skopeo copy, one image at a time; failed images copied again (what a user does)
            sk = regs.start(f"{name}-copy")
            authfile = _auth_file(
                base / f"{name}-copy-auth.json", lab.auth_file, {sk.host: (regs.user, regs.password)}
            )
            doc = json.loads(Path(authfile).read_text())
            doc["auths"][via] = pull
            Path(authfile).write_text(json.dumps(doc))
            copies = [(f"{via}/{c.reference.repository}@{c.digest}", f"{sk.host}/ocp4/openshift4:{VERSION}-x86_64-{c.name}")
                      for c in info.components]  # fmt: skip
            copies.append((rel.pullspec.replace(up, via), f"{sk.host}/ocp4/openshift4:{VERSION}-x86_64"))
            _say(f"  skopeo copy of {len(copies)} images one by one …")
            cpu = 0.0
            t = time.monotonic()
            pending = list(range(len(copies)))
            runs = 0
            first_failures = 0
            while pending and runs < MAX_RUNS:
                runs += 1
                failed: list[int] = []
                for i in pending:
                    src, dst = copies[i]
                    ok1, c, _ = _run(["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--authfile",
                                      authfile, "--src-cert-dir", src_certs, "--dest-cert-dir",
                                      regs.cert_dir(sk.host), f"docker://{src}", f"docker://{dst}"])  # fmt: skip
                    cpu += c
                    if not ok1:
                        failed.append(i)
                if runs == 1:
                    first_failures = len(failed)
                pending = failed
            seconds = time.monotonic() - t
            stats = shaper.reset_stats()
            out["skopeo copy"] = _figures(
                seconds, cpu, stats, prof, runs == 1 and not pending, runs, total_bytes
            )
            out["skopeo copy"]["failed_images_first_pass"] = first_failures
            out["skopeo copy"]["completed"] = not pending
            _say(f"    {_line(out['skopeo copy'])}, {first_failures} image(s) failed the first time")

            # 3. skopeo sync of both repositories; a failed sync is run again
            sy = regs.start(f"{name}-sync")
            authfile = _auth_file(
                base / f"{name}-sync-auth.json", lab.auth_file, {sy.host: (regs.user, regs.password)}
            )
            doc = json.loads(Path(authfile).read_text())
            doc["auths"][via] = pull
            Path(authfile).write_text(json.dumps(doc))
            _say("  skopeo sync of the component and release repositories …")
            cpu = 0.0
            sync_runs = 0
            completed = True
            t = time.monotonic()
            for repo in (lab.upstream.component_repository, lab.upstream.release_repository):
                for attempt in range(1, MAX_RUNS + 1):
                    ok1, c, err = _run(["skopeo", "sync", "--all", "--preserve-digests", "--src", "docker", "--dest",
                                        "docker", "--authfile", authfile, "--src-cert-dir", src_certs,
                                        "--dest-cert-dir", regs.cert_dir(sy.host), repo.replace(up, via),
                                        f"{sy.host}/ocp4"])  # fmt: skip
                    cpu += c
                    sync_runs = max(sync_runs, attempt)
                    if ok1:
                        break
                    _say(f"    skopeo sync failed (run {attempt}): …{err.strip()[-140:]}")
                else:
                    completed = False
            seconds = time.monotonic() - t
            stats = shaper.reset_stats()
            out["skopeo sync"] = _figures(seconds, cpu, stats, prof, sync_runs == 1, sync_runs, total_bytes)
            out["skopeo sync"]["completed"] = completed
            _say(f"    {_line(out['skopeo sync'])}")
            for reg in (target, sk, sy):
                reg.stop()
                shutil.rmtree(reg.root / "data", ignore_errors=True)
        results["load_average_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        results["release_bytes"] = total_bytes
        _wasted(results)
    finally:
        if shaper is not None:
            shaper.stop()
        regs.stop_all()
        if (lab_dir / "processes.json").exists():
            down(lab_dir)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return results


def _phases(events: Path) -> dict[str, float]:
    """Seconds from the first event to: the copy starting, the last image copied, verification, the end."""
    from datetime import datetime

    out: dict[str, float] = {}
    try:
        lines = [json.loads(line) for line in events.read_text().splitlines() if line.startswith("{")]
    except (OSError, ValueError):
        return out
    stamps = [(datetime.fromisoformat(e["ts"]).timestamp(), e) for e in lines if e.get("ts")]
    if not stamps:
        return out
    t0 = stamps[0][0]
    for ts, e in stamps:
        text = str(e.get("text", ""))
        if "images to copy" in text and "copy_starts" not in out:
            out["copy_starts"] = round(ts - t0, 1)
        if text.startswith("copied "):
            out["last_copied"] = round(ts - t0, 1)
        if text.startswith("Verifying ") and "verify_starts" not in out:
            out["verify_starts"] = round(ts - t0, 1)
    out["end"] = round(stamps[-1][0] - t0, 1)
    return out


def _figures(seconds: float, cpu: float, stats: Any, prof: dict[str, Any], one_run: bool, runs: int,
             stored: int) -> dict[str, Any]:  # fmt: skip
    d = asdict(stats)
    util = stats.bytes_down / (seconds * prof["rate"]) if prof["rate"] else None
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_s_per_gb": round(cpu / (stored / 1e9), 1) if stored else None,
        "bytes_down": stats.bytes_down,
        "bytes_up": stats.bytes_up,
        "wire_bytes": stats.total,
        "link_utilisation": round(util, 3) if util is not None else None,
        "cuts": d["cuts"],
        "connections": d["connections"],
        "requests": d["requests"],
        "completed_in_one_run": one_run,
        "runs": runs,
    }


def _line(f: dict[str, Any]) -> str:
    util = (
        f"{f['link_utilisation'] * 100:.0f} % of the link" if f["link_utilisation"] is not None else "no cap"
    )
    return (f"{f['seconds']:.1f} s, {f['wire_bytes'] / 1e6:.0f} MB on the wire, {util}, "
            f"CPU {f['cpu_seconds']:.1f} s ({f['cpu_s_per_gb']} s/GB), {f['cuts']} cuts, {f['runs']} run(s)")  # fmt: skip


def _wasted(results: dict[str, Any]) -> None:
    profs = results["profiles"]
    if "lossy" not in profs or "wan" not in profs:
        return
    for tool, f in profs["lossy"].items():
        clean = profs["wan"][tool]["bytes_down"]
        f["wasted_bytes"] = f["bytes_down"] - clean
        f["wasted_fraction"] = round((f["bytes_down"] - clean) / clean, 4) if clean else None


def report(r: dict[str, Any]) -> str:
    lines = [
        f"machine: {os.cpu_count()} CPUs, load average {r['load_average_start']} at the start, "
        f"{r.get('load_average_end', '?')} at the end",
        f"release: {r['images']} images, {r['release_bytes'] / 1e6:.0f} MB stored",
    ]
    for name, tools in r["profiles"].items():
        lines.append(f"{name}:")
        for tool, f in tools.items():
            extra = ""
            if "wasted_fraction" in f and f["wasted_fraction"] is not None:
                extra = f", wasted {f['wasted_bytes'] / 1e6:.1f} MB ({f['wasted_fraction'] * 100:.1f} %)"
            lines.append(f"  {tool:<11} {_line(f)}{extra}")
        if "ocp-airgap" in tools and "skopeo copy" in tools:
            ours, copy, sync = tools["ocp-airgap"], tools["skopeo copy"], tools.get("skopeo sync")
            lines.append(f"  speed-up vs skopeo copy {copy['seconds'] / ours['seconds']:.1f}x"
                         + (f", vs skopeo sync {sync['seconds'] / ours['seconds']:.1f}x" if sync else ""))  # fmt: skip
    wan = r["profiles"].get("wan")
    if wan:
        sp = wan["skopeo copy"]["seconds"] / wan["ocp-airgap"]["seconds"]
        ut = wan["ocp-airgap"]["link_utilisation"] or 0
        lines.append(f"target wan >= 3x skopeo copy: {'met' if sp >= 3 else 'NOT met'} ({sp:.1f}x); "
                     f">= 85 % link utilisation: {'met' if ut >= 0.85 else 'NOT met'} ({ut * 100:.0f} %)")  # fmt: skip
    lossy = r["profiles"].get("lossy")
    if lossy:
        f = lossy["ocp-airgap"]
        w = f.get("wasted_fraction")
        ok = f["completed_in_one_run"] and w is not None and w < 0.05
        lines.append(f"target lossy: one run with < 5 % wasted bytes: {'met' if ok else 'NOT met'} "
                     f"(one run: {f['completed_in_one_run']}, wasted {w * 100 if w is not None else float('nan'):.1f} %)")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench_links", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--components", type=int, default=40)
    p.add_argument("--size-mb", type=float, default=400.0)
    p.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    p.add_argument("--dir", default="")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", default="", metavar="FILE")
    args = p.parse_args(argv)
    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        print("needs docker-registry and skopeo (apt-get install docker-registry skopeo)", file=sys.stderr)
        return 2
    results = run(args)
    print()
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
