"""A license's devices through the panel's JSON endpoints: listed, registered by the License
API's own activation rule, deactivated (with the device's live session ended)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.admin.pool_support import audit, new_license
from tests.api.helpers import ISO_UTC, activate, assert_error, days, heartbeat, start_session, verify
from tests.conftest import make_client
from tests.support.world import TestWorld

DEVICE_KEYS = {"id", "hardware_hash", "machine_name", "activated_at", "last_heartbeat", "is_active", "app_version"}
REGISTER = "/api/license/{}/register-device"
DEACTIVATE = "/api/license/{}/deactivate-device/{}"
DEVICES = "/api/license/{}/devices"


def register(client: TestClient, lid: int, hardware_hash: str = "hw-1", **extra: str) -> int:
    body = {"hardware_hash": hardware_hash, "machine_name": "DESKTOP-XYZ789", "app_version": "1.0.0", **extra}
    response = client.post(REGISTER.format(lid), json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["device_id"])


# ---- list ----------------------------------------------------------------------------------


def test_devices_list_has_the_reference_shape(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world, max_activations=3)
    with make_client(world) as api:
        assert activate(api, key, "hw-a", "PC-A", "1.0.0").status_code == 200
    second = register(staff_panel, lid, "hw-b")
    staff_panel.post(DEACTIVATE.format(lid, second))
    response = staff_panel.get(DEVICES.format(lid))
    assert response.status_code == 200
    devices = response.json()["devices"]
    assert [set(d) for d in devices] == [DEVICE_KEYS, DEVICE_KEYS]
    first = devices[0]
    assert (first["hardware_hash"], first["machine_name"], first["app_version"]) == ("hw-a", "PC-A", "1.0.0")
    assert first["is_active"] is True and devices[1]["is_active"] is False
    assert ISO_UTC.match(first["activated_at"]) and ISO_UTC.match(first["last_heartbeat"])


def test_devices_of_an_unknown_license_is_404(staff_panel: TestClient) -> None:
    assert_error(staff_panel.get(DEVICES.format(999_999)), 404, "LICENSE_NOT_FOUND")


def test_devices_need_a_login(world: TestWorld, panel: TestClient) -> None:
    _, lid = new_license(world)
    assert_error(panel.get(DEVICES.format(lid)), 401, "NOT_AUTHENTICATED")


# ---- register ------------------------------------------------------------------------------


def test_register_device_answers_the_reference_shape_and_is_audited(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world, max_activations=2)
    response = staff_panel.post(
        REGISTER.format(lid), json={"hardware_hash": "hw-1", "machine_name": "DESKTOP-XYZ789", "app_version": "1.0.0"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body == {"success": True, "device_id": body["device_id"], "message": "Device registered successfully"}
    row = world.rows("SELECT license_id, hardware_hash, is_active FROM activations WHERE id = :i", i=body["device_id"])
    assert row == [{"license_id": lid, "hardware_hash": "hw-1", "is_active": True}]
    # The device now runs the license like one the client activated itself.
    with make_client(world) as api:
        assert verify(api, key, "hw-1").json()["valid"] is True
    [entry] = audit(world, "device_register")
    assert (entry["actor"], entry["entity_type"], entry["entity_id"]) == ("rac00n", "device", str(body["device_id"]))
    assert entry["after"]["license_id"] == lid and entry["after"]["already_active"] is False


def test_register_meets_the_clients_activation_limit(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world, max_activations=1)
    with make_client(world) as api:
        assert activate(api, key, "hw-client").status_code == 200
    before = world.snapshot()
    response = staff_panel.post(REGISTER.format(lid), json={"hardware_hash": "hw-staff"})
    assert_error(response, 409, "ACTIVATION_LIMIT_REACHED")
    assert world.snapshot() == before


def test_registering_an_active_device_again_refreshes_it(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world, max_activations=1)
    first = register(staff_panel, lid, "hw-1")
    again = register(staff_panel, lid, "hw-1", machine_name="RENAMED", app_version="1.2.0")
    assert again == first
    row = world.rows("SELECT machine_name, app_version FROM activations WHERE id = :i", i=first)[0]
    assert row == {"machine_name": "RENAMED", "app_version": "1.2.0"}
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1


UNUSABLE = [
    ({"is_active": False}, "LICENSE_INACTIVE"),
    ({"valid_from": days(-30), "valid_until": days(-1)}, "LICENSE_EXPIRED"),
    ({"valid_from": days(5)}, "LICENSE_NOT_YET_VALID"),
]
BAD_BODIES = [
    b"{not json",
    b"[]",
    b"{}",
    b'{"hardware_hash": ""}',
    b'{"hardware_hash": 5}',
    b'{"hardware_hash": "hw", "app_version": "not-a-version"}',
    b'{"hardware_hash": "hw", "machine_name": "' + b"x" * 256 + b'"}',
    b'{"hardware_hash": "' + b"h" * 257 + b'"}',
    b'{"hardware_hash": "hw\\u0000"}',
    b'{"hardware_hash": "hw", "is_admin": true}',
]


def test_register_on_an_unusable_license_is_refused_like_a_client(world: TestWorld, staff_panel: TestClient) -> None:
    """Staff get no exception from the client's rules (a decision: one rule for everybody)."""
    lids = [new_license(world, **values)[1] for values, _ in UNUSABLE]
    before = world.snapshot()
    for lid, (_, code) in zip(lids, UNUSABLE, strict=True):
        assert_error(staff_panel.post(REGISTER.format(lid), json={"hardware_hash": "hw-1"}), 403, code)
    assert world.snapshot() == before


