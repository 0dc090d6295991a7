"""Operator catalogs: list, point one at a mirrored index image by digest (READY), restore the journaled
previous image; by-tag and unknown catalogs refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.cluster import CATALOG_SOURCE
from tests.procedures.test_upgrade import admin, json_events, lab_plan, run_cli, skopeo

NS = "openshift-marketplace"


def _push_index(info: Any) -> str:
    """A mirrored 'index image': any image pushed into the mirror registry; returns it by digest."""
    src = info.releases[0].pullspec
    dest = f"{info.mirror.registry}/olm/redhat-operator-index"
    skopeo(
        "copy", "-q", "--all", "--preserve-digests", "--authfile", info.auth_file,
        "--src-cert-dir", info.upstream.cert_dir, "--dest-cert-dir", info.mirror.cert_dir,
        f"docker://{src}", f"docker://{dest}:v4.17",
    )  # fmt: skip
    return f"{dest}@{info.releases[0].digest}"


def test_list_set_restore(sandbox: Any, tmp_path: Path) -> None:
    plan, state = lab_plan(sandbox, tmp_path), tmp_path / "state"
    P = ("--plan", str(plan))
    cluster = admin(sandbox)
    original = cluster.get(CATALOG_SOURCE, "my-operator-catalog", NS)["spec"]["image"]
    res = run_cli("catalog", "list", *P, "--json", state=state)
    assert res.returncode == 0, res.stderr
    rows = json_events(res.stdout)[-1]["data"]["catalogs"]
    assert ("my-operator-catalog", original) in [(r["name"], r["image"]) for r in rows]
    # the marketplace operator's default sources are listed too (not reachable from a disconnected cluster)
    assert {"redhat-operators", "certified-operators"} <= {r["name"] for r in rows}

    index = _push_index(sandbox)
    try:
        tag = run_cli(
            "catalog", "set", *P, "my-operator-catalog", index.split("@")[0] + ":v4.17", "--yes", state=state
        )
        assert tag.returncode == 2 and "not an index image by digest" in tag.stderr
        missing = run_cli("catalog", "set", *P, "nope", index, "--yes", state=state)
        assert missing.returncode == 1 and "catalogsource/nope does not exist" in missing.stderr

        res = run_cli(
            "catalog",
            "set",
            *P,
            "my-operator-catalog",
            index,
            "--yes",
            "--interval",
            "0.1",
            "--timeout",
            "60",
            state=state,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert "catalogsource/my-operator-catalog: READY" in res.stdout
        cs = cluster.get(CATALOG_SOURCE, "my-operator-catalog", NS)
        assert (
            cs["spec"]["image"] == index and cs["status"]["connectionState"]["lastObservedState"] == "READY"
        )
        journal = next(Path(state).rglob("journal.json")).read_text()
        assert json.dumps(original) in journal  # the previous image is kept for restore

        res = run_cli("catalog", "restore", *P, "my-operator-catalog", "--yes", "--no-wait", state=state)
        assert res.returncode == 0, res.stdout + res.stderr
        assert cluster.get(CATALOG_SOURCE, "my-operator-catalog", NS)["spec"]["image"] == original
    finally:
        cs = cluster.get(CATALOG_SOURCE, "my-operator-catalog", NS)
        if cs["spec"]["image"] != original:
            cs["spec"]["image"] = original
            cs.pop("status", None)
            cluster.replace(CATALOG_SOURCE, cs, NS)
