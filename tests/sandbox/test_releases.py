"""The synthetic release builder and the graph model, read back from the OCI layout (no registry needed)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sandbox.graph import build_model, graph_document, placeholder_payload
from sandbox.releases import COMPONENT_REPO, OciLayout, build_release, build_releases, component_names
from sandbox.sigstore import generate_key

# The tests of this module share a module-scoped lab and build on one another: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("test_releases")

UPSTREAM = "127.0.0.1:5999"


def _json_blob(layout: OciLayout, digest: str) -> Any:
    return json.loads(layout.blob_path(digest).read_bytes())


def _files(layout: OciLayout, manifest_digest: str) -> dict[str, bytes]:
    """Every regular file of an image, later layers winning."""
    out: dict[str, bytes] = {}
    manifest = _json_blob(layout, manifest_digest)
    for layer in manifest["layers"]:
        data = gzip.decompress(layout.blob_path(layer["digest"]).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None
                    out["/" + member.name] = f.read()
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("releases")
    key = generate_key(d / "key")
    rs = build_releases(d / "oci", upstream=UPSTREAM, size_mb=4, public_key=key.public_armored)
    return rs, key


def test_release_payload_matches_formats(built) -> None:
    rs, key = built
    layout = rs.layout
    assert [r.version for r in rs.releases] == ["4.16.18", "4.16.20", "4.17.3"]
    for rel in rs.releases:
        manifest = _json_blob(layout, rel.digest)
        assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        config = _json_blob(layout, manifest["config"]["digest"])
        assert config["architecture"] == "amd64" and config["os"] == "linux"
        assert config["config"]["Labels"]["io.openshift.release"] == rel.version
        assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])
        files = _files(layout, rel.digest)
        meta = json.loads(files["/release-manifests/release-metadata"])
        assert meta["kind"] == "cincinnati-metadata-v0" and meta["version"] == rel.version
        assert meta["previous"] == rel.previous
        assert meta["metadata"]["url"].startswith("https://access.redhat.com/errata/")
        assert (
            f"stable-{rel.version.rsplit('.', 1)[0]}"
            in meta["metadata"]["io.openshift.upgrades.graph.release.channels"]
        )
        refs = json.loads(files["/release-manifests/image-references"])
        assert refs["kind"] == "ImageStream" and refs["apiVersion"] == "image.openshift.io/v1"
        assert refs["metadata"]["name"] == rel.version
        tags = {t["name"]: t for t in refs["spec"]["tags"]}
        assert list(tags) == component_names(24)
        for name, tag in tags.items():
            assert tag["from"]["kind"] == "DockerImage"
            assert tag["from"]["name"] == f"{UPSTREAM}/{COMPONENT_REPO}@{rel.components[name].digest}"
            assert layout.blob_path(rel.components[name].digest).exists()
            assert tag["annotations"]["io.openshift.build.source-location"].endswith("/" + name)
        assert any(p.startswith("/manifests/0000_00_cluster-version-operator") for p in files)
        cm = files["/release-manifests/0000_90_cluster-update-keys_configmap.yaml"].decode()
        assert "release.openshift.io/verification-config-map" in cm and "name: release-verification" in cm
        assert key.public_armored.strip().splitlines()[1] in cm
    assert rs.releases[1].previous == ["4.16.18", "4.16.19"]
    assert rs.releases[2].previous == ["4.16.18", "4.16.19", "4.16.20"]


def test_components_share_base_layers_and_z_streams_keep_digests(built) -> None:
    rs, _ = built
    layout = rs.layout
    first, second, third = rs.releases
    layer_lists = [
        [layer["digest"] for layer in _json_blob(layout, c.digest)["layers"]]
        for c in first.components.values()
    ]
    bases = {tuple(layers[:2]) for layers in layer_lists}
    assert len(bases) == 1, "every component starts with the same two base layers"
    assert len({layers[2] for layers in layer_lists}) == len(layer_lists), "each component has its own layer"
    same_z = [n for n in first.components if first.components[n].digest == second.components[n].digest]
    same_minor = [n for n in second.components if second.components[n].digest == third.components[n].digest]
    assert 0 < len(same_z) < 24, same_z
    assert len(same_minor) < len(same_z)
    assert (
        first.components["cluster-version-operator"].digest
        != second.components["cluster-version-operator"].digest
    )
    # one push per distinct image
    assert len(rs.pushes) == len({c.digest for r in rs.releases for c in r.components.values()}) + 3
    assert [dest for _, dest in rs.pushes if "/ocp-release:" in dest] == [
        "openshift-release-dev/ocp-release:4.16.18-x86_64",
        "openshift-release-dev/ocp-release:4.16.20-x86_64",
        "openshift-release-dev/ocp-release:4.17.3-x86_64",
    ]


def test_size_is_real_and_layers_are_incompressible(built) -> None:
    rs, _ = built
    total = rs.total_bytes
    assert 3.5e6 < total < 5.5e6, total  # size_mb=4


def test_builds_are_deterministic(tmp_path: Path, built) -> None:
    rs, key = built
    again = build_releases(tmp_path / "oci", upstream=UPSTREAM, size_mb=4, public_key=key.public_armored)
    assert [r.digest for r in again.releases] == [r.digest for r in rs.releases]
    other = build_releases(
        tmp_path / "oci2", upstream="127.0.0.1:6000", size_mb=4, public_key=key.public_armored
    )
    assert other.releases[0].digest != rs.releases[0].digest  # references name the upstream registry


def test_many_components_and_a_big_layer(tmp_path: Path) -> None:
    rel = build_release(
        tmp_path / "oci", "4.17.3", upstream=UPSTREAM, components=190, size_mb=2, big_layer_mb=3
    )
    assert len(rel.components) == 190
    assert len(set(component_names(190))) == 190
    layout = OciLayout(tmp_path / "oci")
    coreos = _json_blob(layout, rel.components["rhel-coreos"].digest)
    assert max(layer["size"] for layer in coreos["layers"]) >= 3 * (1 << 20)


def test_graph_model_and_document() -> None:
    model = build_model()
    assert [n.version for n in model.nodes] == ["4.16.18", "4.16.19", "4.16.20", "4.17.3", "4.17.4"]
    assert ("4.16.20", "4.17.3") in model.edges and ("4.16.18", "4.16.20") in model.edges
    assert ("4.16.18", "4.17.3") not in model.edges
    assert any(a == "4.16.18" and b == "4.17.3" for a, b, _ in model.conditional)
    payloads = {n.version: placeholder_payload(f"{UPSTREAM}/x/y", n.version) for n in model.nodes}
    doc = graph_document(model, payloads)
    s416 = doc["channels"]["stable-4.16"]
    assert [n["version"] for n in s416["nodes"]] == ["4.16.18", "4.16.19", "4.16.20"]
    assert s416["conditionalEdges"] == []
    s417 = doc["channels"]["stable-4.17"]
    versions = [n["version"] for n in s417["nodes"]]
    assert "4.17.4" not in versions, "4.17.4 is only in fast-4.17"
    assert "4.17.4" in [n["version"] for n in doc["channels"]["fast-4.17"]["nodes"]]
    for a, b in s417["edges"]:
        assert versions[a] < versions[b] or versions[a].startswith("4.16")
    risk = s417["conditionalEdges"][0]["risks"][0]
    assert set(risk) == {"url", "name", "message", "matchingRules"}
    assert risk["matchingRules"][0]["type"] == "PromQL" and risk["matchingRules"][0]["promql"]["promql"]
    assert {"from": "4.16.18", "to": "4.17.3"} in s417["conditionalEdges"][0]["edges"]
