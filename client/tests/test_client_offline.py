"""Offline license files: genuine ones pass, everything else is refused with a reason and never
with an unhandled exception."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from conftest import DEVICE, Clock
from fake_license_server import SigningKey, b64url, license_claims
from licenseserver_client import ClockError, LicenseClient, OfflineFailure, OfflineLicenseError


@pytest.fixture
def genuine(key: SigningKey) -> str:
    return key.license_file(license_claims(DEVICE, time.time()))


def reason_of(client: LicenseClient, file: str | bytes | Path, device: str = DEVICE) -> OfflineFailure:
    with pytest.raises(OfflineLicenseError) as refused:
        client.check_offline(file.encode("latin-1") if isinstance(file, str) else file, device)
    return refused.value.reason


def test_a_genuine_file_passes_from_a_path_or_bytes(client: LicenseClient, genuine: str, tmp_path: Path) -> None:
    path = tmp_path / "ABCD-EFGH-JKLM-NPQR.lic"
    path.write_text(genuine + "\n")
    checked = client.check_offline(path, DEVICE)
    assert checked.license_key == "ABCD-EFGH-JKLM-NPQR" and checked.max_activations == 3
    assert client.check_offline(str(path), DEVICE) == checked
    assert client.check_offline(genuine.encode(), DEVICE).jti == checked.jti


def test_the_claims_decide(client: LicenseClient, key: SigningKey, clock: Clock) -> None:
    now = time.time()
    assert reason_of(client, key.license_file(license_claims(DEVICE, now)), "another-device") is (
        OfflineFailure.WRONG_DEVICE
    )
    assert reason_of(client, key.license_file(license_claims(DEVICE, now - 40 * 86400))) is OfflineFailure.EXPIRED
    future = license_claims(DEVICE, now, nbf=int(now) + 3600)
    assert reason_of(client, key.license_file(future)) is OfflineFailure.NOT_YET_VALID
    clock.shift = 31 * 86400
    assert reason_of(client, key.license_file(license_claims(DEVICE, now))) is OfflineFailure.EXPIRED


def test_keys_and_algorithms(client: LicenseClient, key: SigningKey) -> None:
    claims = license_claims(DEVICE, time.time())
    assert reason_of(client, SigningKey().license_file(claims)) is OfflineFailure.UNKNOWN_KEY
    # A stranger's signature under our kid, and the classic "alg: none" with no signature at all.
    forged = SigningKey().license_file(claims, {"alg": "EdDSA", "kid": key.kid})
    assert reason_of(client, forged) is OfflineFailure.BAD_SIGNATURE
    unsigned = key.license_file(claims, {"alg": "none", "kid": key.kid}).rsplit(".", 1)[0] + "."
    assert reason_of(client, unsigned) is OfflineFailure.MALFORMED
    hs256 = key.license_file(claims, {"alg": "HS256", "kid": key.kid})
    assert reason_of(client, hs256) is OfflineFailure.MALFORMED


def test_signed_but_malformed_claims(client: LicenseClient, key: SigningKey) -> None:
    now = time.time()
    for change in ({"exp": "tomorrow"}, {"hardware_hash": None}, {"iat": True}, {"max_users": 1.5}):
        claims = {**license_claims(DEVICE, now), **change}
        assert reason_of(client, key.license_file(claims)) is OfflineFailure.MALFORMED
    claims = license_claims(DEVICE, now)
    del claims["sub"]
    assert reason_of(client, key.license_file(claims)) is OfflineFailure.MALFORMED


def test_every_truncation_is_refused(client: LicenseClient, genuine: str) -> None:
    for length in range(len(genuine)):
        reason_of(client, genuine[:length])


def test_every_flipped_character_is_refused(client: LicenseClient, genuine: str) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for position, original in enumerate(genuine):
        for replacement in (alphabet[(alphabet.index(original) + 1) % len(alphabet)], "~"):
            reason_of(client, genuine[:position] + replacement + genuine[position + 1 :])


def test_every_flipped_bit_is_refused(client: LicenseClient, genuine: str) -> None:
    raw = genuine.encode()
    for position in range(len(raw)):
        for bit in (0x01, 0x20, 0x80):
            changed = bytearray(raw)
            changed[position] ^= bit
            reason_of(client, bytes(changed))


def test_random_garbage_is_refused(client: LicenseClient, genuine: str, tmp_path: Path) -> None:
    rng = random.Random(20261128)
    head, payload, _ = genuine.split(".")
    samples: list[bytes] = [b"", b"..", b"a.b.c", b"\xff\xfe\x00", (b"A" * 200_000)]
    samples += [rng.randbytes(rng.randrange(1, 400)) for _ in range(300)]
    samples += [f"{head}.{payload}.{b64url(rng.randbytes(64))}".encode() for _ in range(50)]
    samples += [f"{b64url(rng.randbytes(30))}.{payload}.{b64url(rng.randbytes(64))}".encode() for _ in range(50)]
    for sample in samples:
        reason_of(client, sample)
    assert reason_of(client, tmp_path / "missing.lic") is OfflineFailure.MALFORMED
    assert reason_of(client, tmp_path) is OfflineFailure.MALFORMED


def test_a_clock_set_back_before_the_file_was_issued(client: LicenseClient, genuine: str, clock: Clock) -> None:
    clock.shift = -86400
    with pytest.raises(ClockError):
        client.check_offline(genuine.encode(), DEVICE)


def test_a_file_seen_once_guards_the_clock_for_older_files(
    client: LicenseClient, key: SigningKey, clock: Clock
) -> None:
    now = time.time()
    older = key.license_file(license_claims(DEVICE, now - 10 * 86400))
    client.check_offline(key.license_file(license_claims(DEVICE, now)).encode(), DEVICE)
    clock.shift = -5 * 86400  # inside the older file's lifetime, but before the newest signed time
    with pytest.raises(ClockError):
        client.check_offline(older.encode(), DEVICE)
