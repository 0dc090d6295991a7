"""Index images without a registry: the catalog is read through the layers (whiteouts applied), and the filtered
image keeps the original layers, adds one (opaque whiteouts on /configs and the cache, the filtered catalog),
drops the stale cache's integrity check, and reads back as the filtered catalog."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from engine.catalogs import fbc
from engine.catalogs.index import OverlayStore, build_filtered, read_index
from engine.errors import InputError
from engine.mirror.media import DirStore
from engine.oci.registry import OCI_MANIFEST, Manifest

REPO = "redhat/redhat-operator-index"


def layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    diff = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    return gzip.compress(raw.getvalue(), mtime=0), diff


def push(store: DirStore, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store.push_blob(REPO, digest, len(data), [data])
    return {"digest": digest, "size": len(data)}


def catalog_json(*objs: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def pkg_objs(name: str) -> list[dict[str, Any]]:
    return [
        {"schema": "olm.package", "name": name, "defaultChannel": "stable"},
        {"schema": "olm.channel", "package": name, "name": "stable", "entries": [{"name": f"{name}.v1.0.0"}]},
        {
            "schema": "olm.bundle",
            "name": f"{name}.v1.0.0",
            "package": name,
            "image": f"quay.example/{name}@sha256:" + "a" * 64,
            "properties": [{"type": "olm.package", "value": {"packageName": name, "version": "1.0.0"}}],
        },
    ]


def make_index(root: Path, *, label: bool = True) -> tuple[DirStore, str]:
    store = DirStore(root, fsync=False)
    layers = [
        layer({"bin/opm": b"\x7fELF opm"}),
        layer(
            {
                "configs/old/catalog.json": catalog_json(*pkg_objs("old")),
                "configs/keep/catalog.json": catalog_json(*pkg_objs("keep")),
                "tmp/cache/pogreb.v1/digest": b"stale",
            }
        ),
        # a later layer deletes one package with a whiteout and adds another
        layer({"configs/.wh.old": b"", "configs/new/catalog.json": catalog_json(*pkg_objs("new"))}),
    ]
    descs = [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **push(store, gz)} for gz, _ in layers
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/opm"],
            "Cmd": ["serve", "/configs", "--cache-dir=/tmp/cache"],
            "Labels": {fbc.CONFIGS_LABEL: "/configs"} if label else {},
        },
        "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
    }
    cfg = push(store, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": descs,
    }
    m = Manifest.from_bytes(json.dumps(manifest).encode(), OCI_MANIFEST)
    store.put_manifest(REPO, "v4.17", m)
    return store, m.digest


def test_catalog_read_through_the_layers_with_whiteouts(tmp_path: Path) -> None:
    store, digest = make_index(tmp_path / "src")
    idx = read_index(store, REPO, "v4.17")
    assert idx.digest == digest and idx.configs_dir == "/configs"
    assert sorted(idx.files) == ["keep/catalog.json", "new/catalog.json"]
    assert sorted(fbc.load_files(idx.files).packages) == ["keep", "new"]


def test_not_a_file_based_catalog_refused(tmp_path: Path) -> None:
    store, _ = make_index(tmp_path / "src", label=False)
    with pytest.raises(InputError, match="not a file-based catalog index image"):
        read_index(store, REPO, "v4.17")


def test_filtered_image_keeps_the_base_and_reads_back_filtered(tmp_path: Path) -> None:
    store, _ = make_index(tmp_path / "src")
    idx = read_index(store, REPO, "v4.17")
    cat = fbc.load_files(idx.files)
    kept = fbc.filter_catalog(cat, [fbc.Selection("new")]).catalog
    staging = DirStore(tmp_path / "staging", fsync=False)
    built = build_filtered(idx, fbc.render(kept), staging, REPO)
    again = build_filtered(idx, fbc.render(kept), DirStore(tmp_path / "staging2", fsync=False), REPO)
    assert built.digest == again.digest, "the build is deterministic"
    assert any("cache" in n for n in built.notes)
    new_layers = [d.digest for d in built.manifest.layers()]
    old_layers = [d.digest for d in idx.images[0][0].layers()]
    assert new_layers[:-1] == old_layers  # the original layers, unchanged
    overlay = OverlayStore(staging, REPO, store, REPO)
    back = read_index(overlay, REPO, built.digest)
    assert sorted(back.files) == ["new/catalog.json"]  # the opaque whiteout hides the old catalog
    assert fbc.summary(fbc.load_files(back.files)) == fbc.summary(kept)
    assert back.cmd == ["serve", "/configs", "--cache-dir=/tmp/cache", "--cache-enforce-integrity=false"]
    # the cache directory is emptied by the new layer
    last = new_layers[-1]
    with overlay.open_blob(REPO, last) as chunks, tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        names = tf.getnames()
    assert "tmp/cache/.wh..wh..opq" in names and "configs/.wh..wh..opq" in names