def test_register_with_bad_input_is_400_and_changes_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    before = world.snapshot()
    for body in BAD_BODIES:
        response = staff_panel.post(REGISTER.format(lid), content=body, headers={"content-type": "application/json"})
        assert_error(response, 400, "VALIDATION_ERROR")
    assert world.snapshot() == before


def test_register_on_an_unknown_license_is_404(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    assert_error(staff_panel.post(REGISTER.format(999_999), json={"hardware_hash": "hw"}), 404, "LICENSE_NOT_FOUND")
    assert_error(staff_panel.post(REGISTER.format(0), json={"hardware_hash": "hw"}), 400, "VALIDATION_ERROR")
    assert world.snapshot() == before


def test_register_needs_login_and_csrf(world: TestWorld, panel: TestClient) -> None:
    _, lid = new_license(world)
    assert_error(panel.post(REGISTER.format(lid), json={"hardware_hash": "hw"}), 401, "NOT_AUTHENTICATED")


def test_register_without_csrf_is_403(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    assert_error(staff_panel.post(REGISTER.format(lid), json={"hardware_hash": "hw"}), 403, "CSRF_FAILED")
    assert world.snapshot() == before


# ---- deactivate ----------------------------------------------------------------------------


def test_deactivate_answers_the_reference_shape_frees_the_slot_and_is_audited(
    world: TestWorld, staff_panel: TestClient
) -> None:
    key, lid = new_license(world, max_activations=1)
    device = register(staff_panel, lid, "hw-old")
    response = staff_panel.post(DEACTIVATE.format(lid, device))
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Device deactivated successfully"}
    row = world.rows("SELECT is_active, deactivated_at FROM activations WHERE id = :i", i=device)[0]
    assert row["is_active"] in (False, 0) and row["deactivated_at"] is not None
    with make_client(world) as api:
        assert verify(api, key, "hw-old").json()["valid"] is False
        assert activate(api, key, "hw-new").status_code == 200  # the slot is free again
    [entry] = audit(world, "device_deactivate")
    assert entry["entity_id"] == str(device) and entry["before"]["is_active"] is True
    assert entry["after"] == {"is_active": False, "ended_session_id": None}


def test_deactivating_ends_the_devices_live_session(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world, max_activations=2)
    with make_client(world) as api:
        assert activate(api, key, "hw-1").status_code == 200
        token = start_session(api, key, "hw-1").json()["session_token"]
        device = world.scalar("SELECT id FROM activations WHERE hardware_hash = 'hw-1'")
        assert staff_panel.post(DEACTIVATE.format(lid, device)).status_code == 200
        assert_error(heartbeat(api, token, key), 404, "SESSION_NOT_FOUND")
        assert_error(start_session(api, key, "hw-1"), 403, "DEVICE_NOT_ACTIVATED")
    ended = world.rows("SELECT id, end_reason, ended_at FROM sessions WHERE session_token = :t", t=token)[0]
    assert ended["end_reason"] == "admin" and ended["ended_at"] is not None
    assert audit(world, "device_deactivate")[0]["after"]["ended_session_id"] == ended["id"]


def test_deactivating_another_device_leaves_the_session_alone(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(world, max_activations=2)
    with make_client(world) as api:
        activate(api, key, "hw-1")
        activate(api, key, "hw-2")
        token = start_session(api, key, "hw-1").json()["session_token"]
        other = world.scalar("SELECT id FROM activations WHERE hardware_hash = 'hw-2'")
        assert staff_panel.post(DEACTIVATE.format(lid, other)).status_code == 200
        assert heartbeat(api, token, key).status_code == 200


def test_deactivate_unknown_foreign_or_inactive_device(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    _, other_lid = new_license(world)
    foreign = register(staff_panel, other_lid, "hw-foreign")
    own = register(staff_panel, lid, "hw-own")
    assert staff_panel.post(DEACTIVATE.format(lid, own)).status_code == 200
    before = world.snapshot()
    assert_error(staff_panel.post(DEACTIVATE.format(lid, 999_999)), 404, "DEVICE_NOT_FOUND")
    assert_error(staff_panel.post(DEACTIVATE.format(lid, foreign)), 404, "DEVICE_NOT_FOUND")
    assert_error(staff_panel.post(DEACTIVATE.format(999_999, own)), 404, "LICENSE_NOT_FOUND")
    assert_error(staff_panel.post(DEACTIVATE.format(lid, own)), 409, "CONFLICT")
    assert_error(staff_panel.post(DEACTIVATE.format(lid, "abc")), 400, "VALIDATION_ERROR")
    assert world.snapshot() == before


def test_deactivate_needs_login_and_csrf(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    device = register(staff_panel, lid)
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    assert_error(staff_panel.post(DEACTIVATE.format(lid, device)), 403, "CSRF_FAILED")
    staff_panel.cookies.clear()
    assert_error(staff_panel.post(DEACTIVATE.format(lid, device)), 401, "NOT_AUTHENTICATED")
    assert world.snapshot() == before
