"""Licenses through the management API, on both databases: created, listed, read with their
devices and live session, changed, switched and deleted by the panel's own services, with the
panel's refusals and audit entries (actor `token:<name>`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from tests.admin.conftest import log_in, make_staff
from tests.api.helpers import ISO_UTC, activate, assert_error, days, start_session, today
from tests.management.conftest import Management, audit_rows
from tests.support.world import TestWorld

KEY_FORMAT = r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$"


@pytest.fixture
def staff_panel(world: TestWorld) -> Iterator[TestClient]:
    app = create_admin_app(world.settings(secret_key="test-secret-key-for-the-panel"))
    with TestClient(app, raise_server_exceptions=False, base_url="http://testserver") as panel:
        make_staff(world)
        panel.headers["X-CSRF-Token"] = log_in(panel)
        yield panel


def _license_id(world: TestWorld, key: str) -> int:
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def test_create_with_a_generated_key_and_read_it_back(world: TestWorld, shop: Management) -> None:
    customer_id = world.customer()
    body = {
        "customer_id": customer_id,
        "license_type": "subscription",
        "valid_until": str(days(365)),
        "max_activations": 3,
    }
    created = shop.ok("POST", "/licenses", 201, json=body)
    assert re.match(KEY_FORMAT, created["license_key"])
    assert created["customer_id"] == customer_id
    assert (created["license_type"], created["valid_from"], created["valid_until"]) == (
        "subscription",
        str(today()),
        str(days(365)),
    )
    assert (created["max_activations"], created["max_users"], created["is_active"]) == (3, 1, True)
    assert created["state"] == "active" and ISO_UTC.match(created["created_at"])
    detail = shop.ok("GET", f"/licenses/{created['id']}")
    assert {k: detail[k] for k in created} == created
    assert (detail["active_devices"], detail["devices"], detail["live_session"]) == (0, [], None)
    [entry] = audit_rows(world, "license")
    assert (entry["actor"], entry["action"], entry["entity_id"]) == ("token:shop", "create", str(created["id"]))
    assert json.loads(entry["after"])["license_key"] == created["license_key"]


def test_create_with_a_given_key_is_checked(world: TestWorld, shop: Management) -> None:
    customer_id = world.customer()
    given = shop.ok("POST", "/licenses", 201, json={"customer_id": customer_id, "license_key": "abcd-efgh-2345-6789"})
    assert given["license_key"] == "ABCD-EFGH-2345-6789"
    taken = assert_error(
        shop.post("/licenses", json={"customer_id": customer_id, "license_key": "ABCD-EFGH-2345-6789"}), 409, "CONFLICT"
    )
    assert "ABCD-EFGH-2345-6789" in taken["error"]
    assert_error(
        shop.post("/licenses", json={"customer_id": customer_id, "license_key": "short"}), 400, "VALIDATION_ERROR"
    )
    assert_error(shop.post("/licenses", json={"customer_id": 999_999}), 404, "CUSTOMER_NOT_FOUND")
    refused = assert_error(
        shop.post("/licenses", json={"customer_id": customer_id, "seats": 5, "price": 9}), 400, "VALIDATION_ERROR"
    )
    assert {d["field"] for d in refused["details"]} == {"seats", "price"}
    assert_error(
        shop.post(
            "/licenses", json={"customer_id": customer_id, "valid_from": "2026-02-01", "valid_until": "2026-01-01"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 1


def test_list_filters_and_pages(world: TestWorld, shop: Management) -> None:
    first, second = world.customer("Erste AG", "a@erste.example"), world.customer("Zweite AG", "b@zweite.example")
    world.license(customer_id=first, license_type="trial")
    world.license(customer_id=first, is_active=False)
    world.license(customer_id=second, valid_from=days(-30), valid_until=days(-1))
    world.license(customer_id=second, license_type="subscription")
    everything = shop.ok("GET", "/licenses")
    assert len(everything["items"]) == 4 and everything["total"] == 4
    assert everything["items"][0]["id"] > everything["items"][-1]["id"]  # newest first, as the panel lists
    assert {i["customer_name"] for i in shop.ok("GET", "/licenses", params={"customer_id": first})["items"]} == {
        "Erste AG"
    }
    assert [i["state"] for i in shop.ok("GET", "/licenses", params={"state": "inactive"})["items"]] == ["inactive"]
    assert [i["state"] for i in shop.ok("GET", "/licenses", params={"state": "expired"})["items"]] == ["expired"]
    assert [i["license_type"] for i in shop.ok("GET", "/licenses", params={"type": "trial"})["items"]] == ["trial"]
    page = shop.ok("GET", "/licenses", params={"per_page": 3})
    assert (len(page["items"]), page["has_next"], page["total"]) == (3, True, None)
    rest = shop.ok("GET", "/licenses", params={"per_page": 3, "page": 2})
    assert (len(rest["items"]), rest["has_next"], rest["total"]) == (1, False, 4)
    assert_error(shop.get("/licenses", params={"state": "sleeping"}), 400, "VALIDATION_ERROR")


def test_detail_shows_devices_and_the_live_session(world: TestWorld, shop: Management, api: TestClient) -> None:
    key = world.license(max_activations=2)
    license_id = _license_id(world, key)
    assert activate(api, key, "hw-1").status_code == 200
    assert activate(api, key, "hw-2").status_code == 200
    assert start_session(api, key, "hw-1").status_code == 200
    detail = shop.ok("GET", f"/licenses/{license_id}")
    assert detail["active_devices"] == 2
    assert [d["hardware_hash"] for d in detail["devices"]] == ["hw-1", "hw-2"]
    live = detail["live_session"]
    assert live["hardware_hash"] == "hw-1" and live["live"] is True and live["license_key"] == key
    assert_error(shop.get("/licenses/999999"), 404, "LICENSE_NOT_FOUND")


def test_update_dates_limits_and_type(world: TestWorld, shop: Management) -> None:
    license_id = _license_id(world, world.license())
    changed = shop.ok(
        "PATCH",
        f"/licenses/{license_id}",
        json={"license_type": "subscription", "valid_until": str(days(30)), "max_activations": 4, "max_users": 2},
    )
    assert (changed["license_type"], changed["valid_until"], changed["max_activations"], changed["max_users"]) == (
        "subscription",
        str(days(30)),
        4,
        2,
    )
    assert shop.ok("PATCH", f"/licenses/{license_id}", json={"valid_until": None})["valid_until"] is None
    entries = audit_rows(world, "license")
    # world.license is not audited; the two updates are.
    assert [(e["actor"], e["action"]) for e in entries] == [("token:shop", "update"), ("token:shop", "update")]
    assert json.loads(entries[0]["before"])["max_activations"] == 1
    assert json.loads(entries[0]["after"])["max_activations"] == 4
    for bad in (
        {"license_key": "ABCD-EFGH-2345-6789"},
        {"is_active": False},
        {"max_activations": 0},
        {"valid_from": None},
    ):
        assert_error(shop.patch(f"/licenses/{license_id}", json=bad), 400, "VALIDATION_ERROR")
    shop.ok("PATCH", f"/licenses/{license_id}", json={"valid_until": str(days(30))})
    # The panel's date rule, against the stored end date.
    assert_error(shop.patch(f"/licenses/{license_id}", json={"valid_from": str(days(60))}), 400, "VALIDATION_ERROR")
    assert_error(shop.patch(f"/licenses/{license_id}", json={"customer_id": 999_999}), 404, "CUSTOMER_NOT_FOUND")
    assert_error(shop.patch("/licenses/999999", json={"max_users": 3}), 404, "LICENSE_NOT_FOUND")
    assert len(audit_rows(world, "license")) == 3


def _answer(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["error"]


def test_lowering_max_activations_below_the_active_devices_is_refused_as_in_the_panel(
    world: TestWorld, shop: Management, api: TestClient, staff_panel: TestClient
) -> None:
    key = world.license(max_activations=3)
    license_id = _license_id(world, key)
    for device in ("hw-1", "hw-2"):
        assert activate(api, key, device).status_code == 200
    through_api = shop.patch(f"/licenses/{license_id}", json={"max_activations": 1})
    through_panel = staff_panel.post(f"/api/license/{license_id}/quick-edit", json={"max_activations": 1})
    assert _answer(through_api) == _answer(through_panel)
    assert _answer(through_api)[:2] == (409, "CONFLICT")
    assert world.scalar("SELECT max_activations FROM licenses WHERE id = :i", i=license_id) == 3
    # Down to the active count is allowed, in both.
    assert shop.ok("PATCH", f"/licenses/{license_id}", json={"max_activations": 2})["max_activations"] == 2
    assert audit_rows(world, "license")[-1]["actor"] == "token:shop"


def test_activate_deactivate_and_delete(world: TestWorld, shop: Management, api: TestClient) -> None:
    key = world.license()
    license_id = _license_id(world, key)
    off = shop.ok("POST", f"/licenses/{license_id}/deactivate")
    assert (off["is_active"], off["state"]) == (False, "inactive")
    assert activate(api, key, "hw-1").json()["code"] == "LICENSE_INACTIVE"
    assert shop.ok("POST", f"/licenses/{license_id}/deactivate")["is_active"] is False  # no change, no entry
    assert shop.ok("POST", f"/licenses/{license_id}/activate")["is_active"] is True
    assert activate(api, key, "hw-1").status_code == 200
    assert [(e["actor"], e["action"]) for e in audit_rows(world, "license")] == [
        ("token:shop", "deactivate"),
        ("token:shop", "activate"),
    ]
    response = shop.delete(f"/licenses/{license_id}")
    assert response.status_code == 204
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 0
    assert world.scalar("SELECT COUNT(*) FROM activations") == 0
    assert audit_rows(world, "license")[-1]["action"] == "delete"
    assert_error(shop.delete(f"/licenses/{license_id}"), 404, "LICENSE_NOT_FOUND")
    assert_error(shop.post(f"/licenses/{license_id}/activate"), 404, "LICENSE_NOT_FOUND")
