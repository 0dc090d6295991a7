"""Every object the lab serves and every object or patch the engine sends validates against the real CRD schemas
(openshift/api and operator-framework/api manifests, vendored in tests/data/crds): the API shapes must stay the
ones a real cluster accepts. ConfigMaps, Secrets and other core objects have no CRD and are not covered here.

The e2e runs (tests/procedures/test_e2e_headless.py) validate what the lab holds after a whole update too."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.cluster import ICSP, IDMS
from engine.mhc import PAUSE_ANNOTATION
from engine.mirrorconfig import build_object, entries_for
from engine.plan import Plan
from engine.upgrade import evaluate
from sandbox.apiserver import initial
from sandbox.apiserver.config import ClusterConfig
from sandbox.apiserver.resources import RESOURCE_TYPES
from sandbox.apiserver.store import Store
from sandbox.profiles import PROFILES
from tests.crdschema import merge_patch, schemas, validate, validate_object

IMAGE = "mirror.example:8443/ocp4/openshift4@sha256:" + "ab" * 32
KINDS = {
    ("config.openshift.io/v1", "ClusterVersion"),
    ("config.openshift.io/v1", "ClusterOperator"),
    ("config.openshift.io/v1", "ImageDigestMirrorSet"),
    ("config.openshift.io/v1", "Image"),
    ("operator.openshift.io/v1alpha1", "ImageContentSourcePolicy"),
    ("operator.openshift.io/v1", "CloudCredential"),
    ("machine.openshift.io/v1beta1", "MachineHealthCheck"),
    ("machineconfiguration.openshift.io/v1", "MachineConfigPool"),
    ("operators.coreos.com/v1alpha1", "CatalogSource"),
}


def lab_objects(profile: str) -> list[dict[str, Any]]:
    """The lab's initial objects of every type that has a vendored CRD, as the API server serves them."""
    store = Store()
    cluster = ClusterConfig(
        "4.16.18",
        "quay.io/openshift-release-dev/ocp-release@sha256:" + "12" * 32,
        image_digest_mirrors=({"source": "quay.io/openshift-release-dev/ocp-release", "mirrors": ["m/r"]},),
        features=dict(PROFILES[profile].features),
    )
    initial.build(store, cluster)
    out = []
    for rt in RESOURCE_TYPES:
        if (rt.api_version, rt.kind) not in schemas():
            continue
        for obj in store.list(rt)[0]:
            out.append({**copy.deepcopy(obj), "apiVersion": rt.api_version, "kind": rt.kind})
    return out


def _by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def test_the_vendored_crds_are_the_kinds_the_project_reads_and_writes() -> None:
    assert set(schemas()) >= KINDS


def test_the_validator_rejects_what_the_api_server_rejects_or_prunes() -> None:
    cv = _by_kind(lab_objects("default"), "ClusterVersion")[0]
    assert validate_object(cv) == []
    bad = merge_patch(cv, {"spec": {"desiredUpdate": {"image": IMAGE, "forced": True}}})
    assert validate_object(bad) == [
        "ClusterVersion/version: spec.desiredUpdate.forced: unknown field (the API server prunes it)"
    ]
    bad = merge_patch(cv, {"spec": {"capabilities": {"baselineCapabilitySet": "Nope"}}})
    assert any(
        "spec.capabilities.baselineCapabilitySet: 'Nope' is not one of" in e for e in validate_object(bad)
    )
    bad = copy.deepcopy(cv)
    del bad["spec"]["clusterID"]
    assert validate_object(bad) == ["ClusterVersion/version: spec.clusterID: required"]
    bad = merge_patch(cv, {"spec": {"desiredUpdate": {"force": "yes"}}})
    assert validate_object(bad) == [
        "ClusterVersion/version: spec.desiredUpdate.force: expected boolean, got str"
    ]
    assert validate(None, {"type": "string"}, "x") == ["x: null is not allowed (the schema is not nullable)"]
    assert validate(None, {"type": "string", "nullable": True}) == []
    assert validate("40%", {"x-kubernetes-int-or-string": True}) == []
    assert validate("a" * 300, {"type": "string", "maxLength": 253}, "n") == ["n: longer than 253"]
    assert validate("Bad_Name", {"type": "string", "pattern": "^[a-z0-9.-]+$"}, "n") == [
        "n: 'Bad_Name' does not match '^[a-z0-9.-]+$'"
    ]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_object_the_lab_serves_validates(profile: str) -> None:
    objs = lab_objects(profile)
    kinds = {(o["apiVersion"], o["kind"]) for o in objs}
    expected = (
        set(KINDS)
        if PROFILES[profile].features.get("machine_api", True)
        else {k for k in KINDS if k[1] != "MachineHealthCheck"}
    )
    assert expected - {("operator.openshift.io/v1alpha1", "ImageContentSourcePolicy")} <= kinds
    problems = [p for o in objs for p in validate_object(o)]
    assert problems == []


def test_the_cluster_version_patches_the_engine_sends_validate() -> None:
    cv = _by_kind(lab_objects("default"), "ClusterVersion")[0]
    for status_extra in ({}, {"availableUpdates": [{"version": "4.16.20", "image": IMAGE}]}):
        live = copy.deepcopy(cv)
        live["status"].update(status_extra)
        decision = evaluate(live, IMAGE)
        after = merge_patch(live, decision.patch)
        assert validate_object(after) == [], decision.patch
        assert after["spec"]["desiredUpdate"]["version"] == ("4.16.20" if status_extra else "")
    # clearing the update (mhc/upgrade restore paths send desiredUpdate: null)
    assert validate_object(merge_patch(cv, {"spec": {"desiredUpdate": None}})) == []


@pytest.mark.parametrize("kind", [IDMS, ICSP])
@pytest.mark.parametrize("scope", ["repository", "registry"])
def test_the_mirror_sets_the_engine_creates_validate(kind: Any, scope: str) -> None:
    plan = Plan()
    plan.mirror.registry = "mirror.example:8443"
    plan.mirror.repository = "ocp4/openshift4"
    obj = build_object(kind, entries_for(plan, scope))
    assert validate_object(obj) == []


def test_the_mhc_pause_and_resume_patches_validate() -> None:
    for mhc in _by_kind(lab_objects("default"), "MachineHealthCheck"):
        rv = mhc["metadata"].get("resourceVersion", "1")
        for value in ("", None):
            patch = {"metadata": {"resourceVersion": rv, "annotations": {PAUSE_ANNOTATION: value}}}
            assert validate_object(merge_patch(mhc, patch)) == []


def test_the_catalog_source_the_engine_writes_validates() -> None:
    (cs,) = _by_kind(lab_objects("default"), "CatalogSource")
    body = copy.deepcopy(cs)  # engine/catalog.py: the object read, spec.image replaced, status dropped
    body["spec"]["image"] = "mirror.example:8443/redhat/redhat-operator-index:v4.16"
    body.pop("status", None)
    assert validate_object(body) == []
