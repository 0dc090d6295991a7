import textwrap

import pytest

from engine.errors import PlanError
from engine.plan import DEFAULT_SIGNATURE_STORE, DEFAULT_UPDATE_GRAPH, Plan

GOOD = textwrap.dedent(
    """\
    kind: ocp-airgap/plan-v1
    cluster:
      kubeconfig: kubeconfig
    mirror:
      registry: registry.example.com:8443
      repository: ocp4/openshift4
    release:
      version: 4.17.3
      architecture: x86_64
    mirroring:
      mode: to-media
      media_path: /mnt/usb
    """
)


def test_defaults_are_the_documented_public_endpoints():
    p = Plan()
    assert p.endpoints.release_source == "quay.io/openshift-release-dev/ocp-release"
    assert p.endpoints.signature_store == DEFAULT_SIGNATURE_STORE
    assert (
        DEFAULT_SIGNATURE_STORE
        == "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release"
    )
    assert DEFAULT_UPDATE_GRAPH == "https://api.openshift.com/api/upgrades_info/v1/graph"


def test_round_trip(tmp_path):
    p = Plan.from_yaml(GOOD, "plan.yaml")
    assert p.release_tag == "4.17.3-x86_64"
    assert p.source_pullspec == "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"
    p.release.digest = "sha256:" + "a" * 64
    assert p.mirror_pullspec() == "registry.example.com:8443/ocp4/openshift4@sha256:" + "a" * 64
    path = tmp_path / "p.yaml"
    p.save(path)
    q = Plan.load(path)
    assert q == p
    assert q.resolve_path("kubeconfig") == str(tmp_path / "kubeconfig")


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        (GOOD.replace("version: 4.17.3", "version: 4.17"), 8, 12, "release.version"),
        (
            GOOD.replace("registry: registry.example.com:8443", "registry: reg istry:99999"),
            5,
            13,
            "mirror.registry",
        ),
        (GOOD.replace("mode: to-media", "mode: usb"), 11, 9, "mirroring.mode"),
        (
            GOOD.replace("  repository: ocp4/openshift4", "  repositry: x"),
            6,
            3,
            "unknown setting 'mirror.repositry'",
        ),
        (GOOD.replace("architecture: x86_64", "architecture: [x86_64"), None, None, "not valid YAML"),
        (
            GOOD.replace("mirroring:\n", "mirroring: 3\n").replace(
                "  mode: to-media\n  media_path: /mnt/usb\n", ""
            ),
            10,
            12,
            "expected a mapping",
        ),
    ],
)
def test_errors_name_line_column_and_field(text, line, col, words):
    with pytest.raises(PlanError) as info:
        Plan.from_yaml(text, "plan.yaml")
    err = info.value
    assert words in err.message
    assert err.message.startswith("plan.yaml:")
    if line is not None:
        assert (err.line, err.column) == (line, col)
    else:
        assert err.line is not None and err.column is not None


def test_missing_media_path_for_media_mode():
    with pytest.raises(PlanError, match="media_path"):
        Plan.from_yaml(GOOD.replace("  media_path: /mnt/usb\n", ""), "plan.yaml")


def test_require_names_fields_and_positions():
    p = Plan.from_yaml(GOOD.replace("registry: registry.example.com:8443", "registry: ''"), "plan.yaml")
    with pytest.raises(PlanError) as info:
        p.require("mirror.registry")
    assert "mirror.registry: required" in info.value.message
    assert info.value.line == 5


def test_missing_file_is_a_plan_error(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        Plan.load(tmp_path / "nope.yaml")
