"""Devices, sessions, resources and leads through the management API, on both databases: the
panel's rules (the client's statements under the license lock, the pool's all-or-none
allocation), each change audited with the token's name."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.resources.service import add_resources
from tests.api.helpers import activate, assert_error, start_session, verify
from tests.management.conftest import Management, audit_rows
from tests.support.world import TestWorld


def _license_id(world: TestWorld, key: str) -> int:
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def _add_pool(world: TestWorld, resource_type: str, *identifiers: str) -> list[int]:
    return run_in_orm_transaction(
        world.database_url, lambda session: add_resources(session, resource_type, list(identifiers), "test")
    )


def test_devices_listed_and_deactivated(
    world: TestWorld, shop: Management, reader: Management, api: TestClient
) -> None:
    key = world.license(max_activations=2)
    license_id = _license_id(world, key)
    activate(api, key, "hw-1")
    activate(api, key, "hw-2")
    token = start_session(api, key, "hw-1").json()["session_token"]
    devices = reader.ok("GET", f"/licenses/{license_id}/devices")["items"]
    assert [(d["hardware_hash"], d["is_active"]) for d in devices] == [("hw-1", True), ("hw-2", True)]
    device_id = devices[0]["id"]
    assert_error(reader.post(f"/licenses/{license_id}/devices/{device_id}/deactivate"), 403, "INSUFFICIENT_SCOPE")

    done = shop.ok("POST", f"/licenses/{license_id}/devices/{device_id}/deactivate")
    assert done["is_active"] is False and isinstance(done["ended_session_id"], int)
    assert verify(api, key, "hw-1").json()["code"] == "DEVICE_NOT_ACTIVATED"
    assert world.scalar("SELECT end_reason FROM sessions WHERE session_token = :t", t=token) == "admin"
    assert_error(shop.post(f"/licenses/{license_id}/devices/{device_id}/deactivate"), 409, "CONFLICT")
    assert_error(shop.post(f"/licenses/{license_id}/devices/999999/deactivate"), 404, "DEVICE_NOT_FOUND")
    assert_error(shop.get("/licenses/999999/devices"), 404, "LICENSE_NOT_FOUND")
    [entry] = audit_rows(world, "device")
    assert (entry["actor"], entry["action"], entry["entity_id"]) == ("token:shop", "device_deactivate", str(device_id))
    # The freed place is usable again: the activation limit counts active devices.
    assert activate(api, key, "hw-3").status_code == 200


def test_live_sessions_listed_and_ended(world: TestWorld, shop: Management, api: TestClient) -> None:
    keys = [world.license() for _ in range(3)]
    for key in keys:
        activate(api, key, "hw-1")
        assert start_session(api, key, "hw-1").status_code == 200
    page = shop.ok("GET", "/sessions", params={"per_page": 2})
    assert (len(page["items"]), page["has_next"], page["total"]) == (2, True, 3)
    assert all(s["live"] for s in page["items"])
    session_id = page["items"][0]["id"]
    ended = shop.ok("POST", f"/sessions/{session_id}/end")
    assert ended["end_reason"] == "admin" and ended["session_id"] == session_id
    assert shop.ok("GET", "/sessions")["total"] == 2
    assert_error(shop.post(f"/sessions/{session_id}/end"), 409, "CONFLICT")
    assert_error(shop.post("/sessions/999999/end"), 404, "SESSION_NOT_FOUND")
    [entry] = audit_rows(world, "session")
    assert (entry["actor"], entry["action"]) == ("token:shop", "session_end")
    assert json.loads(entry["after"])["end_reason"] == "admin"


def test_resources_listed_allocated_and_released(world: TestWorld, shop: Management) -> None:
    ids = _add_pool(world, "ipv4", "203.0.113.10", "203.0.113.11", "203.0.113.12")
    license_id = _license_id(world, world.license())
    pool = shop.ok("GET", "/resources", params={"type": "ipv4"})
    assert [r["identifier"] for r in pool["items"]] == ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
    assert pool["total"] == 3

    by_id = shop.ok("POST", f"/licenses/{license_id}/resources", json={"resource_ids": [ids[0]]})
    assert [(r["id"], r["status"], r["license_id"]) for r in by_id["items"]] == [(ids[0], "allocated", license_id)]
    by_type = shop.ok("POST", f"/licenses/{license_id}/resources", json={"resource_type": "ipv4", "count": 1})
    assert [r["id"] for r in by_type["items"]] == [ids[1]]
    # All or none: two asked, one free.
    assert_error(
        shop.post(f"/licenses/{license_id}/resources", json={"resource_type": "ipv4", "count": 2}),
        409,
        "RESOURCE_NOT_AVAILABLE",
    )
    assert_error(
        shop.post(f"/licenses/{license_id}/resources", json={"resource_ids": [ids[0]]}), 409, "RESOURCE_NOT_AVAILABLE"
    )
    assert_error(shop.post(f"/licenses/{license_id}/resources", json={"count": 1}), 400, "VALIDATION_ERROR")
    assert_error(
        shop.post(f"/licenses/{license_id}/resources", json={"resource_ids": [1], "x": 1}), 400, "VALIDATION_ERROR"
    )
    assert_error(shop.post("/licenses/999999/resources", json={"resource_ids": [ids[2]]}), 404, "LICENSE_NOT_FOUND")
    held = shop.ok("GET", f"/licenses/{license_id}/resources")["items"]
    assert sorted(r["id"] for r in held) == ids[:2]
    assert shop.ok("GET", "/resources", params={"status": "available"})["total"] == 1

    released = shop.ok("POST", f"/resources/{ids[0]}/release")
    assert (released["status"], released["license_id"]) == ("available", None)
    assert_error(shop.post(f"/resources/{ids[0]}/release"), 409, "CONFLICT")
    assert_error(shop.post("/resources/999999/release"), 404, "RESOURCE_NOT_FOUND")
    history = world.rows("SELECT action, actor FROM resource_history WHERE resource_id = :i ORDER BY id", i=ids[0])
    assert history[1:] == [
        {"action": "allocated", "actor": "token:shop"},
        {"action": "released", "actor": "token:shop"},
    ]
    assert [(e["actor"], e["action"]) for e in audit_rows(world, "license")] == [
        ("token:shop", "resource_allocate"),
        ("token:shop", "resource_allocate"),
    ]
    assert [(e["actor"], e["action"]) for e in audit_rows(world, "resource")] == [("token:shop", "resource_release")]


def test_leads_created_and_listed(world: TestWorld, shop: Management, reader: Management) -> None:
    customer_id = world.customer()
    made = shop.ok("POST", "/leads/institutions", 201, json={"name": "Hochschule Musterstadt", "type": "university"})
    assert (made["name"], made["type"], made["customer_id"], made["contact_count"]) == (
        "Hochschule Musterstadt",
        "university",
        None,
        0,
    )
    shop.ok("POST", "/leads/institutions", 201, json={"name": "ACME Labor", "customer_id": customer_id})
    contact = shop.ok(
        "POST",
        "/leads/contacts",
        201,
        json={"institution_id": made["id"], "first_name": "Erika", "last_name": "Mustermann", "position": "IT"},
    )
    assert (contact["first_name"], contact["institution_id"]) == ("Erika", made["id"])

    listed = reader.ok("GET", "/leads/institutions")
    assert [(i["name"], i["contact_count"]) for i in listed["items"]] == [
        ("ACME Labor", 0),
        ("Hochschule Musterstadt", 1),
    ]
    assert [i["name"] for i in reader.ok("GET", "/leads/institutions", params={"q": "muster"})["items"]] == [
        "Hochschule Musterstadt"
    ]
    assert reader.ok("GET", "/leads/institutions", params={"type": "university"})["total"] == 1
    contacts = reader.ok("GET", f"/leads/institutions/{made['id']}/contacts")["items"]
    assert [c["last_name"] for c in contacts] == ["Mustermann"]

    assert_error(
        shop.post("/leads/institutions", json={"name": "X", "customer_id": 999_999}), 404, "CUSTOMER_NOT_FOUND"
    )
    assert_error(shop.post("/leads/institutions", json={"name": "X", "size": 3}), 400, "VALIDATION_ERROR")
    assert_error(
        shop.post("/leads/contacts", json={"institution_id": 999_999, "first_name": "A", "last_name": "B"}),
        404,
        "NOT_FOUND",
    )
    assert_error(reader.get("/leads/institutions/999999/contacts"), 404, "NOT_FOUND")
    assert_error(reader.post("/leads/institutions", json={"name": "X"}), 403, "INSUFFICIENT_SCOPE")
    actors = [
        (e["actor"], e["action"]) for e in audit_rows(world, "lead_institution") + audit_rows(world, "lead_contact")
    ]
    assert actors == [("token:shop", "create")] * 3
