"""POST /api/license/verify (CONTRACT.md §5 "verify")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.helpers import (
    VERIFY,
    activate,
    activated_license,
    add_release,
    assert_error,
    days,
    db_time,
    seconds_ago,
    verify,
)
from tests.support.world import TestWorld

VALID_KEYS = {"valid", "message", "license", "update_available", "latest_version"}
REFUSED_KEYS = {"valid", "code", "message"}


def _assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == REFUSED_KEYS, body
    assert body["valid"] is False
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"].strip()


def test_valid_license_and_device(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1", valid_from=days(-10), valid_until=days(100), max_users=10)

    response = verify(api, key, "hw-1", "1.0.0")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == VALID_KEYS
    assert body["valid"] is True
    assert body["message"] == "License is valid"
    assert body["license"] == {"key": key, "valid_until": days(100).isoformat(), "max_users": 10}
    assert body["update_available"] is False
    assert body["latest_version"] == "1.0.0"


def test_license_without_end_date_is_valid_with_null_valid_until(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1", valid_until=None)

    body = verify(api, key, "hw-1").json()

    assert body["valid"] is True
    assert body["license"]["valid_until"] is None


def test_valid_verify_refreshes_heartbeat_and_version(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    world.execute(
        "UPDATE activations SET last_heartbeat = :t, app_version = '1.0.0'", t=datetime.now(UTC) - timedelta(days=2)
    )

    assert verify(api, key, "hw-1", "1.3.0").json()["valid"] is True

    row = world.rows("SELECT last_heartbeat, app_version FROM activations")[0]
    assert seconds_ago(db_time(row["last_heartbeat"])) < 60
    assert row["app_version"] == "1.3.0"


def test_verify_without_app_version_keeps_the_stored_one(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    world.execute("UPDATE activations SET app_version = '1.0.0'")

    body = verify(api, key, "hw-1", app_version=None).json()

    assert body["valid"] is True
    assert body["update_available"] is False
    assert world.scalar("SELECT app_version FROM activations") == "1.0.0"


def test_lower_case_key_is_accepted(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")

    body = verify(api, key.lower(), "hw-1").json()

    assert body["valid"] is True
    assert body["license"]["key"] == key


def test_unknown_key_is_valid_false_with_200(world: TestWorld, api: TestClient) -> None:
    _assert_refused(verify(api, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"), "LICENSE_NOT_FOUND")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("UPDATE licenses SET is_active = FALSE", "LICENSE_INACTIVE"),
        ("UPDATE licenses SET valid_from = :past, valid_until = :yesterday", "LICENSE_EXPIRED"),
        ("UPDATE licenses SET valid_from = :tomorrow, valid_until = NULL", "LICENSE_NOT_YET_VALID"),
        ("UPDATE activations SET is_active = FALSE", "DEVICE_NOT_ACTIVATED"),
    ],
    ids=["inactive", "expired", "not-yet-valid", "device-deactivated"],
)
def test_unusable_license_or_device_is_valid_false_and_writes_nothing(
    world: TestWorld, api: TestClient, change: str, code: str
) -> None:
    # The device was activated while the license was usable; then the license or device changed.
    key = activated_license(world, api, "hw-1")
    params = {"past": days(-30), "yesterday": days(-1), "tomorrow": days(1)}
    world.execute(change, **{name: value for name, value in params.items() if f":{name}" in change})
    before = world.snapshot()

    _assert_refused(verify(api, key, "hw-1", "1.5.0"), code)
    assert world.snapshot() == before


def test_device_never_activated_is_valid_false(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    before = world.snapshot()

    _assert_refused(verify(api, key, "hw-other"), "DEVICE_NOT_ACTIVATED")
    assert world.snapshot() == before


def test_device_of_another_license_is_not_activated_here(world: TestWorld, api: TestClient) -> None:
    activated_license(world, api, "hw-1")
    other = world.license()

    _assert_refused(verify(api, other, "hw-1"), "DEVICE_NOT_ACTIVATED")


@pytest.mark.parametrize(
    "values",
    [
        {"valid_from": days(-30), "valid_until": days(0)},
        {"valid_from": days(0), "valid_until": days(30)},
        {"valid_from": days(0), "valid_until": days(0)},
    ],
    ids=["until-today", "from-today", "single-day"],
)
def test_date_boundaries_are_inclusive(world: TestWorld, api: TestClient, values: dict[str, Any]) -> None:
    key = activated_license(world, api, "hw-1", **values)

    assert verify(api, key, "hw-1").json()["valid"] is True


def test_update_available_compares_versions_as_versions(world: TestWorld, api: TestClient) -> None:
    add_release(world, "1.9.0")
    add_release(world, "1.10.0")
    key = activated_license(world, api, "hw-1")
    cases = [("1.0.0", True), ("1.9.0", True), ("1.9.10", True), ("1.10.0", False), ("1.10.1", False), ("2.0", False)]

    for app_version, update_available in cases:
        body = verify(api, key, "hw-1", app_version).json()

        assert body["valid"] is True
        assert body["update_available"] is update_available, app_version
        assert body["latest_version"] == "1.10.0"


def test_malformed_request_is_400(world: TestWorld, api: TestClient) -> None:
    payloads: list[Any] = [
        {},
        {"license_key": "AAAA-BBBB-CCCC-DDDD"},
        {"hardware_hash": "hw-1"},
        {"license_key": "not-a-key", "hardware_hash": "hw-1"},
        {"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1", "app_version": "one"},
        {"license_key": ["AAAA-BBBB-CCCC-DDDD"], "hardware_hash": "hw-1"},
    ]
    before = world.snapshot()

    for payload in payloads:
        assert_error(api.post(VERIFY, json=payload), 400, "VALIDATION_ERROR")
    assert world.snapshot() == before


def test_unknown_fields_are_ignored(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")

    response = api.post(VERIFY, json={"license_key": key, "hardware_hash": "hw-1", "future_field": {"x": 1}})

    assert response.json()["valid"] is True


def test_verify_does_not_activate(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=5)

    verify(api, key, "hw-1")

    assert world.scalar("SELECT COUNT(*) FROM activations") == 0
    assert activate(api, key, "hw-1").json()["already_active"] is False


SET_DEVICE = "UPDATE activations SET last_heartbeat = :t, app_version = '1.3.0'"


def _stored_device(world: TestWorld) -> tuple[datetime, str | None]:
    row = world.rows("SELECT last_heartbeat, app_version FROM activations")[0]
    return db_time(row["last_heartbeat"]), row["app_version"]


@pytest.mark.parametrize("age_seconds", [0, 50])
def test_verify_within_a_minute_of_the_stored_heartbeat_writes_nothing(
    world: TestWorld, api: TestClient, age_seconds: int
) -> None:
    # CONTRACT.md §5: the stored last_heartbeat may lag the newest verify by up to 60 s.
    key = activated_license(world, api, "hw-1")
    world.execute(SET_DEVICE, t=datetime.now(UTC) - timedelta(seconds=age_seconds))
    before = _stored_device(world)

    for _ in range(3):
        assert verify(api, key, "hw-1", "1.3.0").json()["valid"] is True
    assert verify(api, key, "hw-1", app_version=None).json()["valid"] is True

    assert _stored_device(world) == before


def test_verify_after_a_minute_refreshes_the_heartbeat(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    world.execute(SET_DEVICE, t=datetime.now(UTC) - timedelta(seconds=70))

    assert verify(api, key, "hw-1", "1.3.0").json()["valid"] is True

    heartbeat, version = _stored_device(world)
    assert seconds_ago(heartbeat) < 10
    assert version == "1.3.0"


def test_verify_with_a_new_app_version_writes_at_once(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    stored = datetime.now(UTC) - timedelta(seconds=5)
    world.execute(SET_DEVICE, t=stored)

    assert verify(api, key, "hw-1", "1.4.0").json()["valid"] is True

    heartbeat, version = _stored_device(world)
    assert version == "1.4.0"
    assert heartbeat > stored
