"""The system API key on the License API (CONTRACT.md §4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from licenseserver.domain.api_key.service import regenerate_api_key
from licenseserver.domain.installation import run_in_transaction
from licenseserver.kit.keys import new_api_key
from tests.api.helpers import (
    ACTIVATE,
    API_KEY_FORMAT,
    SESSION_END,
    SESSION_HEARTBEAT,
    SESSION_START,
    VERIFY,
    VERSION_CHECK,
    VERSION_LATEST,
    activate,
    assert_invalid_api_key,
)
from tests.support.world import TestWorld

PROTECTED: list[tuple[str, str]] = [
    ("POST", ACTIVATE),
    ("POST", VERIFY),
    ("GET", "/api/license/info/AAAA-BBBB-CCCC-DDDD"),
    ("POST", SESSION_START),
    ("POST", SESSION_HEARTBEAT),
    ("POST", SESSION_END),
    ("POST", VERSION_CHECK),
    ("GET", VERSION_LATEST),
]
PROPAGATION_SECONDS = 1.0


def _call(client: TestClient | httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body: Any = {"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1"} if method == "POST" else None
    return client.request(method, path, json=body, headers=headers)


def test_seeded_key_is_accepted(world: TestWorld, api: TestClient) -> None:
    assert api.headers["X-API-Key"] == world.api_key
    assert api.get(VERSION_LATEST).status_code == 200


def test_missing_key_is_401_with_the_exact_body(world: TestWorld, api: TestClient) -> None:
    del api.headers["X-API-Key"]

    for method, path in PROTECTED:
        assert_invalid_api_key(_call(api, method, path, {}))


def test_wrong_key_is_401_with_the_exact_body(world: TestWorld, api: TestClient) -> None:
    for method, path in PROTECTED:
        assert_invalid_api_key(_call(api, method, path, {"X-API-Key": "AF-2026-WRONGWRONGWRONGWRONGWRONGWRONG12"}))


def test_near_misses_are_refused(world: TestWorld, api: TestClient) -> None:
    key = world.api_key
    for headers in (
        {"X-API-Key": ""},
        {"X-API-Key": key.lower()},
        {"X-API-Key": key[:-1]},
        {"X-API-Key": key + "0"},
        {"X-API-Key": f"Bearer {key}"},
        {"X-API-Key": "", "Authorization": f"Bearer {key}"},
    ):
        assert_invalid_api_key(api.get(VERSION_LATEST, headers=headers))


def test_key_is_checked_before_the_body_and_a_refused_call_writes_nothing(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    before = world.snapshot()

    assert_invalid_api_key(
        api.post(ACTIVATE, json={"license_key": key, "hardware_hash": "hw-1"}, headers={"X-API-Key": "nope"})
    )
    assert_invalid_api_key(api.post(ACTIVATE, content=b"{broken", headers={"X-API-Key": "nope"}))
    assert world.snapshot() == before


def test_unknown_api_route_without_key_is_401(world: TestWorld, api: TestClient) -> None:
    assert_invalid_api_key(api.get("/api/does-not-exist", headers={"X-API-Key": ""}))


def _regenerate(world: TestWorld) -> str:
    """Replace the key in a unit of work of its own, as `licenseserver api-key regenerate` does."""
    return run_in_transaction(world.settings(), regenerate_api_key)


def _wait_until_refused(api: TestClient, old: str, new: str) -> None:
    """The instance's cached key (at most API_KEY_CACHE_SECONDS old) gives way to the new one."""
    deadline = time.monotonic() + PROPAGATION_SECONDS + 0.5
    while api.get(VERSION_LATEST, headers={"X-API-Key": old}).status_code != 401:
        assert time.monotonic() < deadline, "the API still accepts the old key"
        time.sleep(0.05)
    assert_invalid_api_key(api.get(VERSION_LATEST, headers={"X-API-Key": old}))
    assert api.get(VERSION_LATEST, headers={"X-API-Key": new}).status_code == 200


def test_regenerated_key_replaces_the_old_one(world: TestWorld, api: TestClient) -> None:
    old = world.api_key
    key = world.license()
    assert activate(api, key, "hw-1").status_code == 200  # the old key is cached now

    new = _regenerate(world)

    match = API_KEY_FORMAT.match(new)
    assert match, new
    assert int(match.group(1)) == datetime.now(UTC).year
    assert new != old
    assert world.scalar("SELECT api_key FROM system_api_key WHERE id = 1") == new
    assert world.scalar("SELECT COUNT(*) FROM system_api_key") == 1
    _wait_until_refused(api, old, new)
    verified = api.post(VERIFY, json={"license_key": key, "hardware_hash": "hw-1"}, headers={"X-API-Key": new})
    assert verified.json()["valid"] is True


def test_two_regenerations_make_two_different_keys(world: TestWorld, api: TestClient) -> None:
    first = _regenerate(world)
    second = _regenerate(world)

    assert first != second
    _wait_until_refused(api, first, second)


@pytest.mark.slow
def test_key_regenerated_by_another_process_is_refused_within_one_second(
    world: TestWorld, live_server: Callable[..., Any]
) -> None:
    server = live_server()
    old = world.api_key
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        assert http.get(VERSION_LATEST, headers={"X-API-Key": old}).status_code == 200  # cached by the server

        # Replaced from this test process, as the panel or `licenseserver api-key regenerate` would.
        new = new_api_key(datetime.now(UTC).year)
        world.execute("UPDATE system_api_key SET api_key = :k WHERE id = 1", k=new)
        replaced_at = time.monotonic()

        # Every request sent more than a second after the replacement must be refused.
        while True:
            sent_after = time.monotonic() - replaced_at
            status = http.get(VERSION_LATEST, headers={"X-API-Key": old}).status_code
            if status == 401:
                break
            assert status == 200
            assert sent_after <= PROPAGATION_SECONDS, f"old key still accepted {sent_after:.3f} s after replacement"
            time.sleep(0.02)

        assert_invalid_api_key(http.get(VERSION_LATEST, headers={"X-API-Key": old}))
        assert http.get(VERSION_LATEST, headers={"X-API-Key": new}).status_code == 200
