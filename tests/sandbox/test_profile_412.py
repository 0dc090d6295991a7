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


def test_simulated_cvo_accepts_what_go_accepts_and_refuses_eddsa() -> None:
    """The simulated CVO's verifier on 4.12-era material: a SHA-1 self-signed key with Go-framed SHA-1 signatures
    is accepted (pysequoia refuses it, gpgv accepts it, as Go does); a damaged one and an EdDSA one are refused."""
    import pysequoia as ps

    from sandbox.apiserver.signatures import load_certs, verify_one
    from sandbox.sigstore import generate_legacy_key, sign_release, signature_payload

    digest = "sha256:" + "4c" * 32
    key = generate_legacy_key(bits=2048)
    keys = load_certs(key.public_armored)
    good = key.sign_go(signature_payload(digest, "quay.io/x/ocp-release:4.12.49-x86_64"), hash_name="SHA1")
    assert verify_one(good, keys, digest)
    assert not verify_one(good, keys, "sha256:" + "4d" * 32)
    damaged = bytearray(good)
    damaged[good.index(b"docker-manifest-digest") + 30] ^= 1
    assert not verify_one(bytes(damaged), keys, digest)
    ed = ps.Tsk.generate("Ed <ed@lab.invalid>")
    ed_keys = load_certs(str(ed.extract_certificate()))
    assert not verify_one(sign_release(ed, digest, "quay.io/x/ocp-release:4.12.49-x86_64"), ed_keys, digest)
