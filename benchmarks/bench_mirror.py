"""Mirroring benchmark: ocp-airgap's built-in mirror against skopeo, on the same machine, in one run.

    .venv/bin/python -m benchmarks.bench_mirror            # 190 components, ~2 GB, then a 1 GB-layer release
    .venv/bin/python -m benchmarks.bench_mirror --components 40 --size-mb 300 --big-layer-mb 256   # quicker

It brings up a sandbox lab (upstream registry with one synthetic release whose components share base layers,
like real releases) and empty TLS + htpasswd mirror registries, then times:

1. ``ocp-airgap mirror --plan P`` (the built-in engine, as a user runs it, verification included);
2. ``skopeo copy --all --preserve-digests`` of every image one by one (release image + each component);
3. ``skopeo sync --all`` of the release and component repositories (where it applies: by tag);
4. a second ``ocp-airgap mirror`` pass over the complete mirror;
5. peak RSS of ``ocp-airgap mirror`` on a release with one 1 GB layer (``wait4`` of the process).

and prints each figure and the ratios (targets: ≥3× faster than per-image skopeo, second pass <3 % of the
first, peak RSS <200 MB). Everything it starts is stopped by PID at the end; the lab folder is removed unless
``--keep``.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
VERSION = "4.17.3"


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Registries:
    """Empty TLS + htpasswd docker-registry processes for the measured copies."""

    def __init__(self, root: Path) -> None:
        from sandbox.certs import cert_dir_for, make_ca, make_server_cert

        self.root = root
        self.ca = make_ca(root / "pki", "bench-ca")
        self.cert = make_server_cert(self.ca, root / "pki", "bench-server")
        self.password = secrets.token_urlsafe(16)
        self.user = "bench"
        self.procs: list[Any] = []
        self.cert_dir_for = cert_dir_for

    def start(self, name: str) -> Any:
        from sandbox.registry import RegistryProcess, make_htpasswd

        d = self.root / name
        ht = make_htpasswd(d / "htpasswd", {self.user: self.password})
        proc = RegistryProcess(d, tls=(self.cert.cert, self.cert.key), htpasswd=ht)
        proc.start()
        self.procs.append(proc)
        return proc

    def cert_dir(self, host: str) -> str:
        return str(self.cert_dir_for(self.ca.cert, self.root / "certs.d" / host))

    def stop_all(self) -> None:
        for p in self.procs:
            p.stop()


def _auth_file(path: Path, lab_auth: str, extra: dict[str, tuple[str, str]]) -> str:
    doc = json.loads(Path(lab_auth).read_text())
    for host, (user, pw) in extra.items():
        doc["auths"][host] = {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return str(path)


def _plan_for(lab: Any, target: Any, regs: Registries, directory: Path, name: str) -> str:
    from engine.plan import Plan

    plan = Plan.load(lab.plan)
    plan.mirror.registry = target.host
    plan.mirror.ca_file = str(regs.ca.cert)
    plan.mirror.username = ""
    plan.mirror.password_file = ""
    plan.cluster.kubeconfig = str(directory / "no-cluster-kubeconfig")
    plan.auth_file = _auth_file(
        directory / f"{name}-auth.json", lab.auth_file, {target.host: (regs.user, regs.password)}
    )
    path = directory / f"{name}-plan.yaml"
    plan.save(path)
    return str(path)


CPU: dict[str, float] = {}


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run_measured(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Run argv; return (seconds, exit code, peak RSS in bytes of that process) — wait4 gives its own rusage.
    The process's CPU seconds are left in CPU["last"]."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    CPU["last"] = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return seconds, proc.returncode, usage.ru_maxrss * 1024


def _ocp_airgap(plan_path: str, state: Path) -> list[str]:
    return [sys.executable, "-m", "cli.main", "mirror", "--plan", plan_path]


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OCP_AIRGAP_STATE_DIR"] = str(state)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lab(directory: Path, components: int, size_mb: float, big_layer_mb: float = 0.0) -> Any:
    import sandbox.lab as lab
    from sandbox.releases import build_releases

    original: Callable[..., Any] = lab.build_releases
    if big_layer_mb:
        lab.build_releases = functools.partial(build_releases, big_layer_mb=big_layer_mb)  # type: ignore[assignment]
    try:
        return lab.up(
            directory, components=components, size_mb=size_mb, api=False, versions=[VERSION], jobs=4
        )
    finally:
        lab.build_releases = original  # type: ignore[assignment]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from engine.oci.payload import read_release_pullspec
    from sandbox.lab import down

    base = Path(args.dir or tempfile.mkdtemp(prefix="ocp-airgap-bench-")).absolute()
    base.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "components": args.components,
        "size_mb": args.size_mb,
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    regs = Registries(base / "targets")
    lab_dir = base / "lab"
    try:
        _say(f"bringing up a lab with {args.components} components (~{args.size_mb:.0f} MB) in {lab_dir}")
        t = time.monotonic()
        lab = _lab(lab_dir, args.components, args.size_mb)
        _say(f"lab ready in {time.monotonic() - t:.0f} s")
        rel = lab.release(VERSION)
        info = read_release_pullspec(rel.pullspec, auth_file=lab.auth_file, ca_file=lab.upstream.ca_file)
        results["images"] = len(info.components) + 1

        # 1. ocp-airgap built-in, then 4. a second pass
        ours = regs.start("ours")
        plan = _plan_for(lab, ours, regs, base, "ours")
        state = base / "state"
        _say("1. ocp-airgap mirror (built-in engine) …")
        first, _, _ = _run_measured(_ocp_airgap(plan, state), _env(state))
        du = sum(p.stat().st_size for p in ours.data_dir.rglob("*") if p.is_file())
        results["ocp_airgap_seconds"] = round(first, 2)
        results["ocp_airgap_cpu_seconds"] = round(CPU["last"], 2)
        results["bytes_in_mirror"] = du
        _say(f"   {first:.1f} s, {du / 1e9:.2f} GB in the mirror")
        _say("4. second ocp-airgap pass over the complete mirror …")
        second, _, _ = _run_measured(_ocp_airgap(plan, state), _env(state))
        results["second_pass_seconds"] = round(second, 2)
        _say(f"   {second:.2f} s")

        # 2. skopeo copy, one image at a time
        sk = regs.start("skopeo")
        authfile = _auth_file(base / "skopeo-auth.json", lab.auth_file, {sk.host: (regs.user, regs.password)})
        src_certs = lab.upstream.cert_dir
        dst_certs = regs.cert_dir(sk.host)
        copies = [(rel.pullspec, f"{sk.host}/ocp4/openshift4:{VERSION}-x86_64")]
        copies += [
            (c.pullspec, f"{sk.host}/ocp4/openshift4:{VERSION}-x86_64-{c.name}") for c in info.components
        ]
        copies = copies[1:] + copies[:1]  # components first, the release image last (as oc does)
        _say(f"2. skopeo copy --all of {len(copies)} images one by one …")
        t = time.monotonic()
        cpu0 = _children_cpu()
        for src, dst in copies:
            subprocess.run(
                [
                    "skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--authfile", authfile,
                    "--src-cert-dir", src_certs, "--dest-cert-dir", dst_certs, f"docker://{src}", f"docker://{dst}",
                ],
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )  # fmt: skip
        results["skopeo_copy_seconds"] = round(time.monotonic() - t, 2)
        results["skopeo_copy_cpu_seconds"] = round(_children_cpu() - cpu0, 2)
        _say(f"   {results['skopeo_copy_seconds']:.1f} s")

        # 3. skopeo sync of the two repositories (by tag)
        sy = regs.start("sync")
        authfile = _auth_file(base / "sync-auth.json", lab.auth_file, {sy.host: (regs.user, regs.password)})
        _say("3. skopeo sync --all of the release and component repositories …")
        t = time.monotonic()
        cpu0 = _children_cpu()
        for repo in (lab.upstream.component_repository, lab.upstream.release_repository):
            subprocess.run(
                [
                    "skopeo", "sync", "--all", "--preserve-digests", "--src", "docker", "--dest", "docker",
                    "--authfile", authfile, "--src-cert-dir", src_certs, "--dest-cert-dir", regs.cert_dir(sy.host),
                    repo, f"{sy.host}/ocp4",
                ],
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )  # fmt: skip
        results["skopeo_sync_seconds"] = round(time.monotonic() - t, 2)
        results["skopeo_sync_cpu_seconds"] = round(_children_cpu() - cpu0, 2)
        _say(f"   {results['skopeo_sync_seconds']:.1f} s")
        regs.stop_all()
        regs.procs.clear()
        down(lab_dir)

        # 5. peak RSS on a release with a 1 GB layer
        if args.big_layer_mb:
            big_dir = base / "lab-big"
            _say(f"5. lab with a {args.big_layer_mb:.0f} MB layer …")
            big = _lab(big_dir, 4, 20, big_layer_mb=args.big_layer_mb)
            target = regs.start("big")
            plan = _plan_for(big, target, regs, base, "big")
            seconds, _, rss = _run_measured(_ocp_airgap(plan, state), _env(state))
            results["big_layer_mb"] = args.big_layer_mb
            results["big_layer_mirror_seconds"] = round(seconds, 2)
            results["peak_rss_bytes"] = rss
            _say(f"   mirrored in {seconds:.1f} s, peak RSS {rss / 1e6:.0f} MB")
            regs.stop_all()
            down(big_dir)
    finally:
        regs.stop_all()
        for d in (lab_dir, base / "lab-big"):
            if (d / "processes.json").exists():
                down(d)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return results


def report(r: dict[str, Any]) -> str:
    lines = [
        f"machine: {os.cpu_count()} CPUs, load average {r.get('load_average', '?')} at the start",
        f"release: {r['images']} images ({r['components']} components), {r.get('bytes_in_mirror', 0) / 1e9:.2f} GB stored",
        f"ocp-airgap mirror (built-in)      {r['ocp_airgap_seconds']:8.1f} s   (client CPU {r['ocp_airgap_cpu_seconds']:.1f} s)",
        f"skopeo copy --all, one by one     {r['skopeo_copy_seconds']:8.1f} s   (client CPU {r['skopeo_copy_cpu_seconds']:.1f} s)",
        f"skopeo sync --all (by tag)        {r['skopeo_sync_seconds']:8.1f} s   (client CPU {r['skopeo_sync_cpu_seconds']:.1f} s)",
        f"ocp-airgap second pass            {r['second_pass_seconds']:8.2f} s",
    ]
    speedup = r["skopeo_copy_seconds"] / r["ocp_airgap_seconds"]
    vs_sync = r["skopeo_sync_seconds"] / r["ocp_airgap_seconds"]
    share = r["second_pass_seconds"] / r["ocp_airgap_seconds"] * 100
    lines += [
        f"speed-up vs per-image skopeo copy {speedup:8.1f} x   (target >= 3x: {'met' if speedup >= 3 else 'NOT met'})",
        f"speed-up vs skopeo sync           {vs_sync:8.1f} x",
        f"second pass / first pass          {share:8.1f} %   (target < 3 %: {'met' if share < 3 else 'NOT met'})",
    ]
    if "peak_rss_bytes" in r:
        mb = r["peak_rss_bytes"] / 1e6
        lines.append(
            f"peak RSS, {r['big_layer_mb']:.0f} MB layer release   {mb:8.0f} MB  (target < 200 MB: "
            f"{'met' if mb < 200 else 'NOT met'}; mirrored in {r['big_layer_mirror_seconds']:.1f} s)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench_mirror", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--components", type=int, default=190)
    p.add_argument(
        "--size-mb", type=float, default=2000.0, help="approximate size of the release's distinct blobs"
    )
    p.add_argument("--big-layer-mb", type=float, default=1024.0, help="0 skips the peak-memory run")
    p.add_argument("--dir", default="", help="work folder (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--json", default="", metavar="FILE", help="also write the figures as JSON")
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
