"""Events of the License API's hot paths (activations, sessions) and of staff acting on them.

Recorded when an endpoint wants them, in the change's own transaction; the refusals, whose
transaction rolls back, in a write of their own after it; nothing at all when no one subscribes.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from licenseserver.api.app import sweep_once
from licenseserver.domain.licensing.staff_devices import deactivate_device, register_device
from licenseserver.domain.licensing.staff_sessions import end_session_by_staff
from tests.api.helpers import activate, end_session, heartbeat, live_session, start_session, verify
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, on_orm, only_event, subscribe

SESSION_FIELDS = {
    "session_id",
    "license_id",
    "license_key",
    "customer_id",
    "hardware_hash",
    "machine_id",
    "app_version",
    "started_at",
}
ENDED_FIELDS = SESSION_FIELDS | {"ended_at", "end_reason", "duration_seconds"}


def _ids(world: TestWorld, key: str) -> tuple[int, int]:
    row = world.rows("SELECT id, customer_id FROM licenses WHERE license_key = :k", k=key)[0]
    return int(row["id"]), int(row["customer_id"])


def _session_id(world: TestWorld, token: str) -> int:
    return int(world.scalar("SELECT id FROM sessions WHERE session_token = :t", t=token))


def test_activation_created_once_per_new_device(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "activation.created")
    key = world.license(max_activations=2)
    response = activate(api, key, "hw-a", "OFFICE-PC", "1.2.0")
    assert response.status_code == 200
    activate(api, key, "hw-a", "OFFICE-PC", "1.2.0")  # the same device again: refreshed, not new
    data = only_event(world, "activation.created")
    license_id, customer_id = _ids(world, key)
    assert data == {
        "activation_id": response.json()["activation"]["id"],
        "license_id": license_id,
        "license_key": key,
        "customer_id": customer_id,
        "hardware_hash": "hw-a",
        "machine_name": "OFFICE-PC",
        "app_version": "1.2.0",
        "activated_at": response.json()["activation"]["activated_at"],
    }


def test_activation_refused_at_the_limit_is_recorded_after_the_rollback(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "activation.created", "activation.refused")
    key = world.license(max_activations=1)
    assert activate(api, key, "hw-a").status_code == 200
    assert activate(api, key, "hw-b", "LAPTOP", "1.0.0").status_code == 409
    assert activate(api, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "hw-c").status_code == 404  # not a limit refusal: nothing
    assert len(events(world, "activation.created")) == 1  # the refused device left no activation event
    license_id, customer_id = _ids(world, key)
    assert only_event(world, "activation.refused") == {
        "license_id": license_id,
        "license_key": key,
        "customer_id": customer_id,
        "hardware_hash": "hw-b",
        "machine_name": "LAPTOP",
        "app_version": "1.0.0",
        "max_activations": 1,
        "reason": "ACTIVATION_LIMIT_REACHED",
    }
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1


def test_staff_register_and_deactivate_a_device(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "activation.created", "activation.deactivated", "session.ended")
    key = world.license(max_activations=2)
    license_id, customer_id = _ids(world, key)
    outcome = on_orm(world, lambda s: register_device(s, license_id, "hw-staff", "FRONT-DESK", None))
    created = only_event(world, "activation.created")
    assert (created["activation_id"], created["hardware_hash"]) == (outcome.activation["id"], "hw-staff")

    assert start_session(api, key, "hw-staff").status_code == 200
    device_id = int(outcome.activation["id"])
    on_orm(world, lambda s: deactivate_device(s, license_id, device_id))
    deactivated = only_event(world, "activation.deactivated")
    assert deactivated["activation_id"] == device_id
    assert (deactivated["license_key"], deactivated["customer_id"]) == (key, customer_id)
    assert (deactivated["hardware_hash"], deactivated["machine_name"]) == ("hw-staff", "FRONT-DESK")
    assert deactivated["deactivated_by"] == "staff"
    ended = only_event(world, "session.ended")  # the device's session ended with it
    assert (ended["end_reason"], ended["hardware_hash"]) == ("admin", "hw-staff")


def test_session_started_refused_and_ended_by_the_client(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "session.started", "session.refused", "session.ended")
    key, token = live_session(world, api, "hw-a", max_activations=2)
    assert activate(api, key, "hw-b").status_code == 200
    assert start_session(api, key, "hw-b", machine_id="SECOND-PC").status_code == 409
    assert end_session(api, token).status_code == 200
    assert end_session(api, token).status_code == 200  # ending again tells nothing new

    license_id, customer_id = _ids(world, key)
    sid = _session_id(world, token)
    started = only_event(world, "session.started")
    assert set(started) == SESSION_FIELDS
    assert started["session_id"] == sid and started["license_key"] == key and started["hardware_hash"] == "hw-a"
    assert "session_token" not in started and token not in str(events(world))
    assert only_event(world, "session.refused") == {
        "license_id": license_id,
        "license_key": key,
        "customer_id": customer_id,
        "hardware_hash": "hw-b",
        "machine_id": "SECOND-PC",
        "app_version": "1.0.0",
        "held_by_session_id": sid,
        "reason": "SESSION_CONFLICT",
    }
    ended = only_event(world, "session.ended")
    assert set(ended) == ENDED_FIELDS
    assert (ended["session_id"], ended["end_reason"], ended["customer_id"]) == (sid, "normal", customer_id)


def test_session_ended_by_staff_and_by_timeout(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "session.ended")
    _, staff_token = live_session(world, api, "hw-staff")
    on_orm(world, lambda s: end_session_by_staff(s, _session_id(world, staff_token)))

    _, swept_token = live_session(world, api, "hw-swept")
    world.age_session(swept_token, 600)  # silent past the 90 s timeout
    assert api.portal is not None
    assert api.portal.call(sweep_once, api.app.state.api) == 1  # type: ignore[attr-defined]

    key, replaced_token = live_session(world, api, "hw-first", max_activations=2)
    world.age_session(replaced_token, 600)
    assert activate(api, key, "hw-second").status_code == 200
    assert start_session(api, key, "hw-second").status_code == 200  # ends the silent one first

    told = {e["data"]["session_id"]: e["data"]["end_reason"] for e in events(world, "session.ended")}
    assert told == {
        _session_id(world, staff_token): "admin",
        _session_id(world, swept_token): "timeout",
        _session_id(world, replaced_token): "timeout",
    }


def _hot_path_calls(world: TestWorld, api: TestClient) -> dict[str, Any]:
    key = world.license(max_activations=1)
    assert activate(api, key, "hw-a").status_code == 200
    assert activate(api, key, "hw-b").status_code == 409
    assert verify(api, key, "hw-a").json()["valid"] is True
    token = start_session(api, key, "hw-a").json()["session_token"]
    assert start_session(api, key, "hw-a").status_code == 409
    assert heartbeat(api, token, key).status_code == 200
    assert end_session(api, token).status_code == 200
    return {"key": key, "token": token}


def test_hot_paths_write_nothing_when_no_endpoint_subscribes(world: TestWorld, api: TestClient) -> None:
    subscribe(world, "lead.created", "license.updated")
    subscribe(world, "activation.created", "session.started", enabled=False)
    _hot_path_calls(world, api)
    assert events(world) == []


def test_verify_and_heartbeat_write_nothing_even_when_everything_is_wanted(world: TestWorld, api: TestClient) -> None:
    key, token = live_session(world, api, "hw-a")
    subscribe(world)
    before = len(events(world))
    for _ in range(3):
        assert verify(api, key, "hw-a").json()["valid"] is True
        assert heartbeat(api, token, key).status_code == 200
    assert verify(api, key, "hw-unknown").json()["valid"] is False
    assert len(events(world)) == before
