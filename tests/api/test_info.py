"""GET /api/license/info/{license_key} (CONTRACT.md §5 "info")."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.helpers import INFO, activate, assert_error, days, parse_utc
from tests.support.world import TestWorld

LICENSE_KEYS = {
    "id",
    "key",
    "customer_name",
    "type",
    "valid_from",
    "valid_until",
    "max_activations",
    "max_users",
    "is_active",
}
REFERENCE_ACTIVATION_KEYS = {"id", "hardware_hash", "machine_name", "activated_at", "last_heartbeat", "is_active"}


def test_info_has_the_reference_shape(world: TestWorld, api: TestClient) -> None:
    customer = world.customer("Globex GmbH", "it@globex.example")
    key = world.license(
        customer_id=customer,
        license_type="subscription",
        valid_from=days(-5),
        valid_until=days(360),
        max_activations=5,
        max_users=10,
    )
    activation_id = activate(api, key, "hw-1", "DESKTOP-ABC123").json()["activation"]["id"]

    response = api.get(INFO.format(key=key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"license", "activations"}
    license_id = world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key)
    assert body["license"] == {
        "id": license_id,
        "key": key,
        "customer_name": "Globex GmbH",
        "type": "subscription",
        "valid_from": days(-5).isoformat(),
        "valid_until": days(360).isoformat(),
        "max_activations": 5,
        "max_users": 10,
        "is_active": True,
    }
    [activation] = body["activations"]
    assert set(activation) >= REFERENCE_ACTIVATION_KEYS
    assert activation["id"] == activation_id
    assert activation["hardware_hash"] == "hw-1"
    assert activation["machine_name"] == "DESKTOP-ABC123"
    assert activation["is_active"] is True
    parse_utc(activation["activated_at"])
    parse_utc(activation["last_heartbeat"])


def test_info_lists_every_activation_including_deactivated_history(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=3)
    ids = [activate(api, key, hw).json()["activation"]["id"] for hw in ("hw-a", "hw-b", "hw-c")]
    world.execute("UPDATE activations SET is_active = FALSE WHERE id = :i", i=ids[1])

    activations = api.get(INFO.format(key=key)).json()["activations"]

    assert [(a["id"], a["hardware_hash"], a["is_active"]) for a in activations] == [
        (ids[0], "hw-a", True),
        (ids[1], "hw-b", False),
        (ids[2], "hw-c", True),
    ]


def test_info_shows_only_this_license(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    other = world.license()
    activate(api, other, "hw-other")

    body = api.get(INFO.format(key=key)).json()

    assert body["license"]["key"] == key
    assert body["activations"] == []


def test_info_of_an_inactive_or_expired_license_still_answers(world: TestWorld, api: TestClient) -> None:
    inactive = world.license(is_active=False)
    expired = world.license(valid_from=days(-30), valid_until=days(-1))

    assert api.get(INFO.format(key=inactive)).json()["license"]["is_active"] is False
    assert api.get(INFO.format(key=expired)).json()["license"]["valid_until"] == days(-1).isoformat()


def test_license_without_end_has_null_valid_until(world: TestWorld, api: TestClient) -> None:
    key = world.license(valid_until=None)

    assert api.get(INFO.format(key=key)).json()["license"]["valid_until"] is None


def test_lower_case_key_in_the_path_is_normalised(world: TestWorld, api: TestClient) -> None:
    key = world.license()

    response = api.get(INFO.format(key=key.lower()))

    assert response.status_code == 200
    assert response.json()["license"]["key"] == key


def test_unknown_key_is_404(world: TestWorld, api: TestClient) -> None:
    world.license()

    assert_error(api.get(INFO.format(key="AAAA-BBBB-CCCC-DDDD")), 404, "LICENSE_NOT_FOUND")


def test_malformed_key_is_400(world: TestWorld, api: TestClient) -> None:
    assert_error(api.get(INFO.format(key="not-a-license-key")), 400, "VALIDATION_ERROR")
    assert_error(api.get(INFO.format(key="A" * 200)), 400, "VALIDATION_ERROR")


def test_info_writes_nothing(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    activate(api, key, "hw-1")
    before = world.snapshot()

    assert api.get(INFO.format(key=key)).status_code == 200
    assert world.snapshot() == before
