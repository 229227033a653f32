"""The client library against the real License API (`licenseserver serve api`) on SQLite and on
PostgreSQL: real signatures on every kind of answer, real answers spoiled on the wire (each refused
with its reason), the example program, the grace period, the clock guard, a key rotation followed
through the JWK Set and a forged one refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from licenseserver_client import (
    ApiError,
    LicenseClient,
    OfflineFailure,
    OfflineLicenseError,
    ServerUnavailableError,
    SessionLostError,
    SignatureError,
    SignatureFailure,
    jwk_thumbprint,
)

from tests.client_e2e.live import ServeApi, cli, run_example
from tests.client_e2e.tampering import tampering
from tests.support.world import TestWorld

pytestmark = pytest.mark.slow
DEVICE = "e2e-device-0001"


@pytest.fixture
def served(world: TestWorld, tmp_path: Path) -> Iterator[ServeApi]:
    server = ServeApi(world.database_url, tmp_path / "server.log")
    yield server
    server.stop()


def pinned(server: ServeApi, world: TestWorld, tmp_path: Path, keys: object = None, name: str = "c") -> LicenseClient:
    return LicenseClient(
        server.base_url,
        world.api_key,
        public_keys=keys if keys is not None else server.jwks(),  # type: ignore[arg-type]
        cache_path=tmp_path / f"{name}-cache.json",
    )


def test_every_call_checks_real_signatures(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    key = world.license(max_activations=1)
    client = pinned(served, world, tmp_path)
    activated = client.activate(key, DEVICE, "E2E-PC", "1.0.0")
    assert activated.activation.hardware_hash == DEVICE and not activated.already_active
    verdict = client.verify(key, DEVICE, "1.0.0")
    assert verdict.valid and verdict.license is not None and verdict.license.key == key
    assert abs(verdict.signed_at - time.time()) < 60
    info = client.info(key)
    assert info.license.key == key and [a.hardware_hash for a in info.activations] == [DEVICE]
    assert client.check_version("0.9.0", key).latest_version == "1.0.0"
    offline = client.checkout(key, DEVICE, ttl_days=3)
    checked = client.check_offline(offline.license_file.encode(), DEVICE)
    assert checked.license_key == key and 2 * 86400 < checked.expires_at - time.time() <= 3 * 86400
    path = offline.save(tmp_path / f"{key}.lic")
    with pytest.raises(OfflineLicenseError) as elsewhere:
        client.check_offline(path, "another-device")
    assert elsewhere.value.reason is OfflineFailure.WRONG_DEVICE
    offline_refusals(served, world, tmp_path, offline.license_file)

    # Refusals arrive signed too, and become ApiError with the server's code and status.
    with pytest.raises(ApiError) as full:
        client.activate(key, "second-device", "E2E-PC-2", "1.0.0")
    assert (full.value.code, full.value.status) == ("ACTIVATION_LIMIT_REACHED", 409)
    with pytest.raises(ApiError) as unknown:
        client.info("ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert (unknown.value.code, unknown.value.status) == ("LICENSE_NOT_FOUND", 404)
    assert client.verify("ZZZZ-ZZZZ-ZZZZ-ZZZZ", DEVICE).valid is False

    # A client pinned to somebody else's key believes none of it.
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    stranger = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": jwk_thumbprint(x)}]}
    with pytest.raises(SignatureError) as refused:
        pinned(served, world, tmp_path, stranger, "stranger").verify(key, DEVICE)
    assert refused.value.reason is SignatureFailure.UNKNOWN_KEY


def offline_refusals(server: ServeApi, world: TestWorld, tmp_path: Path, token: str) -> None:
    """The server's own file, refused by the client for each reason a file can fail."""
    later = LicenseClient(
        server.base_url,
        world.api_key,
        server.jwks(),
        cache_path=tmp_path / "later.json",
        clock=lambda: time.time() + 4 * 86400,
    )
    header, payload, signature = token.split(".")
    changed = f"{header}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    foreign = pinned(
        server, world, tmp_path, {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": jwk_thumbprint(x)}]}, "f"
    )
    honest_client = pinned(server, world, tmp_path, name="offline")
    cases = [
        (later, token, OfflineFailure.EXPIRED),  # checked out for 3 days
        (honest_client, changed, OfflineFailure.BAD_SIGNATURE),
        (honest_client, token[: len(token) // 2], OfflineFailure.MALFORMED),
        (foreign, token, OfflineFailure.UNKNOWN_KEY),
    ]
    for client, text, reason in cases:
        with pytest.raises(OfflineLicenseError) as refused:
            client.check_offline(text.encode(), DEVICE)
        assert refused.value.reason is reason, refused.value.message


def test_the_example_program_grace_and_clock(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    key = world.license()
    world.execute("UPDATE client_configs SET heartbeat_interval = 1")
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(served.jwks()))
    common = ["--server", served.base_url, "--api-key", world.api_key, "--keys", str(keys), "--license", key]
    common += ["--cache", str(tmp_path / "app-cache.json"), "--hardware-hash", DEVICE, "--machine-name", "E2E-PC"]

    online = run_example(*common, "--run-seconds", "3.5")
    assert online.returncode == 0, online.stdout + online.stderr
    assert "activation: activated" in online.stdout and "valid=True from the server" in online.stdout
    beats = int(online.stdout.split("worked 3.5 s, ")[1].split(" heartbeat")[0])
    assert beats >= 2
    assert "session: ended" in online.stdout
    sessions = world.rows("SELECT end_reason, ended_at FROM sessions")
    assert len(sessions) == 1 and sessions[0]["ended_at"] is not None and sessions[0]["end_reason"] != "timeout"

    served.stop()
    offline = run_example(*common)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "valid=True from the cache" in offline.stdout
    time.sleep(2)
    over = run_example(*common, "--grace-hours", str(1 / 3600))
    assert over.returncode == 3 and "GRACE_PERIOD_OVER" in over.stdout, over.stdout
    set_back = run_example(*common, clock_shift=-86400)
    assert set_back.returncode == 5 and "clock" in set_back.stdout, set_back.stdout


def wait_until_signed_by(client: LicenseClient, key: str, kid: str, timeout: float = 30.0) -> None:
    """The server re-reads its signing key every few seconds; wait until answers carry `kid`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.verify(key, DEVICE)
        cached = client.state.load_verify(key, DEVICE)
        assert answer.valid and cached is not None
        if cached[1].kid == kid:
            return
        time.sleep(0.5)
    raise AssertionError(f"answers never signed by {kid}")


def test_a_pinned_client_follows_a_rotation_until_the_old_key_is_retired(
    served: ServeApi, world: TestWorld, tmp_path: Path
) -> None:
    key = world.license()
    old_set = served.jwks()
    old_kid = old_set["keys"][0]["kid"]
    follower = pinned(served, world, tmp_path, old_set, "old")
    follower.activate(key, DEVICE, "E2E-PC", "1.0.0")
    old_file = follower.checkout(key, DEVICE).license_file  # signed by the old key

    new_kid = cli(world.database_url, "signing-key", "rotate").strip()
    assert [k["kid"] for k in served.jwks()["keys"]] == [new_kid, old_kid]
    # Every verify passes through the switch: the first answer by the new key makes the client
    # fetch the JWK Set, which the old key signed too.
    wait_until_signed_by(follower, key, new_kid)
    assert set(follower.keys) == {new_kid, old_kid} and set(follower.pinned_keys) == {old_kid}
    assert follower.activate(key, DEVICE, "E2E-PC", "1.0.0").already_active
    # The program restarts: the learnt key is in its cache file, checked again from the pinned set.
    restarted = pinned(served, world, tmp_path, old_set, "old")
    assert set(restarted.keys) == {new_kid, old_kid}
    assert restarted.check_offline(old_file.encode(), DEVICE).kid == old_kid  # the overlap
    new_file = restarted.checkout(key, DEVICE).license_file
    assert restarted.check_offline(new_file.encode(), DEVICE).kid == new_kid

    cli(world.database_url, "signing-key", "retire", old_kid)
    assert [k["kid"] for k in served.jwks()["keys"]] == [new_kid]
    # Pinned to the old set alone, with nothing learnt: the set is signed by the new key only.
    stranded = pinned(served, world, tmp_path, old_set, "stranded")
    with pytest.raises(SignatureError) as refused:
        stranded.verify(key, DEVICE)
    assert refused.value.reason is SignatureFailure.UNKNOWN_KEY
    assert set(stranded.keys) == {old_kid}
    # The program that learnt the new key keeps working and, reading the set again, drops the old one.
    after = LicenseClient(
        served.base_url, world.api_key, old_set, cache_path=tmp_path / "old-cache.json", key_refresh=timedelta(0)
    )
    assert after.verify(key, DEVICE).valid and after.info(key).license.key == key
    assert set(after.keys) == {new_kid}
    with pytest.raises(OfflineLicenseError) as retired:
        after.check_offline(old_file.encode(), DEVICE)
    assert retired.value.reason is OfflineFailure.UNKNOWN_KEY
    assert after.check_offline(new_file.encode(), DEVICE).kid == new_kid
    assert set(pinned(served, world, tmp_path, old_set, "old").keys) == {new_kid}


def test_a_forged_jwk_set_is_refused(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    key = world.license()
    old_set = served.jwks()
    old_kid = old_set["keys"][0]["kid"]
    pinned(served, world, tmp_path).activate(key, DEVICE, "E2E-PC", "1.0.0")
    cache = tmp_path / "proxied.json"
    with tampering(served.base_url) as proxy:
        # A relay that signs every answer, and a JWK Set naming its key, with a key of its own.
        client = LicenseClient(proxy.base_url, world.api_key, old_set, cache_path=cache)
        proxy.mode = "forged"
        for call in (lambda: client.verify(key, DEVICE), lambda: client.info(key), lambda: client.verify(key, DEVICE)):
            with pytest.raises(SignatureError) as refused:
                call()
            assert refused.value.reason is SignatureFailure.UNKNOWN_KEY
        assert proxy.paths.count("/.well-known/jwks.json") == 1  # once, not per forged answer
        assert set(client.keys) == {old_kid}

        # The server rotates; the relay passes its answers but swaps the JWK Set for its own.
        new_kid = cli(world.database_url, "signing-key", "rotate").strip()
        proxy.mode = "forged_jwks"
        relayed = LicenseClient(proxy.base_url, world.api_key, old_set, cache_path=cache)
        deadline = time.monotonic() + 30
        with pytest.raises(SignatureError) as refused:
            while time.monotonic() < deadline:  # until the server signs with the new key
                relayed.verify(key, DEVICE)
                time.sleep(0.5)
        assert refused.value.reason is SignatureFailure.UNKNOWN_KEY
        assert set(relayed.keys) == {old_kid}

        proxy.mode = None  # an honest relay: the real set, signed by the old key too, is believed
        honest_relay = LicenseClient(proxy.base_url, world.api_key, old_set, cache_path=cache)
        assert honest_relay.verify(key, DEVICE).valid
        assert set(honest_relay.keys) == {new_kid, old_kid}


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_a_session_refused_at_start_or_lost_on_heartbeat(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    key = world.license()
    world.execute("UPDATE client_configs SET heartbeat_interval = 1")
    client = pinned(served, world, tmp_path)
    client.activate(key, DEVICE, "E2E-PC", "1.0.0")
    lost: list[SessionLostError] = []
    with client.session(key, DEVICE, "E2E-PC", "1.0.0", on_lost=lost.append) as first:
        with pytest.raises(SessionLostError) as conflict:
            client.session(key, DEVICE, "E2E-PC", "1.0.0").start()
        assert (conflict.value.code, conflict.value.status) == ("SESSION_CONFLICT", 409)
        assert conflict.value.message.startswith("Es ist nur eine Sitzung erlaubt")
        wait_for(lambda: first.beats >= 1)
        assert first.token is not None
        world.age_session(first.token, 3600)  # silent for an hour: timed out at the server
        wait_for(lambda: bool(lost))
        with pytest.raises(SessionLostError) as gone:
            first.check()
        assert (gone.value.code, gone.value.status) == ("SESSION_NOT_FOUND", 404) and lost == [gone.value]
    with client.session(key, DEVICE, "E2E-PC", "1.0.0") as second:
        second.check()
    assert world.scalar("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == 0


def test_every_kind_of_refusal_arrives_signed(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    """400, 401, 403, 404, 409 (above), 429 and 503 from the real server pass the client's check:
    an ApiError (or, for a 5xx, the server's own code) only comes from a verified answer."""
    key = world.license()
    client = pinned(served, world, tmp_path)
    client.activate(key, DEVICE, "E2E-PC", "1.0.0")
    refusals = [
        (lambda: client.activate(key, " ", "E2E-PC", "1.0.0"), 400, "VALIDATION_ERROR"),
        (lambda: client.checkout(key, "not-activated-here"), 403, "DEVICE_NOT_ACTIVATED"),
        (lambda: client.info("ZZZZ-ZZZZ-ZZZZ-ZZZZ"), 404, "LICENSE_NOT_FOUND"),
    ]
    for call, status, code in refusals:
        with pytest.raises(ApiError) as refused:
            call()
        assert (refused.value.status, refused.value.code) == (status, code)
    wrong_key = LicenseClient(served.base_url, "AF-2026-WRONG", public_keys=served.jwks(), cache_path=tmp_path / "w")
    with pytest.raises(ApiError) as unauthorised:
        wrong_key.verify(key, DEVICE)
    assert (unauthorised.value.status, unauthorised.value.code) == (401, "INVALID_API_KEY")

    world.execute("DELETE FROM client_releases")
    world.execute("DELETE FROM client_configs")
    with pytest.raises(ServerUnavailableError) as unconfigured:
        client.check_version("1.0.0")
    # An unsigned or unchecked 5xx would read SERVER_ERROR: the server's code proves the check passed.
    assert (unconfigured.value.status, unconfigured.value.code) == (503, "CLIENT_NOT_CONFIGURED")

    world.execute("UPDATE rate_limit_settings SET api_per_minute = 1 WHERE id = 1")
    time.sleep(2.5)  # the instance re-reads its limits every 2 s
    with pytest.raises(ApiError) as limited:
        for _ in range(3):  # the first may open a new minute's window
            client.info(key)
    assert (limited.value.status, limited.value.code) == (429, "RATE_LIMITED")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("body", SignatureFailure.DIGEST_MISMATCH),
        ("status", SignatureFailure.BAD_SIGNATURE),
        ("path", SignatureFailure.BAD_SIGNATURE),
        ("replay", SignatureFailure.NONCE_MISMATCH),
        ("unsigned", SignatureFailure.MISSING),
    ],
)
def test_real_answers_spoiled_on_the_wire_are_refused(
    served: ServeApi, world: TestWorld, tmp_path: Path, mode: str, reason: SignatureFailure
) -> None:
    key = world.license()
    other = world.license()
    pinned(served, world, tmp_path).activate(key, DEVICE, "E2E-PC", "1.0.0")
    with tampering(served.base_url) as proxy:
        # The signature does not cover the host: to the program the proxy is the server.
        client = LicenseClient(proxy.base_url, world.api_key, served.jwks(), cache_path=tmp_path / "proxied.json")
        proxy.other_path = f"/api/license/info/{other}"  # another license's answer, signed by the server
        for call in (lambda: client.info(key), lambda: client.info("ZZZZ-ZZZZ-ZZZZ-ZZZZ")):
            proxy.mode = None
            honest(call)  # an honest exchange through the proxy first
            proxy.mode = mode
            with pytest.raises(SignatureError) as refused:
                call()
            assert refused.value.reason is reason, refused.value.message


def honest(call: Callable[[], object]) -> None:
    """The call passes its signature check: a result, or a signed 404."""
    try:
        call()
    except ApiError as refused:
        assert refused.status == 404


def test_an_answer_older_than_five_minutes_is_refused(served: ServeApi, world: TestWorld, tmp_path: Path) -> None:
    key = world.license()
    ahead = LicenseClient(
        served.base_url,
        world.api_key,
        public_keys=served.jwks(),
        cache_path=tmp_path / "ahead.json",
        clock=lambda: time.time() + 301,  # every real answer is 301 s old to this client
    )
    with pytest.raises(SignatureError) as refused:
        ahead.info(key)
    assert refused.value.reason is SignatureFailure.STALE
