"""POST /api/version/check and GET /api/version/latest (CONTRACT.md §5 "versions")."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.testclient import TestClient

from tests.api.helpers import VERSION_CHECK, VERSION_LATEST, add_release, assert_error, remove_client
from tests.support.world import TestWorld

CHECK_KEYS = {"update_available", "latest_version", "download_url", "release_notes", "update_required"}


def test_check_when_up_to_date(world: TestWorld, api: TestClient) -> None:
    response = api.post(VERSION_CHECK, json={"current_version": "1.0.0"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "update_available": False,
        "latest_version": "1.0.0",
        "download_url": "https://downloads.example.test/1.0.0",
        "release_notes": "Initial release",
        "update_required": False,
    }


def test_check_compares_versions_as_versions(world: TestWorld, api: TestClient) -> None:
    add_release(world, "1.9.0", date(2025, 9, 1))
    add_release(world, "1.10.0", date(2025, 8, 1), "https://downloads.example.test/v1.10.0", "Bug fixes")
    cases = [("0.9", True), ("1.0.0", True), ("1.9.0", True), ("1.9.99", True), ("1.10.0", False), ("1.10.1", False)]

    for current, update_available in cases:
        body = api.post(VERSION_CHECK, json={"current_version": current}).json()

        assert set(body) == CHECK_KEYS
        assert body["update_available"] is update_available, current
        assert body["latest_version"] == "1.10.0"
        assert body["download_url"] == "https://downloads.example.test/v1.10.0"
        assert body["release_notes"] == "Bug fixes"


def test_update_required_below_the_minimum_version(world: TestWorld, api: TestClient) -> None:
    world.execute("UPDATE client_configs SET minimum_version = '1.5.0' WHERE id = 1")
    add_release(world, "2.0.0")

    for current, required in [("1.4.0", True), ("1.4.99", True), ("1.5.0", False), ("2.0", False)]:
        body = api.post(VERSION_CHECK, json={"current_version": current}).json()
        assert body["update_required"] is required, current
        assert body["update_available"] is (current != "2.0"), current  # 2.0 == 2.0.0


def test_check_accepts_an_optional_license_key(world: TestWorld, api: TestClient) -> None:
    key = world.license()

    for sent in (key, key.lower(), "AAAA-BBBB-CCCC-DDDD"):
        response = api.post(VERSION_CHECK, json={"current_version": "1.0.0", "license_key": sent})
        assert response.status_code == 200, sent
        assert set(response.json()) == CHECK_KEYS


def test_malformed_check_is_400(world: TestWorld, api: TestClient) -> None:
    payloads: list[Any] = [
        {},
        {"current_version": "latest"},
        {"current_version": ""},
        {"current_version": 1},
        {"current_version": "1.0.0", "license_key": "nope"},
        [],
    ]
    for payload in payloads:
        body = assert_error(api.post(VERSION_CHECK, json=payload), 400, "VALIDATION_ERROR")
        assert body["details"], payload


def test_latest_is_the_highest_version_not_the_newest_date(world: TestWorld, api: TestClient) -> None:
    add_release(world, "1.10.0", date(2025, 8, 1), "https://downloads.example.test/v1.10.0", "Ten")
    add_release(world, "1.9.0", date(2025, 9, 1), "https://downloads.example.test/v1.9.0", "Nine")

    response = api.get(VERSION_LATEST)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "version": "1.10.0",
        "release_date": "2025-08-01",
        "download_url": "https://downloads.example.test/v1.10.0",
        "release_notes": "Ten",
    }


def test_latest_follows_the_release_history(world: TestWorld, api: TestClient) -> None:
    assert api.get(VERSION_LATEST).json()["version"] == "1.0.0"

    add_release(world, "1.1.0", date(2025, 6, 20))

    assert api.get(VERSION_LATEST).json()["version"] == "1.1.0"
    assert api.post(VERSION_CHECK, json={"current_version": "1.0.0"}).json()["update_available"] is True
    assert world.scalar("SELECT COUNT(*) FROM client_releases") == 2  # history kept


def test_latest_without_any_release_is_404(world: TestWorld, api: TestClient) -> None:
    world.execute("DELETE FROM client_releases")

    assert_error(api.get(VERSION_LATEST), 404, "NOT_FOUND")
    body = api.post(VERSION_CHECK, json={"current_version": "1.0.0"}).json()
    assert body["update_available"] is False
    assert body["latest_version"] is None


def test_without_a_configured_client_versions_answer_503(world: TestWorld, api: TestClient) -> None:
    remove_client(world)

    assert_error(api.get(VERSION_LATEST), 503, "CLIENT_NOT_CONFIGURED")
    assert_error(api.post(VERSION_CHECK, json={"current_version": "1.0.0"}), 503, "CLIENT_NOT_CONFIGURED")
