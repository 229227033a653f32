"""Session endpoints: start, heartbeat, end (CONTRACT.md §5 "sessions")."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.helpers import (
    SESSION_CONFLICT_PREFIX,
    SESSION_END,
    SESSION_HEARTBEAT,
    SESSION_START,
    activate,
    activated_license,
    add_release,
    assert_error,
    days,
    db_time,
    end_session,
    heartbeat,
    live_session,
    parse_utc,
    remove_client,
    seconds_ago,
    start_session,
)
from tests.conftest import make_client
from tests.support.world import TestWorld

SESSION_TIMEOUT = 90  # seeded for "Account Forger"


def _sessions(world: TestWorld) -> list[dict[str, Any]]:
    return world.rows("SELECT * FROM sessions ORDER BY id")


# --- start ---------------------------------------------------------------------------------------


def test_start_answers_a_uuid4_token_the_interval_and_update_info(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")

    response = start_session(api, key, "hw-1", "1.0.0")

    assert response.status_code == 200, response.text
    body = response.json()
    token = body["session_token"]
    assert str(uuid.UUID(token)) == token
    assert uuid.UUID(token).version == 4
    assert body["heartbeat_interval"] == 30
    assert body["update_available"] is False
    assert body["latest_version"] == "1.0.0"
    assert body["download_url"] == "https://downloads.example.test/1.0.0"
    assert body["release_notes"] == "Initial release"
    [row] = _sessions(world)
    assert row["session_token"] == token
    assert row["ended_at"] is None
    assert row["hardware_hash"] == "hw-1"
    assert row["app_version"] == "1.0.0"


def test_start_reports_an_update_compared_as_versions(world: TestWorld, api: TestClient) -> None:
    add_release(world, "1.10.0", download_url="https://downloads.example.test/1.10.0", release_notes="Big one")
    key = activated_license(world, api, "hw-1")

    body = start_session(api, key, "hw-1", "1.9.0").json()

    assert body["update_available"] is True
    assert body["latest_version"] == "1.10.0"
    assert body["download_url"] == "https://downloads.example.test/1.10.0"
    assert body["release_notes"] == "Big one"


def test_heartbeat_interval_comes_from_the_client_config(world: TestWorld, api: TestClient) -> None:
    world.execute("UPDATE client_configs SET heartbeat_interval = 45 WHERE id = 1")
    key = activated_license(world, api, "hw-1")

    assert start_session(api, key, "hw-1").json()["heartbeat_interval"] == 45


def test_lower_case_license_key_starts_and_keeps_the_session(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")

    token = start_session(api, key.lower(), "hw-1").json()["session_token"]

    assert heartbeat(api, token, key.lower()).status_code == 200


@pytest.mark.parametrize(
    ("values", "status", "code"),
    [
        ({"is_active": False}, 403, "LICENSE_INACTIVE"),
        ({"valid_from": days(-30), "valid_until": days(-1)}, 403, "LICENSE_EXPIRED"),
        ({"valid_from": days(1)}, 403, "LICENSE_NOT_YET_VALID"),
    ],
    ids=["inactive", "expired", "not-yet-valid"],
)
def test_start_needs_a_usable_license(
    world: TestWorld, api: TestClient, values: dict[str, Any], status: int, code: str
) -> None:
    key = activated_license(world, api, "hw-1")
    world.execute(
        "UPDATE licenses SET is_active = :a, valid_from = :f, valid_until = :u",
        a=values.get("is_active", True),
        f=values.get("valid_from", days(-1)),
        u=values.get("valid_until"),
    )
    before = world.snapshot()

    assert_error(start_session(api, key, "hw-1"), status, code)
    assert world.snapshot() == before


def test_start_with_unknown_license_is_404(world: TestWorld, api: TestClient) -> None:
    assert_error(start_session(api, "AAAA-BBBB-CCCC-DDDD", "hw-1"), 404, "LICENSE_NOT_FOUND")
    assert _sessions(world) == []


def test_start_needs_an_activated_device(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    before = world.snapshot()

    assert_error(start_session(api, key, "hw-stranger"), 403, "DEVICE_NOT_ACTIVATED")
    assert world.snapshot() == before


def test_start_refuses_a_deactivated_device(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    world.execute("UPDATE activations SET is_active = FALSE")

    assert_error(start_session(api, key, "hw-1"), 403, "DEVICE_NOT_ACTIVATED")
    assert _sessions(world) == []


@pytest.mark.parametrize(("minimum", "version"), [("1.5.0", "1.4.9"), ("1.10.0", "1.9.0")])
def test_start_below_the_minimum_version_is_403(world: TestWorld, api: TestClient, minimum: str, version: str) -> None:
    world.execute("UPDATE client_configs SET minimum_version = :m WHERE id = 1", m=minimum)
    key = activated_license(world, api, "hw-1")
    before = world.snapshot()

    body = assert_error(
        start_session(api, key, "hw-1", version),
        403,
        "VERSION_TOO_OLD",
        extra_keys=frozenset({"minimum_version", "download_url"}),
    )
    assert body["minimum_version"] == minimum
    assert world.snapshot() == before


def test_start_at_exactly_the_minimum_version_is_allowed(world: TestWorld, api: TestClient) -> None:
    world.execute("UPDATE client_configs SET minimum_version = '1.10.0' WHERE id = 1")
    key = activated_license(world, api, "hw-1")

    assert start_session(api, key, "hw-1", "1.10.0").status_code == 200


def test_second_start_while_the_first_is_live_is_a_conflict(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=2)
    activate(api, key, "hw-1")
    activate(api, key, "hw-2")
    assert start_session(api, key, "hw-1").status_code == 200

    for device in ("hw-2", "hw-1"):
        body = assert_error(start_session(api, key, device), 409, "SESSION_CONFLICT")
        assert body["error"].startswith(SESSION_CONFLICT_PREFIX)
    assert len(_sessions(world)) == 1


def test_sessions_of_different_licenses_do_not_conflict(world: TestWorld, api: TestClient) -> None:
    live_session(world, api, "hw-1")
    other = activated_license(world, api, "hw-1")

    assert start_session(api, other, "hw-1").status_code == 200


def test_parallel_starts_exactly_one_succeeds(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: start_session(api, key, "hw-1"), range(6)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 5
    assert world.scalar("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL") == 1


# --- heartbeat -----------------------------------------------------------------------------------


def test_heartbeat_keeps_the_session_alive(world: TestWorld, api: TestClient) -> None:
    key, token = live_session(world, api)
    world.age_session(token, 60)

    response = heartbeat(api, token, key)

    assert response.status_code == 200, response.text
    body = response.json()
    assert seconds_ago(parse_utc(body["last_heartbeat"])) < 30
    [row] = _sessions(world)
    assert seconds_ago(db_time(row["last_heartbeat"])) < 30
    assert row["ended_at"] is None


def test_heartbeat_with_another_license_key_is_404_and_refreshes_nothing(world: TestWorld, api: TestClient) -> None:
    _, token = live_session(world, api)
    other = world.license()
    before = world.snapshot()

    assert_error(heartbeat(api, token, other), 404, "SESSION_NOT_FOUND")
    assert_error(heartbeat(api, token, "AAAA-BBBB-CCCC-DDDD"), 404, "SESSION_NOT_FOUND")
    assert world.snapshot() == before


def test_heartbeat_with_unknown_token_is_404(world: TestWorld, api: TestClient) -> None:
    key, _ = live_session(world, api)

    assert_error(heartbeat(api, str(uuid.uuid4()), key), 404, "SESSION_NOT_FOUND")
    assert_error(heartbeat(api, "not-even-a-uuid", key), 404, "SESSION_NOT_FOUND")


# --- end -----------------------------------------------------------------------------------------


def test_end_answers_duration_and_normal_reason(world: TestWorld, api: TestClient) -> None:
    key, token = live_session(world, api)
    world.age_session(token, 60)  # started a minute ago, still live (timeout 90 s)

    response = end_session(api, token)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["end_reason"] == "normal"
    assert isinstance(body["duration_seconds"], int)
    assert 59 <= body["duration_seconds"] <= 65
    [row] = _sessions(world)
    assert row["end_reason"] == "normal"
    assert row["ended_at"] is not None
    assert_error(heartbeat(api, token, key), 404, "SESSION_NOT_FOUND")


def test_ended_session_no_longer_blocks_and_stays_in_history(world: TestWorld, api: TestClient) -> None:
    key, first = live_session(world, api)
    assert end_session(api, first).status_code == 200

    second = start_session(api, key, "hw-1")

    assert second.status_code == 200
    assert second.json()["session_token"] != first
    rows = _sessions(world)
    assert [(r["session_token"], r["end_reason"]) for r in rows] == [
        (first, "normal"),
        (second.json()["session_token"], None),
    ]


def test_ending_twice_answers_the_recorded_end(world: TestWorld, api: TestClient) -> None:
    _, token = live_session(world, api)
    first = end_session(api, token)
    before = world.snapshot()

    again = end_session(api, token)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert world.snapshot() == before


def test_end_with_unknown_token_is_404(world: TestWorld, api: TestClient) -> None:
    live_session(world, api)
    before = world.snapshot()

    assert_error(end_session(api, str(uuid.uuid4())), 404, "SESSION_NOT_FOUND")
    assert world.snapshot() == before


# --- timeout -------------------------------------------------------------------------------------


def test_timed_out_session_is_over_and_never_blocks_a_new_start(world: TestWorld, api: TestClient) -> None:
    key, old = live_session(world, api)
    world.age_session(old, SESSION_TIMEOUT + 30)

    assert_error(heartbeat(api, old, key), 404, "SESSION_NOT_FOUND")
    new = start_session(api, key, "hw-1")

    assert new.status_code == 200, new.text
    rows = {r["session_token"]: r for r in _sessions(world)}
    assert len(rows) == 2
    assert rows[old]["end_reason"] == "timeout"
    assert db_time(rows[old]["ended_at"]) == db_time(rows[old]["last_heartbeat"])
    assert rows[new.json()["session_token"]]["ended_at"] is None


def test_session_just_inside_the_timeout_still_blocks(world: TestWorld, api: TestClient) -> None:
    key, token = live_session(world, api)
    world.age_session(token, SESSION_TIMEOUT - 10)

    assert_error(start_session(api, key, "hw-1"), 409, "SESSION_CONFLICT")
    assert heartbeat(api, token, key).status_code == 200


def test_ending_a_timed_out_session_records_a_timeout(world: TestWorld, api: TestClient) -> None:
    _, token = live_session(world, api)
    world.age_session(token, SESSION_TIMEOUT + 30)

    response = end_session(api, token)

    assert response.status_code == 200
    assert response.json()["end_reason"] == "timeout"
    assert world.scalar("SELECT end_reason FROM sessions") == "timeout"


def test_background_sweep_ends_timed_out_sessions_in_the_history(world: TestWorld) -> None:
    with make_client(world, session_sweep_seconds=0.1) as client:
        _, token = live_session(world, client)
        world.age_session(token, SESSION_TIMEOUT + 30)
        deadline = time.monotonic() + 2.0
        while world.scalar("SELECT end_reason FROM sessions") is None and time.monotonic() < deadline:
            time.sleep(0.05)

    [row] = _sessions(world)
    assert row["end_reason"] == "timeout"
    assert db_time(row["ended_at"]) == db_time(row["last_heartbeat"])


# --- client configuration and bad input ----------------------------------------------------------


def test_without_a_configured_client_sessions_answer_503(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    remove_client(world)
    before = world.snapshot()

    assert_error(start_session(api, key, "hw-1"), 503, "CLIENT_NOT_CONFIGURED")
    assert_error(heartbeat(api, str(uuid.uuid4()), key), 503, "CLIENT_NOT_CONFIGURED")
    assert_error(end_session(api, str(uuid.uuid4())), 503, "CLIENT_NOT_CONFIGURED")
    assert world.snapshot() == before


def test_malformed_session_requests_are_400(world: TestWorld, api: TestClient) -> None:
    cases: list[tuple[str, Any]] = [
        (SESSION_START, {"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1"}),
        (SESSION_START, {"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1", "version": "x.y"}),
        (SESSION_START, {"license_key": "bad", "hardware_hash": "hw-1", "version": "1.0.0"}),
        (SESSION_HEARTBEAT, {"session_token": str(uuid.UUID(int=1))}),
        (SESSION_HEARTBEAT, {"session_token": "", "license_key": "AAAA-BBBB-CCCC-DDDD"}),
        (SESSION_END, {}),
        (SESSION_END, {"session_token": "t" * 100}),
        (SESSION_END, {"session_token": None}),
    ]
    live_session(world, api)
    before = world.snapshot()

    for path, payload in cases:
        assert_error(api.post(path, json=payload), 400, "VALIDATION_ERROR")
    assert world.snapshot() == before
