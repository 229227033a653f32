"""Customers through the management API, on both databases: the panel's services and rules,
every change in the audit log under the token's name."""

from __future__ import annotations

import json

from tests.api.helpers import ISO_UTC, assert_error
from tests.management.conftest import Management, audit_rows
from tests.support.world import TestWorld

MUSTER = {"name": "Muster GmbH", "email": "einkauf@muster.example"}


def test_create_get_list_update_delete(world: TestWorld, shop: Management) -> None:
    created = shop.ok("POST", "/customers", 201, json=MUSTER)
    assert set(created) == {"id", "name", "email", "created_at", "license_count"}
    assert (created["name"], created["email"], created["license_count"]) == ("Muster GmbH", "einkauf@muster.example", 0)
    assert ISO_UTC.match(created["created_at"])
    customer_id = created["id"]
    assert shop.ok("GET", f"/customers/{customer_id}") == created

    changed = shop.ok("PATCH", f"/customers/{customer_id}", json={"email": "lizenzen@muster.example"})
    assert (changed["name"], changed["email"]) == ("Muster GmbH", "lizenzen@muster.example")
    assert world.rows("SELECT name, email FROM customers") == [
        {"name": "Muster GmbH", "email": "lizenzen@muster.example"}
    ]

    response = shop.delete(f"/customers/{customer_id}")
    assert response.status_code == 204 and response.content == b""
    assert world.scalar("SELECT COUNT(*) FROM customers") == 0
    assert_error(shop.get(f"/customers/{customer_id}"), 404, "CUSTOMER_NOT_FOUND")
    assert_error(shop.delete(f"/customers/{customer_id}"), 404, "CUSTOMER_NOT_FOUND")
    assert_error(shop.patch(f"/customers/{customer_id}", json={"name": "X"}), 404, "CUSTOMER_NOT_FOUND")

    entries = audit_rows(world, "customer")
    assert [(e["actor"], e["action"], e["entity_id"]) for e in entries] == [
        ("token:shop", "create", str(customer_id)),
        ("token:shop", "update", str(customer_id)),
        ("token:shop", "delete", str(customer_id)),
    ]
    assert json.loads(entries[1]["before"]) == {"email": "einkauf@muster.example", "name": "Muster GmbH"}
    assert json.loads(entries[1]["after"])["email"] == "lizenzen@muster.example"


def test_list_searches_and_pages(world: TestWorld, shop: Management) -> None:
    for n in range(5):
        world.customer(f"Kunde {n}", f"k{n}@kunden.example")
    world.customer("Andere AG", "info@andere.example")
    first = shop.ok("GET", "/customers", params={"q": "kunde", "per_page": 2})
    assert [c["name"] for c in first["items"]] == ["Kunde 0", "Kunde 1"]
    assert (first["page"], first["per_page"], first["has_next"], first["total"]) == (1, 2, True, 5)
    last = shop.ok("GET", "/customers", params={"q": "kunde", "per_page": 2, "page": 3})
    assert [c["name"] for c in last["items"]] == ["Kunde 4"] and last["has_next"] is False
    assert [c["email"] for c in shop.ok("GET", "/customers", params={"q": "andere"})["items"]] == [
        "info@andere.example"
    ]
    assert shop.ok("GET", "/customers")["total"] == 6
    assert_error(shop.get("/customers", params={"per_page": 101}), 400, "VALIDATION_ERROR")
    assert_error(shop.get("/customers", params={"page": 0}), 400, "VALIDATION_ERROR")


def test_a_customer_with_licenses_is_not_deleted(world: TestWorld, shop: Management) -> None:
    customer_id = world.customer()
    world.license(customer_id=customer_id)
    body = assert_error(shop.delete(f"/customers/{customer_id}"), 409, "CUSTOMER_HAS_LICENSES")
    assert "1 Lizenz" in body["error"]  # the panel's own message
    assert world.scalar("SELECT COUNT(*) FROM customers") == 1
    assert shop.ok("GET", f"/customers/{customer_id}")["license_count"] == 1
    assert audit_rows(world, "customer") == []


def test_unknown_fields_and_bad_values_are_refused(world: TestWorld, shop: Management) -> None:
    body = assert_error(shop.post("/customers", json={**MUSTER, "phone": "1", "vip": True}), 400, "VALIDATION_ERROR")
    assert {d["field"] for d in body["details"]} == {"phone", "vip"}
    assert "phone" in body["error"]
    assert_error(shop.post("/customers", json={"name": "X", "email": "not-an-address"}), 400, "VALIDATION_ERROR")
    assert_error(shop.post("/customers", json={"name": "", "email": "a@b.example"}), 400, "VALIDATION_ERROR")
    assert_error(shop.post("/customers", content=b"{not json"), 400, "VALIDATION_ERROR")
    assert_error(shop.post("/customers", json=[MUSTER]), 400, "VALIDATION_ERROR")
    customer_id = world.customer()
    body = assert_error(shop.patch(f"/customers/{customer_id}", json={"nickname": "M"}), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "nickname"
    assert_error(shop.patch(f"/customers/{customer_id}", json={"name": None}), 400, "VALIDATION_ERROR")
    assert_error(shop.patch(f"/customers/{customer_id}", json={"email": "nope"}), 400, "VALIDATION_ERROR")
    assert_error(shop.get("/customers/0"), 400, "VALIDATION_ERROR")
    assert world.rows("SELECT name, email FROM customers") == [{"name": "ACME Corp", "email": "admin@acme.example"}]
    assert audit_rows(world, "customer") == []


def test_an_unchanged_update_writes_no_audit_entry(world: TestWorld, shop: Management) -> None:
    customer_id = world.customer()
    shop.ok("PATCH", f"/customers/{customer_id}", json={"name": "ACME Corp"})
    assert audit_rows(world, "customer") == []
