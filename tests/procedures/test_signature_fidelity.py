"""Release signatures accepted exactly when the CVO's Go OpenPGP library accepts them: the release key as 4.12's
cluster-update-keys shipped it (SHA-1 self-signature), signed messages framed as Go wrote them (partial body
lengths, a 2-byte first chunk), SHA-1 and MD5 data signatures (accepted, with a warning), and what Go refuses
(EdDSA, armored signatures, unknown critical subpackets, expired signatures, revoked keys). Every lab material is
also checked by GnuPG, an implementation independent of the engine's. Then a seeded fuzz over truncated and
bit-flipped signatures and keyrings: one error with a fix, never a traceback."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pysequoia as ps
import pytest

from engine import openpgp as pgp
from engine import signatures as sigs
from engine.errors import AirgapError, InputError, SignatureError
from sandbox.sigstore import LegacyKey, _sub, generate_legacy_key, signature_payload

DATA = Path(__file__).parents[1] / "data"
REDHAT_KEY_412 = DATA / "redhat-release-key-4.12.asc"
REDHAT_KEYS = DATA / "redhat-release-verification-keys.asc"
REDHAT_RELEASE_FPR = "567E347AD0044ADE55BA8A5F199E2F91FD431D51"
DIGEST = "sha256:" + "5e" * 32
REF = "quay.io/openshift-release-dev/ocp-release:4.12.49-x86_64"


@pytest.fixture(scope="module")
def key() -> LegacyKey:
    return generate_legacy_key(bits=2048, user_id="Legacy signer <legacy@lab.invalid>")


@pytest.fixture(scope="module")
def ring(key: LegacyKey) -> sigs.Keyring:
    return sigs.parse_keyring(key.public_armored.encode(), "legacy key")


def _gpg_verifies(key: LegacyKey, message: bytes) -> bool:
    """GnuPG's verdict on a lab message (an implementation independent of the engine's)."""
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o700)
        Path(home, "k.asc").write_text(key.public_armored)
        Path(home, "m").write_bytes(message)
        subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--import", f"{home}/k.asc"], capture_output=True
        )
        res = subprocess.run(
            [
                "gpg",
                "--homedir",
                home,
                "--batch",
                "--status-fd",
                "1",
                "-o",
                f"{home}/out",
                "--decrypt",
                f"{home}/m",
            ],
            capture_output=True,
            text=True,
        )
        return res.returncode == 0 and "[GNUPG:] VALIDSIG" in res.stdout


# ---------------------------------------------------------------------------------------------- real Red Hat keys


def test_redhat_key_as_shipped_in_4_12_is_read_with_a_sha1_warning() -> None:
    ring = sigs.load_keyring(REDHAT_KEY_412)
    assert [f.upper() for f in ring.fingerprints] == [REDHAT_RELEASE_FPR]
    assert ring.entities[0].user_ids == ["Red Hat, Inc. (release key 2) <security@redhat.com>"]
    assert any("SHA1 self-signature" in w for w in ring.warnings)


def test_redhat_keys_resigned_hold_two_certificates_without_warning() -> None:
    ring = sigs.load_keyring(REDHAT_KEYS)
    assert [f.upper() for f in ring.fingerprints] == [
        REDHAT_RELEASE_FPR,
        "B08B659EE86AF623BC90E8DB938A80CAF21541EB",
    ]
    assert ring.warnings == []


def test_signature_by_unknown_key_refused_against_redhat_4_12_key(key: LegacyKey) -> None:
    ring = sigs.load_keyring(REDHAT_KEY_412)
    with pytest.raises(SignatureError, match="which is not in") as info:
        sigs.verify_signature(key.sign_go(signature_payload(DIGEST, REF)), ring, DIGEST)
    assert key.fingerprint[-16:].upper() in info.value.message


# ---------------------------------------------------------------------------------------------- what the CVO accepts


def test_go_framed_message_has_a_short_first_chunk_and_verifies(key: LegacyKey, ring: sigs.Keyring) -> None:
    msg = key.sign_go(signature_payload(DIGEST, REF))
    one_pass_len = 2 + 13
    assert msg[one_pass_len] == 0xC0 | 11 and msg[one_pass_len + 1] == 224 + 1  # partial chunk of 2 bytes
    v = sigs.verify_signature(msg, ring, DIGEST)
    assert v.signer_fingerprint == key.fingerprint and v.docker_reference == REF
    assert v.hash_algorithm == "SHA256" and v.weak_algorithms == ("SHA1 self-signature",)
    assert _gpg_verifies(key, msg)
    with pytest.raises(RuntimeError):  # what the engine used to refuse as "not an OpenPGP signed message"
        ps.verify(bytes=msg, store=lambda _ids: [])


@pytest.mark.parametrize("hash_name", ["SHA1", "MD5"])
def test_weak_data_signatures_are_accepted_with_a_warning(
    key: LegacyKey, ring: sigs.Keyring, hash_name: str
) -> None:
    msg = key.sign_go(signature_payload(DIGEST, REF), hash_name=hash_name)
    v = sigs.verify_signature(msg, ring, DIGEST)
    assert f"{hash_name} data signature" in v.weak_algorithms
    assert any(f"{hash_name} data signature (accepted" in w for w in v.warnings)
    assert v.to_dict()["weak_algorithms"][0] == f"{hash_name} data signature"
    assert _gpg_verifies(key, msg) is (hash_name == "SHA1")  # GnuPG refuses MD5; Go does not


def test_tampered_go_message_is_altered_or_damaged(key: LegacyKey, ring: sigs.Keyring) -> None:
    msg = bytearray(key.sign_go(signature_payload(DIGEST, REF), hash_name="SHA1"))
    i = msg.index(b"docker-manifest-digest") + 30
    msg[i] ^= 0x01
    with pytest.raises(SignatureError, match="altered or damaged"):
        sigs.verify_signature(bytes(msg), ring, DIGEST)
    assert not _gpg_verifies(key, bytes(msg))


@pytest.fixture(scope="module")
def gpg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A GnuPG home with an RSA key whose self-signature uses SHA-1 (gpg --cert-digest-algo SHA1), made by gpg
    itself: material from an implementation independent of ocp-airgap's."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(
        [
            *gpg,
            "--cert-digest-algo",
            "SHA1",
            "--quick-gen-key",
            "GPG signer <g@lab.invalid>",
            "rsa2048",
            "sign",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield home
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, timeout=30
        )


def _gpg_sign(home: Path, payload: bytes, *extra: str) -> bytes:
    src = home / "payload"
    src.write_bytes(payload)
    out = home / "signed.gpg"
    out.unlink(missing_ok=True)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *extra]
        + ["-o", str(out), "--sign", str(src)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


@pytest.mark.parametrize(
    "extra",
    [
        (
            "--digest-algo",
            "SHA1",
        ),  # compressed with ZIP by default: the a3 01 ... Red Hat's signatures start with
        ("--digest-algo", "SHA256", "--compress-algo", "zlib"),
        ("--digest-algo", "SHA512", "--compress-algo", "bzip2"),
        ("--digest-algo", "SHA256", "--compress-algo", "none"),
    ],
)
def test_gpg_made_messages_verify(gpg_home: Path, extra: tuple[str, ...]) -> None:
    key = subprocess.run(
        ["gpg", "--homedir", str(gpg_home), "--batch", "--export", "--armor"], capture_output=True, check=True
    ).stdout
    ring = sigs.parse_keyring(key, "gpg key")
    assert any("SHA1 self-signature" in w for w in ring.warnings)
    msg = _gpg_sign(gpg_home, signature_payload(DIGEST, REF), *extra)
    v = sigs.verify_signature(msg, ring, DIGEST)
    assert v.docker_reference == REF and v.hash_algorithm == extra[1]
    assert ("SHA1 data signature" in v.weak_algorithms) is (extra[1] == "SHA1")


# ---------------------------------------------------------------------------------------------- what the CVO refuses


def test_eddsa_key_is_refused_with_the_reason() -> None:
    ed = ps.Tsk.generate("Ed <ed@lab.invalid>")
    with pytest.raises(InputError, match="no key the CVO can use") as info:
        sigs.parse_keyring(str(ed.extract_certificate()).encode(), "ed key")
    assert "RSA" in (info.value.fix or "")


def test_armored_signature_is_refused(key: LegacyKey, ring: sigs.Keyring) -> None:
    armored = ps.armor(key.sign_go(signature_payload(DIGEST, REF)), ps.ArmorKind.Message).encode()
    with pytest.raises(SignatureError, match="ASCII-armored") as info:
        sigs.verify_signature(armored, ring, DIGEST)
    assert "gpg --dearmor" in (info.value.fix or "")


def _message_with(key: LegacyKey, extra_hashed: bytes, *, when: int | None = None) -> bytes:
    """A Go-framed message whose signature carries ``extra_hashed`` subpackets (signed for real)."""
    import time as _time

    created = int(_time.time()) if when is None else when
    payload = signature_payload(DIGEST, REF)
    one_pass = bytes([3, 0, 8, 1]) + key.key_id + b"\x01"
    literal = bytes([0xCB, 224 + 1]) + b"b\x00" + bytes([224 + 2]) + created.to_bytes(4, "big")
    literal += bytes([224 + 8]) + payload[:256] + _short(payload[256:]) + b"\x00"
    hashed = _sub(2, created.to_bytes(4, "big")) + _sub(16, key.key_id) + extra_hashed
    sig = key._signature_packet(0x00, "SHA256", hashed, b"", payload)
    return (
        bytes([0xC4, len(one_pass)])
        + one_pass
        + literal
        + bytes([0xC2, 192 + ((len(sig) - 192) >> 8), (len(sig) - 192) & 0xFF])
        + sig
    )


def _short(data: bytes) -> bytes:
    out = b""
    while data:
        for power in range(14, -1, -1):
            if len(data) >= 1 << power:
                out += bytes([224 + power]) + data[: 1 << power]
                data = data[1 << power :]
                break
    return out


def test_unknown_critical_subpacket_is_refused(key: LegacyKey, ring: sigs.Keyring) -> None:
    assert sigs.verify_signature(_message_with(key, b""), ring, DIGEST)  # the helper itself makes valid ones
    notation = bytes([0x80 | 20]) + b"\x80\x00\x00\x00\x00\x01\x00\x01ab"
    with pytest.raises(
        SignatureError, match="does not support .*unknown critical signature subpacket type 20"
    ):
        sigs.verify_signature(_message_with(key, bytes([len(notation)]) + notation), ring, DIGEST)


def test_expired_signature_is_refused_and_zero_lifetime_too(key: LegacyKey, ring: sigs.Keyring) -> None:
    long_ago = 1_600_000_000
    expiring = _sub(3, (3600).to_bytes(4, "big"))
    with pytest.raises(SignatureError, match="expired on 2020-09-13"):
        sigs.verify_signature(_message_with(key, expiring, when=long_ago), ring, DIGEST)
    # library-go compares creation + lifetime with now even when the lifetime is 0 ("never" in RFC 4880)
    with pytest.raises(SignatureError, match="expired"):
        sigs.verify_signature(_message_with(key, _sub(3, b"\x00\x00\x00\x00"), when=long_ago), ring, DIGEST)


def test_message_without_one_pass_signature_is_not_signed(key: LegacyKey, ring: sigs.Keyring) -> None:
    literal = bytes([0xCB, 6]) + b"b\x00\x00\x00\x00\x00"
    with pytest.raises(SignatureError, match="without a one-pass signature"):
        sigs.verify_signature(literal, ring, DIGEST)


def test_only_the_first_armored_block_counts(key: LegacyKey) -> None:
    other = generate_legacy_key(bits=2048, user_id="Other <o@lab.invalid>", self_sig_hash="SHA256")
    text = other.public_armored + "\n" + key.public_armored
    ring = sigs.parse_keyring(text.encode(), "two blocks")
    assert ring.fingerprints == [other.fingerprint]
    assert any("reads only the first one" in w for w in ring.warnings)
    with pytest.raises(SignatureError, match="which is not in"):
        sigs.verify_signature(key.sign_go(signature_payload(DIGEST, REF)), ring, DIGEST)


# ---------------------------------------------------------------------------------------------- fuzz

MUTATIONS = 300


def _mutations(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(MUTATIONS):
        if i % 3 == 0:
            out.append(data[: rng.randrange(len(data))])
        else:
            b = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 4))):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            out.append(bytes(b))
    return out


def test_fuzz_signatures_one_error_never_a_traceback(key: LegacyKey, ring: sigs.Keyring) -> None:
    msg = key.sign_go(signature_payload(DIGEST, REF), hash_name="SHA1")
    accepted = 0
    for mutated in _mutations(msg, seed=412):
        try:
            sigs.verify_signature(mutated, ring, DIGEST)
            accepted += 1  # a flip in a byte no check covers (e.g. the literal's file name length of 0 → ...)
        except SignatureError as exc:
            assert exc.message and exc.fix, exc
    assert accepted < MUTATIONS // 20


def test_fuzz_keyrings_one_error_never_a_traceback(key: LegacyKey) -> None:
    msg = key.sign_go(signature_payload(DIGEST, REF))
    for data in (key.certificate(), REDHAT_KEY_412.read_bytes()):
        for mutated in _mutations(data, seed=13):
            try:
                ring = sigs.parse_keyring(mutated, "mutated")
            except InputError as exc:
                assert exc.fix, exc
                continue
            try:
                sigs.verify_signature(msg, ring, DIGEST)
            except SignatureError as exc:
                assert exc.fix, exc


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60)


def test_fuzz_signature_verify_command(tmp_path: Path, key: LegacyKey) -> None:
    """The headless command: exit 1 for a refused signature, 2 for a key file it cannot read; a message with a
    fix; no traceback. (A few dozen runs: each starts a Python process.)"""
    keyfile = tmp_path / "k.asc"
    keyfile.write_text(key.public_armored)
    msg = key.sign_go(signature_payload(DIGEST, REF))
    ok = tmp_path / "ok"
    ok.write_bytes(msg)
    res = _cli("signature", "verify", "--keyring", str(keyfile), "--digest", DIGEST, str(ok))
    assert res.returncode == 0, res.stderr
    assert "SHA1 self-signature" in res.stdout + res.stderr
    rng = random.Random(7)
    cases: list[tuple[bytes | None, bytes | None]] = [(m, None) for m in _mutations(msg, seed=99)[:15]]
    cases += [(None, k) for k in _mutations(key.public_armored.encode(), seed=98)[:15]]
    rng.shuffle(cases)
    for i, (sig_bytes, key_bytes) in enumerate(cases):
        sig_file, key_file = tmp_path / f"s{i}", tmp_path / f"k{i}.asc"
        sig_file.write_bytes(sig_bytes if sig_bytes is not None else msg)
        key_file.write_bytes(key_bytes if key_bytes is not None else key.public_armored.encode())
        res = _cli("signature", "verify", "--keyring", str(key_file), "--digest", DIGEST, str(sig_file))
        assert "Traceback" not in res.stderr, res.stderr
        # a damaged signature is a refused signature (1); a damaged key file is bad input (2) unless what is left
        # still reads as a key (then the signature is refused: 1)
        assert res.returncode in ((0, 1) if key_bytes is None else (0, 1, 2)), (res.returncode, res.stderr)
        if res.returncode:
            assert res.stderr.startswith("error: ") and "\nfix: " in res.stderr.replace("\n  ", "\n"), (
                res.stderr
            )


def test_engine_error_classes_are_airgap_errors() -> None:
    with pytest.raises(AirgapError):
        sigs.verify_signature(b"\x00\x01", sigs.load_keyring(REDHAT_KEY_412), DIGEST)
    with pytest.raises(pgp.PGPError):
        pgp.read_message(b"", sigs.load_keyring(REDHAT_KEY_412).ring)


def test_signature_verify_with_the_4_12_key_never_a_traceback(tmp_path: Path, key: LegacyKey) -> None:
    """The command that used to end in 'No binding signature … SHA1 is not considered secure': now a refusal
    (the lab signature is not Red Hat's), with the SHA-1 self-signature reported."""
    sig = tmp_path / "signature-1"
    sig.write_bytes(key.sign_go(signature_payload(DIGEST, REF)))
    res = _cli("signature", "verify", "--keyring", str(REDHAT_KEY_412), "--digest", DIGEST, str(sig))
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "which is not in" in res.stderr and REDHAT_RELEASE_FPR in res.stderr
