"""The file-based catalog: parsing (JSON streams, YAML documents, errors with line and column), opm's validation
rules (one head per channel, default channel present, dependencies satisfied), filtering from the installed
version to the head with dependencies, blang semver ranges, and the CSV max-version rules OLM applies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.catalogs import fbc
from engine.catalogs.installed import Operator, max_openshift_version, suggest
from engine.errors import InputError


def pkg(name: str, default: str) -> dict[str, Any]:
    return {"schema": "olm.package", "name": name, "defaultChannel": default}


def chan(package: str, name: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "olm.channel", "package": package, "name": name, "entries": list(entries)}


def bundle(
    package: str, version: str, *, requires: tuple[str, str] | None = None, max_ocp: str = ""
) -> dict[str, Any]:
    props: list[dict[str, Any]] = [
        {"type": "olm.package", "value": {"packageName": package, "version": version}}
    ]
    if requires:
        props.append(
            {
                "type": "olm.package.required",
                "value": {"packageName": requires[0], "versionRange": requires[1]},
            }
        )
    if max_ocp:
        props.append({"type": "olm.maxOpenShiftVersion", "value": max_ocp})
    return {
        "schema": "olm.bundle",
        "name": f"{package}.v{version}",
        "package": package,
        "image": f"quay.example/{package}-bundle@sha256:{version.replace('.', '') * 8:0<64}"[:90],
        "properties": props,
        "relatedImages": [{"name": "op", "image": f"quay.example/{package}-op:v{version}"}],
    }


def catalog(*objs: dict[str, Any]) -> fbc.Catalog:
    return fbc.build(list(objs))


def logging_catalog() -> list[dict[str, Any]]:
    return [
        pkg("logging", "stable-5.9"),
        chan(
            "logging",
            "stable-5.8",
            {"name": "logging.v5.8.0"},
            {"name": "logging.v5.8.1", "replaces": "logging.v5.8.0"},
        ),
        chan(
            "logging",
            "stable-5.9",
            {"name": "logging.v5.9.0", "replaces": "logging.v5.8.1", "skipRange": ">=5.8.0 <5.9.0"},
            {"name": "logging.v5.9.1", "replaces": "logging.v5.9.0"},
        ),
        bundle("logging", "5.8.0", max_ocp="4.16"),
        bundle("logging", "5.8.1", max_ocp="4.16"),
        bundle("logging", "5.9.0", requires=("loki", ">=5.9.0 <6.0.0")),
        bundle("logging", "5.9.1", requires=("loki", ">=5.9.0 <6.0.0")),
        pkg("loki", "stable"),
        chan("loki", "stable", {"name": "loki.v5.9.0"}, {"name": "loki.v5.9.1", "replaces": "loki.v5.9.0"}),
        bundle("loki", "5.9.0"),
        bundle("loki", "5.9.1"),
        pkg("other", "alpha"),
        chan("other", "alpha", {"name": "other.v0.1.0"}),
        bundle("other", "0.1.0"),
    ]


def test_json_stream_and_yaml_documents_load_alike() -> None:
    objs = logging_catalog()
    as_json = {"logging/catalog.json": b"".join(json.dumps(o, indent=2).encode() + b"\n" for o in objs)}
    import yaml

    as_yaml = {
        "logging/catalog.yaml": yaml.safe_dump_all(objs).encode(),
        "logging/.hidden.json": b"{not json",
    }
    a, b = fbc.load_files(as_json), fbc.load_files(as_yaml)
    assert fbc.summary(a) == fbc.summary(b)
    assert a.packages["logging"].channel_head("stable-5.9").name == "logging.v5.9.1"  # type: ignore[union-attr]
    assert fbc.validate(a) == []


def test_malformed_json_names_file_line_and_column() -> None:
    with pytest.raises(InputError) as e:
        fbc.load_files({"p/catalog.json": b'{"schema": "olm.package", "name": "p"}\n{"schema": oops}\n'})
    assert "p/catalog.json: malformed JSON at line 2, column 12" in e.value.message


def test_malformed_yaml_names_line_and_column() -> None:
    with pytest.raises(InputError) as e:
        fbc.load_files({"p/catalog.yaml": b"schema: olm.package\nname: [p\n"})
    assert "p/catalog.yaml: malformed YAML at line 3" in e.value.message


def test_two_heads_and_missing_default_channel_are_reported_like_opm() -> None:
    objs = logging_catalog()
    objs[2]["entries"].append({"name": "logging.v5.8.0"})  # 5.8.0 now a second head in stable-5.9
    objs[0]["defaultChannel"] = "stable-6.0"
    problems = fbc.validate(catalog(*objs))
    assert (
        "package 'logging', channel 'stable-5.9': multiple channel heads found in graph: logging.v5.8.0, logging.v5.9.1"
        in problems
    )
    assert "package 'logging': default channel 'stable-6.0' not found in channels list" in problems


def test_skip_range_adds_no_edge_to_the_graph() -> None:
    # opm's Channel.Head counts only replaces and skips: a bundle reached only through a skipRange is a head
    c = catalog(
        pkg("p", "s"),
        chan("p", "s", {"name": "p.v1.0.0"}, {"name": "p.v1.1.0", "skipRange": "<1.1.0"}),
        bundle("p", "1.0.0"),
        bundle("p", "1.1.0"),
    )
    assert c.packages["p"].channels["s"].heads() == ["p.v1.0.0", "p.v1.1.0"]


def test_filter_keeps_installed_to_head_and_adds_dependencies() -> None:
    cat = catalog(*logging_catalog())
    res = fbc.filter_catalog(cat, [fbc.Selection("logging", ["stable-5.8", "stable-5.9"], "5.8.1")])
    out = res.catalog
    assert sorted(out.packages) == ["logging", "loki"]  # 'other' dropped, loki added as a dependency
    lg = out.packages["logging"]
    assert [e.name for e in lg.channels["stable-5.8"].entries] == [
        "logging.v5.8.1"
    ]  # 5.8.0 is older than installed
    assert [e.name for e in lg.channels["stable-5.9"].entries] == ["logging.v5.9.0", "logging.v5.9.1"]
    assert res.added_dependencies == ["loki >=5.9.0 <6.0.0 (required by logging.v5.9.0)"]
    assert sorted(out.packages["loki"].bundles) == ["loki.v5.9.0", "loki.v5.9.1"]
    assert fbc.validate(out) == []
    # the catalog written and read back is the same
    assert fbc.summary(fbc.load_files(fbc.render(out))) == fbc.summary(out)
    images = out.all_images()
    assert "quay.example/logging-op:v5.9.1" in images and not any("other" in i for i in images)


def test_default_channel_is_kept_when_not_chosen() -> None:
    cat = catalog(*logging_catalog())
    res = fbc.filter_catalog(cat, [fbc.Selection("logging", ["stable-5.8"], "5.8.1")])
    assert sorted(res.catalog.packages["logging"].channels) == ["stable-5.8", "stable-5.9"]
    assert [e.name for e in res.catalog.packages["logging"].channels["stable-5.9"].entries] == [
        "logging.v5.9.1"
    ]
    assert any("default channel 'stable-5.9' kept" in n for n in res.notes)
    assert fbc.validate(res.catalog) == []


def test_missing_dependency_is_a_problem() -> None:
    objs = [o for o in logging_catalog() if o.get("package") != "loki" and o.get("name") != "loki"]
    cat = catalog(*objs)
    res = fbc.filter_catalog(cat, [fbc.Selection("logging", ["stable-5.9"], "")])
    problems = fbc.validate(res.catalog)
    assert problems == [
        "package 'logging', bundle 'logging.v5.9.1': missing dependency: package 'loki' >=5.9.0 <6.0.0 is not in "
        "the catalog"
    ]


def test_unknown_package_or_channel_refused() -> None:
    cat = catalog(*logging_catalog())
    with pytest.raises(InputError, match="package 'nope' is not in the catalog"):
        fbc.filter_catalog(cat, [fbc.Selection("nope")])
    with pytest.raises(InputError, match="package 'logging' has no channel 'fast'"):
        fbc.filter_catalog(cat, [fbc.Selection("logging", ["fast"])])


@pytest.mark.parametrize(
    ("version", "expr", "ok"),
    [
        ("5.8.1", ">=5.8.0 <5.9.0", True),
        ("5.9.0", ">=5.8.0 <5.9.0", False),
        ("5.9.0-rc.1", "<5.9.0", True),
        ("1.2.3", "<1.0.0 || >=1.2.0", True),
        ("1.1.0", "<1.0.0 || >=1.2.0", False),
        ("4.16", "=4.16.0", True),
    ],
)
def test_semver_ranges(version: str, expr: str, ok: bool) -> None:
    assert fbc.in_range(fbc.Version.parse(version), expr) is ok


@pytest.mark.parametrize(
    ("annotation", "value", "error"),
    [
        ("", "", ""),
        ('[{"type":"olm.maxOpenShiftVersion","value":"4.16"}]', "4.16", ""),
        ('[{"type":"olm.maxOpenShiftVersion","value":4.16}]', "4.16", ""),
        ('[{"type":"olm.maxOpenShiftVersion","value":"4.16.2"}]', "", "must specify only <major>.<minor>"),
        ('[{"type":"olm.maxOpenShiftVersion","value":""}]', "", 'value cannot be ""'),
        (
            '[{"type":"olm.maxOpenShiftVersion","value":"4.16"},{"type":"olm.maxOpenShiftVersion","value":"4.17"}]',
            "",
            "more than one",
        ),
        ("[{", "", "not JSON"),
    ],
)
def test_max_openshift_version_as_olm_reads_it(annotation: str, value: str, error: str) -> None:
    if error:
        with pytest.raises(ValueError, match=error):
            max_openshift_version(annotation)
    else:
        assert max_openshift_version(annotation) == value


def test_blocking_and_the_version_to_update_to() -> None:
    cat = catalog(*logging_catalog())
    op = Operator(
        "ns",
        "logging",
        "logging",
        "stable-5.8",
        "redhat-operators",
        "openshift-marketplace",
        "logging.v5.8.1",
        "5.8.1",
        max_openshift="4.16",
    )
    assert op.blocks("4.17.3") and not op.blocks("4.16.20")
    assert suggest(op, cat, "4.17.3") == {
        "channel": "stable-5.9",
        "version": "5.9.1",
        "bundle": "logging.v5.9.1",
    }
    # nothing compatible and reachable: no suggestion
    stuck = Operator("ns", "loki", "loki", "stable", "", "", "loki.v0.1.0", "0.1.0", max_openshift="4.16")
    assert suggest(stuck, cat, "4.17.3") == {}
