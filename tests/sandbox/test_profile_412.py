"""The ``ocp-4.12`` lab profile: its features are registered, and the API of a 4.12 cluster does not serve the
mirror-set CRDs that arrived with 4.13 (discovery and URLs), while a 4.13 one does."""

from __future__ import annotations

from sandbox import profiles
from sandbox.apiserver import resources as res


def test_profile_is_known_and_its_features_registered() -> None:
    p = profiles.get("ocp-4.12")
    assert p.versions[0].startswith("4.12.") and p.versions[-1].startswith("4.13.")
    assert p.features["release_key"] == "sha1-self-signed"
    assert set(p.features) <= set(profiles.FEATURES)


def _plurals(minor: tuple[int, int] | None) -> set[str]:
    return {r["name"] for r in res.resources_for("config.openshift.io", "v1", minor)}


def test_mirror_sets_are_served_from_4_13() -> None:
    assert "imagedigestmirrorsets" not in _plurals((4, 12))
    assert "imagetagmirrorsets" not in _plurals((4, 12))
    assert {"imagedigestmirrorsets", "imagetagmirrorsets"} <= _plurals((4, 13))
    assert {"imagedigestmirrorsets", "imagetagmirrorsets"} <= _plurals(None)
    icsp = {r["name"] for r in res.resources_for("operator.openshift.io", "v1alpha1", (4, 12))}
    assert "imagecontentsourcepolicies" in icsp
