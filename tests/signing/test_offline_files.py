"""Offline license files (docs/signatures.md "Offline license files"), checked with PyJWT and the
JWK Set as any client would, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from tests.api.helpers import activate, activated_license, assert_error, days, parse_utc, today
from tests.signing.helpers import CHECKOUT, jwks
from tests.support.world import TestWorld

DAY = 86_400


def checkout(api: TestClient, key: str, hardware_hash: str = "hw-1", **extra: Any) -> Any:
    return api.post(CHECKOUT, json={"license_key": key, "hardware_hash": hardware_hash, **extra})


def decode(api: TestClient, token: str, **options: Any) -> dict[str, Any]:
    """A stock check: the key named by the header's kid in the published JWK Set, EdDSA only."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks(api)["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk).key
    claims: dict[str, Any] = jwt.decode(token, key=key, algorithms=["EdDSA"], **options)
    return claims


def issued(api: TestClient, key: str, hardware_hash: str = "hw-1", **extra: Any) -> tuple[dict[str, Any], Any]:
    response = checkout(api, key, hardware_hash, **extra)
    assert response.status_code == 200, response.text
    return decode(api, response.json()["license_file"]), response


def test_a_license_file_verifies_with_a_stock_library(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, license_type="subscription", valid_until=days(400), max_users=3)
    claims, response = issued(api, key)
    body = response.json()
    token = body["license_file"]

    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": jwks(api)["keys"][0]["kid"], "typ": "JWT"}
    now = datetime.now(UTC).timestamp()
    assert abs(claims["iat"] - now) < 5
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] == claims["iat"] + 30 * DAY
    assert parse_utc(body["expires_at"]).timestamp() == claims["exp"]
    assert set(body) == {"license_file", "expires_at"}
    assert claims["sub"] == key
    assert claims["hardware_hash"] == "hw-1"
    assert claims["license_type"] == "subscription"
    assert claims["valid_from"] == today().isoformat()
    assert claims["valid_until"] == days(400).isoformat()
    assert (claims["max_activations"], claims["max_users"]) == (1, 3)
    assert len(claims["jti"]) == 36
    assert claims["jti"] != issued(api, key)[0]["jti"]


