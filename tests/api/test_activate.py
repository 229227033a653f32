"""POST /api/license/activate (CONTRACT.md §5 "activate")."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.helpers import (
    ACTIVATE,
    activate,
    assert_error,
    days,
    db_time,
    parse_utc,
    seconds_ago,
)
from tests.support.world import TestWorld

REFERENCE_ACTIVATION_KEYS = {
    "id",
    "license_key",
    "hardware_hash",
    "machine_name",
    "activated_at",
    "last_heartbeat",
    "is_active",
}


def _activation_rows(world: TestWorld) -> list[dict[str, Any]]:
    return world.rows("SELECT * FROM activations ORDER BY id")


def test_new_device_is_activated_with_the_reference_shape(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=2)

    response = activate(api, key, "hw-new", "DESKTOP-ABC123", "1.0.0")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "License activated successfully"
    assert body["already_active"] is False
    activation = body["activation"]
    assert set(activation) >= REFERENCE_ACTIVATION_KEYS
    assert activation["license_key"] == key
    assert activation["hardware_hash"] == "hw-new"
    assert activation["machine_name"] == "DESKTOP-ABC123"
    assert activation["is_active"] is True
    assert isinstance(activation["id"], int)
    assert seconds_ago(parse_utc(activation["activated_at"])) < 60
    assert seconds_ago(parse_utc(activation["last_heartbeat"])) < 60

    rows = _activation_rows(world)
    assert len(rows) == 1
    assert rows[0]["id"] == activation["id"]
    assert rows[0]["hardware_hash"] == "hw-new"
    assert rows[0]["app_version"] == "1.0.0"
    assert bool(rows[0]["is_active"]) is True


def test_same_device_again_refreshes_the_same_activation(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    first = activate(api, key, "hw-1", "OLD-NAME", "1.0.0").json()["activation"]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    world.execute("UPDATE activations SET last_heartbeat = :t", t=an_hour_ago)

    response = activate(api, key, "hw-1", "NEW-NAME", "1.2.0")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["already_active"] is True
    again = body["activation"]
    assert again["id"] == first["id"]
    assert again["machine_name"] == "NEW-NAME"
    assert again["activated_at"] == first["activated_at"]
    assert seconds_ago(parse_utc(again["last_heartbeat"])) < 60
    rows = _activation_rows(world)
    assert len(rows) == 1
    assert rows[0]["machine_name"] == "NEW-NAME"
    assert rows[0]["app_version"] == "1.2.0"
    assert seconds_ago(db_time(rows[0]["last_heartbeat"])) < 60


def test_same_device_is_refreshed_even_when_the_license_is_full(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    assert activate(api, key, "hw-1").status_code == 200

    again = activate(api, key, "hw-1")

    assert again.status_code == 200
    assert again.json()["already_active"] is True
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1


def test_new_device_over_the_limit_is_refused_and_nothing_is_written(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=2)
    assert activate(api, key, "hw-1").status_code == 200
    assert activate(api, key, "hw-2").status_code == 200
    before = world.snapshot()

    response = activate(api, key, "hw-3")

    assert_error(response, 409, "ACTIVATION_LIMIT_REACHED")
    assert world.snapshot() == before
    assert world.scalar("SELECT COUNT(*) FROM activations") == 2


def test_deactivated_device_no_longer_counts_toward_the_limit(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    first_id = activate(api, key, "hw-1").json()["activation"]["id"]
    world.execute("UPDATE activations SET is_active = FALSE WHERE id = :i", i=first_id)

    response = activate(api, key, "hw-2")

    assert response.status_code == 200, response.text
    assert response.json()["already_active"] is False
    assert world.scalar("SELECT COUNT(*) FROM activations WHERE is_active = TRUE") == 1
    # The slot is taken again by hw-2: the old device cannot come back while it is.
    assert_error(activate(api, key, "hw-1"), 409, "ACTIVATION_LIMIT_REACHED")


def test_reactivating_a_deactivated_device_makes_a_new_activation_and_keeps_history(
    world: TestWorld, api: TestClient
) -> None:
    key = world.license(max_activations=2)
    old_id = activate(api, key, "hw-1").json()["activation"]["id"]
    world.execute("UPDATE activations SET is_active = FALSE WHERE id = :i", i=old_id)

    response = activate(api, key, "hw-1")

    assert response.status_code == 200
    body = response.json()
    assert body["already_active"] is False
    assert body["activation"]["id"] != old_id
    rows = _activation_rows(world)
    assert [(r["hardware_hash"], bool(r["is_active"])) for r in rows] == [("hw-1", False), ("hw-1", True)]


@pytest.mark.parametrize("spelling", ["lower", "padded"])
def test_license_key_is_normalised(world: TestWorld, api: TestClient, spelling: str) -> None:
    key = world.license()
    sent = key.lower() if spelling == "lower" else f"  {key.lower()}  "

    response = activate(api, sent, "hw-1")

    assert response.status_code == 200, response.text
    assert response.json()["activation"]["license_key"] == key
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1
    # And the normalised key finds the same activation afterwards.
    assert activate(api, key, "hw-1").json()["already_active"] is True


def test_unknown_license_is_404_and_writes_nothing(world: TestWorld, api: TestClient) -> None:
    world.license()
    before = world.snapshot()

    assert_error(activate(api, "AAAA-BBBB-CCCC-DDDD"), 404, "LICENSE_NOT_FOUND")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"is_active": False}, "LICENSE_INACTIVE"),
        ({"valid_from": days(-30), "valid_until": days(-1)}, "LICENSE_EXPIRED"),
        ({"valid_from": days(1)}, "LICENSE_NOT_YET_VALID"),
        ({"valid_from": days(2), "valid_until": days(10)}, "LICENSE_NOT_YET_VALID"),
    ],
    ids=["inactive", "expired", "not-yet-valid", "not-yet-valid-bounded"],
)
def test_unusable_license_is_403_and_writes_nothing(
    world: TestWorld, api: TestClient, values: dict[str, Any], code: str
) -> None:
    key = world.license(**values)
    before = world.snapshot()

    assert_error(activate(api, key), 403, code)
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "values",
    [
        {"valid_from": days(-30), "valid_until": days(0)},
        {"valid_from": days(0), "valid_until": days(30)},
        {"valid_from": days(0), "valid_until": days(0)},
        {"valid_from": days(-400), "valid_until": None},
    ],
    ids=["until-today", "from-today", "single-day", "no-end"],
)
def test_dates_are_inclusive_and_no_end_means_no_end(world: TestWorld, api: TestClient, values: dict[str, Any]) -> None:
    key = world.license(**values)
    assert activate(api, key).status_code == 200


BAD_PAYLOADS = [
    b"{not json",
    b"",
    b"[]",
    b"null",
    b'{"hardware_hash": "hw-1"}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDDD"}',
    b'{"license_key": "AAAA-BBBB-CCCC", "hardware_hash": "hw-1"}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDD!", "hardware_hash": "hw-1"}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDDDD", "hardware_hash": "hw-1"}',
    b'{"license_key": 12, "hardware_hash": "hw-1"}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": ""}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1", "app_version": "not a version"}',
    b'{"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "' + b"h" * 300 + b'"}',
]


def test_bad_input_is_400_validation_error_and_writes_nothing(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    before = world.snapshot()

    for payload in [*BAD_PAYLOADS, payload_with_key(key, machine_name=["list"])]:
        response = api.post(ACTIVATE, content=payload, headers={"Content-Type": "application/json"})

        body = assert_error(response, 400, "VALIDATION_ERROR")
        assert body["details"], payload
        assert all(set(item) == {"field", "message"} for item in body["details"])
    assert world.snapshot() == before


def payload_with_key(key: str, **fields: Any) -> bytes:
    return json.dumps({"license_key": key, "hardware_hash": "hw-1", **fields}).encode()


def test_missing_field_is_named_in_details(world: TestWorld, api: TestClient) -> None:
    response = api.post(ACTIVATE, json={"license_key": world.license()})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "hardware_hash" in [item["field"] for item in body["details"]]


def test_body_over_the_size_limit_is_413(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    before = world.snapshot()

    response = activate(api, key, "hw-1", machine_name="x" * 20_000)

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert world.snapshot() == before


def test_parallel_activations_never_exceed_the_limit(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=3)
    devices = [f"hw-{n}" for n in range(10)] + ["hw-0"] * 4  # also the same device several times at once

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda hw: activate(api, key, hw).status_code, devices))

    assert set(statuses) <= {200, 409}
    assert world.scalar("SELECT COUNT(*) FROM activations WHERE is_active = TRUE") == 3
    assert world.scalar("SELECT COUNT(DISTINCT hardware_hash) FROM activations WHERE is_active = TRUE") == 3
    assert statuses.count(409) >= 7
