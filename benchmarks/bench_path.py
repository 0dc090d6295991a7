"""Update-path mirroring benchmark: every release of an update path written to one medium in one run.

    .venv/bin/python -m benchmarks.bench_path --zstream     # 3 z-stream releases, 10 % of images rebuilt each
    .venv/bin/python -m benchmarks.bench_path --zstream --change-percent 35   # the lab's usual z-stream churn
    .venv/bin/python -m benchmarks.bench_path               # the eus path 4.16.20 -> 4.17.5 -> 4.18.2

``--zstream`` brings up a lab (registries only) with 4.16.18 and three later z-streams whose component images
are rebuilt at ``--change-percent`` (so the releases share most layers), writes the path of those three into the
plan as the release step stores one, and writes all of it to removable media with one ``ocp-airgap mirror``
run. Without it, the lab's ``eus`` profile is used and ``ocp-airgap release --write-plan`` stores the path
across three minors (two releases to carry; across minors the lab rebuilds 90 % of the images). It prints each
release's own size, what the medium holds, the bytes sharing saved and the ratio of the medium to the largest
single release (target with ``--zstream``: < 1.3; exit 1 when missed). The lab is stopped by PID at the end and
its folder removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CURRENT = "4.16.20"
TARGET_RATIO = 1.3
ZSTREAM = ("4.16.18", "4.16.20", "4.16.22", "4.16.24")
"""--zstream: the cluster's version, then a path of three z-stream releases (most layers shared)."""


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCP_AIRGAP_STATE_DIR": str(state), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        timeout=3600,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sandbox.lab import down, up

    base = Path(tempfile.mkdtemp(prefix="ocp-airgap-bench-path-"))
    lab_dir = base / "lab"
    try:
        versions = ZSTREAM if args.zstream else ()
        _say(
            f"bringing up a lab ({'z-stream releases ' + ', '.join(versions) if versions else 'eus profile'}) "
            f"with {args.components} components (~{args.size_mb:.0f} MB) in {lab_dir}"
        )
        kw: dict[str, Any] = {"versions": versions} if versions else {"profile": "eus"}
        import sandbox.lab as lab_module
        from sandbox.releases import build_releases

        original = getattr(lab_module, "build_releases")  # noqa: B009
        setattr(  # noqa: B010
            lab_module,
            "build_releases",
            functools.partial(build_releases, zstream_change_percent=args.change_percent),
        )
        try:
            lab = up(lab_dir, components=args.components, size_mb=args.size_mb, api=False, **kw)
        finally:
            setattr(lab_module, "build_releases", original)  # noqa: B010
        doc = yaml.safe_load(Path(lab.plan).read_text())
        if versions:
            # three releases that share most layers; the path is written as the release step stores one
            doc["release"].update({"version": versions[-1], "target": versions[-1]})
            doc["release"]["digest"] = lab.release(versions[-1]).digest
            doc["release"]["path"] = [
                {"version": v, "digest": lab.release(v).digest, "channel": "", "risks": []}
                for v in versions[1:]
            ]
        else:
            doc["release"].update({"channel": "eus-4.18", "version": "4.18.2", "digest": ""})
        doc["mirroring"].update({"mode": "to-media", "media_path": str(base / "usb")})
        doc["state_dir"] = "state"
        plan = base / "plan.yaml"
        plan.write_text(yaml.safe_dump(doc, sort_keys=False))
        state = base / "xdg"
        res = (
            subprocess.CompletedProcess([], 0, "", "")
            if versions
            else _cli("release", "--plan", str(plan), "--current", CURRENT, "--write-plan", state=state)
        )
        if res.returncode != 0:
            raise SystemExit(f"release step failed:\n{res.stdout}\n{res.stderr}")
        _say("mirroring the whole path to the media in one run …")
        t = time.monotonic()
        res = _cli("mirror", "--plan", str(plan), "--json", state=state)
        seconds = time.monotonic() - t
        if res.returncode != 0:
            raise SystemExit(f"mirror failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
        data = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")][-1]["data"]
        sizes: dict[str, int] = data["release_bytes"]
        largest = max(sizes.values())
        out = {
            "path": data["path"],
            "release_bytes": sizes,
            "largest_release_bytes": largest,
            "separate_bytes": data["separate_bytes"],
            "media_bytes": data["stored_bytes"],
            "written_bytes": data["written_bytes"],
            "saved_bytes": data["saved_bytes"],
            "ratio_to_largest": round(data["stored_bytes"] / largest, 3),
            "seconds": round(seconds, 1),
            "zstream_change_percent": args.change_percent,
        }
        for v, n in sizes.items():
            _say(f"release {v}: {n / 1e6:.1f} MB on its own")
        _say(
            f"the medium holds {out['media_bytes'] / 1e6:.1f} MB for {len(sizes)} releases "
            f"({out['separate_bytes'] / 1e6:.1f} MB one by one; saved {out['saved_bytes'] / 1e6:.1f} MB) in "
            f"{seconds:.1f} s"
        )
        _say(f"ratio to the largest single release: {out['ratio_to_largest']:.3f} (target < {TARGET_RATIO})")
        return out
    finally:
        down(lab_dir)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--components", type=int, default=24)
    p.add_argument("--size-mb", type=float, default=40.0)
    p.add_argument("--keep", action="store_true", help="keep the lab folder")
    p.add_argument(
        "--zstream",
        action="store_true",
        help="a path of three z-stream releases that share most layers instead of the eus path across minors",
    )
    p.add_argument(
        "--change-percent",
        type=int,
        default=10,
        help="share of component images rebuilt from one z-stream to the next (default 10; the lab's usual is 35)",
    )
    args = p.parse_args(argv)
    out = run(args)
    print(json.dumps(out, indent=1))
    if not args.zstream:
        return 0  # across minors the lab rebuilds most images: the ratio is reported, the target is for --zstream
    return 0 if out["ratio_to_largest"] < TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