def test_an_expired_file_is_refused(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    token = checkout(api, key, ttl_days=1).json()["license_file"]
    decode(api, token)
    # The client's clock a day and a bit later (a negative leeway moves "now" forward; iat and nbf
    # would then read as the future, so only exp is judged): the same file is refused as expired.
    later = {"leeway": -timedelta(days=1, seconds=5), "options": {"verify_iat": False, "verify_nbf": False}}
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(api, token, **later)
    decode(api, token, leeway=-timedelta(hours=23), options={"verify_iat": False, "verify_nbf": False})


def test_a_file_is_bound_to_its_device(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, max_activations=2)
    assert activate(api, key, "hw-2").status_code == 200
    first, _ = issued(api, key, "hw-1")
    second, _ = issued(api, key, "hw-2")
    assert (first["hardware_hash"], second["hardware_hash"]) == ("hw-1", "hw-2")
    assert_error(checkout(api, key, "hw-3"), 403, "DEVICE_NOT_ACTIVATED")


def _part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def _encode(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_a_tampered_file_is_refused(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    token = checkout(api, key).json()["license_file"]
    head, _payload, signature = token.split(".")
    longer = {**_part(token, 1), "exp": _part(token, 1)["exp"] + 365 * DAY}
    with pytest.raises(jwt.InvalidSignatureError):
        decode(api, f"{head}.{_encode(longer)}.{signature}")
    other_device = {**_part(token, 1), "hardware_hash": "hw-2"}
    with pytest.raises(jwt.InvalidSignatureError):
        decode(api, f"{head}.{_encode(other_device)}.{signature}")


def test_a_file_signed_by_a_foreign_key_is_refused(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    genuine = checkout(api, key).json()["license_file"]
    forged = jwt.encode(
        _part(genuine, 1), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": _part(genuine, 0)["kid"]}
    )
    with pytest.raises(jwt.InvalidSignatureError):
        decode(api, forged)
    with pytest.raises(StopIteration):  # a kid nobody published
        decode(api, jwt.encode({"sub": key}, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "x"}))


@pytest.mark.parametrize(
    ("license_ttl", "asked", "lives"),
    [
        (None, None, 30),
        (None, 5, 5),
        (None, 31, 30),
        (None, 5000, 30),
        (7, None, 7),
        (7, 10, 7),
        (7, 3, 3),
        (90, 60, 60),
    ],
)
def test_time_to_live_is_cut_to_the_license(
    world: TestWorld, api: TestClient, license_ttl: int | None, asked: int | None, lives: int
) -> None:
    key = activated_license(world, api)
    world.execute("UPDATE licenses SET offline_ttl_days = :d WHERE license_key = :k", d=license_ttl, k=key)
    claims, _ = issued(api, key, **({} if asked is None else {"ttl_days": asked}))
    assert claims["exp"] - claims["iat"] == lives * DAY


def test_a_file_never_outlives_the_license(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, valid_until=days(3))
    claims, response = issued(api, key)
    end_of_last_day = datetime.combine(days(4), time(0), tzinfo=UTC)
    assert claims["exp"] == int(end_of_last_day.timestamp())
    assert response.json()["expires_at"] == end_of_last_day.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A license that ends today: the file ends at midnight UTC tonight.
    last_day = activated_license(world, api, valid_until=today())
    assert issued(api, last_day)[0]["exp"] == int(datetime.combine(days(1), time(0), tzinfo=UTC).timestamp())


def test_refusals_are_those_of_activate(world: TestWorld, api: TestClient) -> None:
    inactive = activated_license(world, api)
    world.execute("UPDATE licenses SET is_active = FALSE WHERE license_key = :k", k=inactive)
    expired = activated_license(world, api)  # an activated device, then the license runs out
    world.execute(
        "UPDATE licenses SET valid_from = :f, valid_until = :u WHERE license_key = :k",
        f=days(-10),
        u=days(-1),
        k=expired,
    )
    future = world.license(valid_from=days(2))
    deactivated = activated_license(world, api)
    world.execute("UPDATE activations SET is_active = FALSE")
    jwks(api)  # the first key is made on first use: before the snapshot
    before = world.snapshot()

    assert_error(checkout(api, "AAAA-BBBB-CCCC-DDDD"), 404, "LICENSE_NOT_FOUND")
    assert_error(checkout(api, inactive), 403, "LICENSE_INACTIVE")
    assert_error(checkout(api, expired), 403, "LICENSE_EXPIRED")
    assert_error(checkout(api, future), 403, "LICENSE_NOT_YET_VALID")
    assert_error(checkout(api, deactivated), 403, "DEVICE_NOT_ACTIVATED")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "extra",
    [{"ttl_days": 0}, {"ttl_days": -1}, {"ttl_days": "5"}, {"ttl_days": 2.5}, {"ttl_days": True}, {"ttl_days": 10**40}],
)
def test_bad_ttl_days_is_400(world: TestWorld, api: TestClient, extra: dict[str, Any]) -> None:
    key = activated_license(world, api)
    jwks(api)
    before = world.snapshot()
    body = assert_error(checkout(api, key, **extra), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "ttl_days"
    assert world.snapshot() == before


def test_bad_bodies_are_400(world: TestWorld, api: TestClient) -> None:
    for sent in ({}, {"license_key": "nope", "hardware_hash": "hw"}, {"license_key": "AAAA-BBBB-CCCC-DDDD"}):
        assert_error(api.post(CHECKOUT, json=sent), 400, "VALIDATION_ERROR")
    assert_error(
        api.post(CHECKOUT, content=b"[", headers={"Content-Type": "application/json"}), 400, "VALIDATION_ERROR"
    )


def test_checkout_needs_the_api_key(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    response = api.post(CHECKOUT, json={"license_key": key, "hardware_hash": "hw-1"}, headers={"X-API-Key": "wrong"})
    assert_error(response, 401, "INVALID_API_KEY")
