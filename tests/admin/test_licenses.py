"""Licenses in the panel: the list (filters, search, sort, paging, constant query count), the
forms, bulk actions, inline quick edit, deletion, and the reference's JSON endpoints."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.admin.conftest import count_queries
from tests.support.world import TestWorld

KEY = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
LISTED_KEY = re.compile(r'<td class="mono"><a href="/licenses/\d+">([A-Z0-9-]{19})</a>')
TODAY = datetime.now(UTC).date()


def add_license(world: TestWorld, key: str, customer_id: int, **values: Any) -> int:
    row = {
        "license_type": "perpetual",
        "valid_from": TODAY - timedelta(days=30),
        "valid_until": None,
        "max_activations": 5,
        "max_users": 1,
        "is_active": True,
        **values,
    }
    world.execute(
        "INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until, max_activations,"
        " max_users, is_active) VALUES (:key, :cid, :license_type, :valid_from, :valid_until, :max_activations,"
        " :max_users, :is_active)",
        key=key,
        cid=customer_id,
        **row,
    )
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def add_many_licenses(world: TestWorld, count: int, first: int = 0) -> None:
    """`count` licenses, each with its own customer and an active device, in one transaction."""
    now = datetime.now(UTC)
    with world.engine.begin() as conn:
        for i in range(first, first + count):
            conn.execute(text("INSERT INTO customers (name, email) VALUES (:n, :e)"), {"n": f"C{i}", "e": f"c{i}@x.de"})
            cid = conn.execute(text("SELECT MAX(id) FROM customers")).scalar()
            conn.execute(
                text(
                    "INSERT INTO licenses (license_key, customer_id, valid_from, max_activations, max_users, is_active)"
                    " VALUES (:k, :c, :d, 3, 1, TRUE)"
                ),
                {"k": f"MANY-{i:04d}-AAAA-BBBB", "c": cid, "d": TODAY},
            )
            lid = conn.execute(text("SELECT MAX(id) FROM licenses")).scalar()
            add_activation(conn, lid, f"hw-{i}", now)


def add_activation(conn: Any, license_id: int, hardware_hash: str, now: datetime, active: bool = True) -> None:
    conn.execute(
        text(
            "INSERT INTO activations (license_id, hardware_hash, machine_name, activated_at, last_heartbeat, is_active)"
            " VALUES (:l, :h, :m, :n, :n, :a)"
        ),
        {"l": license_id, "h": hardware_hash, "m": f"PC-{hardware_hash}", "n": now, "a": active},
    )


def activate(world: TestWorld, license_id: int, *hashes: str) -> None:
    with world.engine.begin() as conn:
        for hardware_hash in hashes:
            add_activation(conn, license_id, hardware_hash, datetime.now(UTC))


def listed_keys(html: str) -> list[str]:
    return LISTED_KEY.findall(html)


def audit(world: TestWorld) -> list[dict[str, Any]]:
    rows = world.rows("SELECT actor, action, entity_type, entity_id, before, after FROM audit_log ORDER BY id")
    for row in rows:
        row["before"] = None if row["before"] is None else json.loads(row["before"])
        row["after"] = None if row["after"] is None else json.loads(row["after"])
    return [row for row in rows if row["action"] != "login"]


@pytest.fixture
def five(world: TestWorld) -> dict[str, int]:
    """Five licenses of three customers, one in each state."""
    alpha = world.customer("Alpha GmbH", "info@alpha.example")
    beta = world.customer("Beta AG", "info@beta.example")
    gamma = world.customer("Gamma 100%", "info@gamma.example")
    return {
        "alpha": alpha,
        "beta": beta,
        "A": add_license(world, "AAAA-0001-XXXX-XXXX", alpha),
        "B": add_license(
            world, "AAAB-0002-XXXX-XXXX", alpha, license_type="subscription", is_active=False,
            valid_until=TODAY + timedelta(days=100),
        ),
        "C": add_license(
            world, "BBBB-0003-XXXX-XXXX", beta, license_type="trial", valid_until=TODAY - timedelta(days=1)
        ),
        "D": add_license(
            world, "CCCC-0004-XXXX-XXXX", beta, license_type="subscription", valid_until=TODAY + timedelta(days=10)
        ),
        "E": add_license(world, "Z9ZZ-0005-XXXX-XXXX", gamma, valid_from=TODAY + timedelta(days=5)),
    }  # fmt: skip


KEYS = {
    "A": "AAAA-0001-XXXX-XXXX",
    "B": "AAAB-0002-XXXX-XXXX",
    "C": "BBBB-0003-XXXX-XXXX",
    "D": "CCCC-0004-XXXX-XXXX",
    "E": "Z9ZZ-0005-XXXX-XXXX",
}


def names(*letters: str) -> list[str]:
    return [KEYS[letter] for letter in letters]


# --- access ---------------------------------------------------------------------------------


def test_logged_out_pages_redirect_and_json_is_401(world: TestWorld, panel: TestClient) -> None:
    key = world.license()
    lid = world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key)
    for path in ("/licenses", "/licenses/new", f"/licenses/{lid}/edit", "/licenses/count", f"/licenses/{lid}/row"):
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    for path in (
        f"/api/license/{lid}/toggle",
        "/api/licenses/bulk-activate",
        "/api/licenses/bulk-deactivate",
        "/api/licenses/bulk-delete",
        f"/api/license/{lid}/quick-edit",
        "/api/generate-license-key",
    ):
        response = panel.post(path, json={"license_ids": [lid]})
        assert response.status_code == 401, path
        assert response.json() == {"error": "Not logged in", "code": "NOT_AUTHENTICATED", "status": 401}


def test_unsafe_requests_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    key = world.license()
    lid = world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key)
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    for path in (
        f"/api/license/{lid}/toggle",
        "/api/licenses/bulk-activate",
        "/api/licenses/bulk-deactivate",
        "/api/licenses/bulk-delete",
        f"/api/license/{lid}/quick-edit",
        "/api/generate-license-key",
    ):
        response = staff_panel.post(path, json={"license_ids": [lid]})
        assert response.status_code == 403, path
        assert response.json()["code"] == "CSRF_FAILED"
    for path in ("/licenses/new", f"/licenses/{lid}/edit", f"/licenses/{lid}/delete", "/licenses/bulk"):
        assert staff_panel.post(path, data={"action": "delete", "license_ids": str(lid)}).status_code == 403, path
    assert staff_panel.post(f"/licenses/{lid}/quick-edit", data={"max_users": "3"}).status_code == 403
    assert world.snapshot() == before


# --- the list -------------------------------------------------------------------------------


def test_list_filters_search_sort_and_paging(world: TestWorld, staff_panel: TestClient, five: dict[str, int]) -> None:
    def keys(query: str) -> list[str]:
        response = staff_panel.get(f"/licenses?{query}")
        assert response.status_code == 200, response.text
        return listed_keys(response.text)

    assert keys("") == names("E", "D", "C", "B", "A")  # newest first
    assert keys("sort=key&dir=asc") == names("A", "B", "C", "D", "E")
    assert keys("sort=key&dir=desc") == names("E", "D", "C", "B", "A")
    assert keys("sort=customer&dir=asc") == names("A", "B", "C", "D", "E")
    assert keys("sort=customer&dir=desc") == names("E", "D", "C", "B", "A")
    assert keys("sort=valid_until&dir=asc") == names("C", "D", "B", "A", "E")  # no end date counts as latest
    assert keys("sort=valid_until&dir=desc") == names("E", "A", "B", "D", "C")
    assert keys("state=active&sort=key&dir=asc") == names("A", "D")
    assert keys("state=inactive") == names("B")
    assert keys("state=expired") == names("C")
    assert keys("state=expiring") == names("D")
    assert keys("state=not_yet_valid") == names("E")
    assert keys("type=subscription&sort=key&dir=asc") == names("B", "D")
    assert keys(f"customer_id={five['alpha']}&sort=key&dir=asc") == names("A", "B")
    assert keys("q=aaa&sort=key&dir=asc") == names("A", "B")  # key prefix, any case
    assert keys("q=AAAB") == names("B")
    assert keys("q=AAAA-0001") == names("A")
    assert keys("q=Z") == names("E")  # the last letter of the alphabet has no successor
    assert keys("q=beta&sort=key&dir=asc") == names("C", "D")  # customer name, any case
    assert keys("q=100%25") == names("E")  # LIKE wildcards are literal
    assert keys("q=%25") == names("E")
    assert keys("q=_") == []
    assert keys("q=0001") == []  # a key is found by its beginning only
    assert keys("q=a&type=subscription&state=inactive") == names("B")
    assert keys("customer_id=&type=&state=&q=") == names("E", "D", "C", "B", "A")  # empty filter form
    assert keys("per_page=2&sort=key&dir=asc") == names("A", "B")
    assert keys("per_page=2&sort=key&dir=asc&page=2") == names("C", "D")
    assert keys("per_page=2&sort=key&dir=asc&page=3") == names("E")
    assert keys("per_page=2&page=4") == []


def test_list_pages_count_only_when_needed(world: TestWorld, staff_panel: TestClient, five: dict[str, int]) -> None:
    whole = staff_panel.get("/licenses")
    assert "1–5 von 5 Lizenzen" in whole.text and "/licenses/count" not in whole.text
    first = staff_panel.get("/licenses?per_page=1&state=active&page=1")
    assert 'hx-get="/licenses/count?state=active&amp;' in first.text and "Weiter" in first.text
    assert "Seite 1 · 1–1" in first.text
    counted = staff_panel.get("/licenses/count?state=active&per_page=1&page=2").text
    assert counted.strip() == "<span>Seite 2 von 2 · 2–2 von 2 Lizenzen</span>"
    assert "1–2 von 2 Lizenzen" in staff_panel.get("/licenses/count?q=aaa").text
    last = staff_panel.get("/licenses?per_page=2&page=3")
    assert "5–5 von 5 Lizenzen" in last.text


def test_list_shows_state_devices_and_links(world: TestWorld, staff_panel: TestClient, five: dict[str, int]) -> None:
    activate(world, five["A"], "hw-1", "hw-2")
    page = staff_panel.get("/licenses?q=AAAA")
    assert page.status_code == 200
    assert f'href="/licenses/{five["A"]}"' in page.text  # engineer B's detail page
    assert "2 / 5" in page.text and "Aktiv" in page.text and "Alpha GmbH" in page.text
    assert f'value="{five["A"]}" form="bulk-form"' in page.text
    assert 'data-select-all="input[name=license_ids]"' in page.text
    assert f'hx-get="/licenses/{five["A"]}/quick-edit"' in page.text
    assert "Läuft bald ab" in staff_panel.get("/licenses?state=expiring").text


BAD_LIST_QUERIES = (
    "per_page=101", "page=0", "sort=secret", "dir=sideways", "state=broken", "type=forever", "customer_id=x",
    "customer_id=99999999999", "q=%00", "q=" + "A" * 101,
)  # fmt: skip


def test_list_refuses_bad_parameters(world: TestWorld, staff_panel: TestClient) -> None:
    for query in BAD_LIST_QUERIES:
        assert staff_panel.get(f"/licenses?{query}").status_code == 400, query
        assert staff_panel.get(f"/licenses/count?{query}").status_code in (400, 200), query


def test_list_query_count_does_not_grow_with_rows(world: TestWorld, staff_panel: TestClient) -> None:
    paths = ("/licenses?per_page=100", "/licenses?per_page=100&sort=customer&q=c", "/licenses?per_page=100&q=MANY")
    add_many_licenses(world, 5)
    staff_panel.get(paths[0])  # warm up: first-use statements of the connection
    with_five = [count_queries(staff_panel, path) for path in paths]
    assert len(listed_keys(staff_panel.get(paths[2]).text)) == 5
    add_many_licenses(world, 45, first=5)
    with_fifty = [count_queries(staff_panel, path) for path in paths]
    assert len(listed_keys(staff_panel.get(paths[2]).text)) == 50
    assert with_fifty == with_five
    assert with_five[0] <= 4  # BEGIN (SQLite), the staff session (read, touch), the page itself


# --- create and edit ------------------------------------------------------------------------


def license_row(world: TestWorld) -> dict[str, Any]:
    [row] = world.rows(
        "SELECT id, license_key, customer_id, license_type, valid_from, valid_until, max_activations, max_users,"
        " is_active FROM licenses"
    )
    return row


def test_new_license_form_shows_a_generated_key(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer("ACME Corp", "admin@acme.com")
    page = staff_panel.get(f"/licenses/new?customer_id={customer_id}")
    assert page.status_code == 200
    key = re.search(r'id="license_key" name="license_key" class="mono" value="([^"]+)"', page.text)
    assert key and KEY.match(key.group(1))
    assert f'<option value="{customer_id}" selected>ACME Corp - admin@acme.com</option>' in page.text
    assert '<select id="license-customer" name="customer_id" data-customer-select' in page.text
    assert 'hx-post="/api/generate-license-key"' in page.text
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 0  # showing a key stores nothing


def test_create_license_from_the_form(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    form = {
        "license_key": "abcd-1234-efgh-5678",
        "customer_id": str(customer_id),
        "license_type": "subscription",
        "valid_from": "2026-01-01",
        "valid_until": "2027-01-01",
        "max_activations": "3",
        "max_users": "2",
        "is_active": "on",
    }
    response = staff_panel.post("/licenses/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    row = license_row(world)
    assert response.headers["location"] == f"/licenses/{row['id']}?done=license_created"
    assert "Lizenz angelegt." in staff_panel.get(response.headers["location"]).text
    assert row["license_key"] == "ABCD-1234-EFGH-5678"
    assert (row["license_type"], row["max_activations"], row["max_users"]) == ("subscription", 3, 2)
    assert (row["valid_from"], row["valid_until"], bool(row["is_active"])) == (date(2026, 1, 1), date(2027, 1, 1), True)
    [entry] = audit(world)
    assert (entry["action"], entry["entity_type"], entry["entity_id"]) == ("create", "license", str(row["id"]))
    assert entry["after"]["license_key"] == "ABCD-1234-EFGH-5678" and entry["after"]["valid_until"] == "2027-01-01"


def test_create_license_refuses_bad_input(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    world.license(customer_id=customer_id)
    taken = world.scalar("SELECT license_key FROM licenses")
    good = {
        "license_key": "NEW1-NEW2-NEW3-NEW4",
        "customer_id": str(customer_id),
        "license_type": "perpetual",
        "valid_from": "2026-01-01",
        "max_activations": "1",
        "max_users": "1",
    }
    before = world.snapshot()
    cases: list[tuple[dict[str, str], int]] = [
        ({"license_key": "ABC"}, 400),
        ({"license_key": "ABCD-1234-EFGH-567!"}, 400),
        ({"license_key": ""}, 400),
        ({"license_key": taken.lower()}, 409),
        ({"customer_id": ""}, 400),
        ({"customer_id": "999"}, 404),
        ({"customer_id": "99999999999"}, 400),
        ({"customer_id": "²"}, 400),
        ({"license_type": "forever"}, 400),
        ({"valid_from": "2026-13-01"}, 400),
        ({"valid_until": "2025-12-31"}, 400),
        ({"max_activations": "0"}, 400),
        ({"max_users": "many"}, 400),
        ({"max_users": "100001"}, 400),
    ]
    for change, status in cases:
        response = staff_panel.post("/licenses/new", data={**good, **change})
        assert response.status_code == status, (change, response.text)
        assert "notice error" in response.text
    assert world.snapshot() == before


def test_edit_license_changes_every_field_and_audits_the_difference(world: TestWorld, staff_panel: TestClient) -> None:
    first = world.customer("First", "first@example.com")
    second = world.customer("Second", "second@example.com")
    key = world.license(customer_id=first, valid_from=date(2026, 1, 1), max_activations=2)
    lid = world.scalar("SELECT id FROM licenses")
    page = staff_panel.get(f"/licenses/{lid}/edit")
    assert page.status_code == 200 and key in page.text and 'value="2026-01-01"' in page.text
    form = {
        "customer_id": str(second),
        "license_type": "trial",
        "valid_from": "2026-02-01",
        "valid_until": "2026-03-01",
        "max_activations": "4",
        "max_users": "1",
    }  # is_active unticked: deactivates
    response = staff_panel.post(f"/licenses/{lid}/edit", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/licenses/{lid}/edit?notice=saved"
    row = license_row(world)
    assert (row["customer_id"], row["license_type"], row["max_activations"]) == (second, "trial", 4)
    assert (row["valid_from"], row["valid_until"], bool(row["is_active"])) == (
        date(2026, 2, 1),
        date(2026, 3, 1),
        False,
    )
    [entry] = audit(world)
    assert entry["action"] == "update"
    assert entry["before"] == {
        "customer_id": first,
        "license_type": "perpetual",
        "valid_from": "2026-01-01",
        "valid_until": None,
        "max_activations": 2,
        "is_active": True,
    }
    assert entry["after"]["max_activations"] == 4 and "max_users" not in entry["after"]


def test_edit_license_refusals(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    world.license(customer_id=customer_id, max_activations=3)
    lid = world.scalar("SELECT id FROM licenses")
    activate(world, lid, "hw-1", "hw-2")
    good = {
        "customer_id": str(customer_id),
        "license_type": "perpetual",
        "valid_from": "2026-01-01",
        "max_activations": "3",
        "max_users": "1",
        "is_active": "on",
    }
    before = world.snapshot()
    cases: list[tuple[dict[str, str], int]] = [
        ({"max_activations": "1"}, 409),  # two devices are active
        ({"valid_until": "2025-01-01"}, 400),
        ({"valid_from": ""}, 400),
        ({"customer_id": "999"}, 404),
        ({"license_type": "x"}, 400),
    ]
    for change, status in cases:
        response = staff_panel.post(f"/licenses/{lid}/edit", data={**good, **change})
        assert response.status_code == status, (change, response.text)
    assert (
        "2 Geräte sind aktiviert"
        in staff_panel.post(f"/licenses/{lid}/edit", data={**good, "max_activations": "1"}).text
    )
    for method, path in (
        ("GET", "/licenses/999/edit"),
        ("POST", "/licenses/999/edit"),
        ("POST", "/licenses/999/delete"),
    ):
        assert staff_panel.request(method, path, data=good).status_code == 404, path
    assert world.snapshot() == before


# --- JSON endpoints -------------------------------------------------------------------------


def test_toggle(world: TestWorld, staff_panel: TestClient) -> None:
    world.license()
    lid = world.scalar("SELECT id FROM licenses")
    off = staff_panel.post(f"/api/license/{lid}/toggle")
    assert off.status_code == 200
    assert off.json() == {"success": True, "is_active": False, "message": "License deactivated"}
    on = staff_panel.post(f"/api/license/{lid}/toggle").json()
    assert on == {"success": True, "is_active": True, "message": "License activated"}
    assert [(e["action"], e["before"], e["after"]) for e in audit(world)] == [
        ("deactivate", {"is_active": True}, {"is_active": False}),
        ("activate", {"is_active": False}, {"is_active": True}),
    ]
    missing = staff_panel.post("/api/license/999/toggle")
    assert missing.status_code == 404
    assert missing.json() == {"error": "License 999 not found", "code": "LICENSE_NOT_FOUND", "status": 404}


def test_bulk_activate_and_deactivate_report_how_many_changed(
    world: TestWorld, staff_panel: TestClient, five: dict[str, int]
) -> None:
    ids = [five["A"], five["B"], 9999]
    off = staff_panel.post("/api/licenses/bulk-deactivate", json={"license_ids": ids})
    assert off.status_code == 200
    assert off.json() == {"success": True, "count": 1, "message": "1 licenses deactivated"}  # B was already off
    on = staff_panel.post("/api/licenses/bulk-activate", json={"license_ids": [*ids, five["A"]]})
    assert on.json() == {"success": True, "count": 2, "message": "2 licenses activated"}
    assert world.scalar("SELECT COUNT(*) FROM licenses WHERE is_active = TRUE") == 5
    again = staff_panel.post("/api/licenses/bulk-activate", json={"license_ids": ids})
    assert again.json()["count"] == 0
    actions = [(e["action"], e["entity_id"]) for e in audit(world)]
    assert actions == [
        ("deactivate", str(five["A"])),
        ("activate", str(five["A"])),
        ("activate", str(five["B"])),
    ]


BAD_BULK_BODIES: list[Any] = [
    {},
    {"license_ids": []},
    {"license_ids": "1"},
    {"license_ids": ["1"]},
    {"license_ids": [1.5]},
    {"license_ids": [True]},
    {"license_ids": [0]},
    {"license_ids": [2**40]},
    {"license_ids": list(range(1, 1002))},
    {"license_ids": [1], "extra": 1},
    [1, 2],
    None,
]


def test_bulk_endpoints_refuse_bad_bodies(world: TestWorld, staff_panel: TestClient, five: dict[str, int]) -> None:
    before = world.snapshot()
    for path in ("/api/licenses/bulk-activate", "/api/licenses/bulk-deactivate", "/api/licenses/bulk-delete"):
        for body in BAD_BULK_BODIES:
            response = staff_panel.post(path, json=body)
            assert response.status_code == 400, (path, body)
            assert response.json()["code"] == "VALIDATION_ERROR"
        for raw in (b"{not json", b"", '{"license_ids": [1]}'.encode("utf-16")):
            assert staff_panel.post(path, content=raw, headers={"content-type": "application/json"}).status_code == 400
    assert world.snapshot() == before


def add_session_and_resources(world: TestWorld, license_id: int, other_id: int) -> None:
    now = datetime.now(UTC)
    activate(world, license_id, "hw-1")
    activate(world, other_id, "hw-other")
    world.execute(
        "INSERT INTO sessions (session_token, license_id, hardware_hash, started_at, last_heartbeat)"
        " VALUES ('tok-1', :l, 'hw-1', :n, :n)",
        l=license_id,
        n=now,
    )
    for identifier, holder in (("srv-1", license_id), ("srv-2", license_id), ("srv-3", other_id)):
        world.execute(
            "INSERT INTO resources (resource_type, identifier, status, license_id, allocated_at)"
            " VALUES ('server', :i, 'allocated', :l, :n)",
            i=identifier,
            l=holder,
            n=now,
        )


def test_bulk_delete_removes_devices_sessions_and_returns_resources(
    world: TestWorld, staff_panel: TestClient, five: dict[str, int]
) -> None:
    add_session_and_resources(world, five["A"], five["B"])
    response = staff_panel.post("/api/licenses/bulk-delete", json={"license_ids": [five["A"], five["C"], 9999]})
    assert response.status_code == 200
    assert response.json() == {"success": True, "count": 2, "message": "2 licenses deleted"}
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 3
    assert world.rows("SELECT hardware_hash FROM activations") == [{"hardware_hash": "hw-other"}]
    assert world.scalar("SELECT COUNT(*) FROM sessions") == 0
    resources = world.rows("SELECT identifier, status, license_id, allocated_at FROM resources ORDER BY identifier")
    assert resources[:2] == [
        {"identifier": "srv-1", "status": "available", "license_id": None, "allocated_at": None},
        {"identifier": "srv-2", "status": "available", "license_id": None, "allocated_at": None},
    ]
    assert resources[2]["license_id"] == five["B"] and resources[2]["status"] == "allocated"
    history = world.rows("SELECT action, license_id, actor FROM resource_history ORDER BY id")
    assert history == [{"action": "released", "license_id": five["A"], "actor": "rac00n"}] * 2
    deleted = [(e["action"], e["entity_id"], e["before"]["license_key"]) for e in audit(world)]
    assert deleted == [("delete", str(five["A"]), KEYS["A"]), ("delete", str(five["C"]), KEYS["C"])]


def test_quick_edit(world: TestWorld, staff_panel: TestClient) -> None:
    world.license(valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 1), max_activations=2)
    lid = world.scalar("SELECT id FROM licenses")
    body = {"valid_until": "2027-01-01", "max_activations": 10, "max_users": 50}
    response = staff_panel.post(f"/api/license/{lid}/quick-edit", json=body)
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "License updated successfully"}
    row = license_row(world)
    assert (row["valid_until"], row["max_activations"], row["max_users"]) == (date(2027, 1, 1), 10, 50)
    assert staff_panel.post(f"/api/license/{lid}/quick-edit", json={"valid_until": None}).status_code == 200
    assert license_row(world)["valid_until"] is None and license_row(world)["max_users"] == 50
    assert staff_panel.post(f"/api/license/{lid}/quick-edit", json={}).status_code == 200  # nothing to change
    updates = [(e["before"], e["after"]) for e in audit(world)]
    assert updates == [
        (
            {"valid_until": "2026-06-01", "max_activations": 2, "max_users": 1},
            {"valid_until": "2027-01-01", "max_activations": 10, "max_users": 50},
        ),
        ({"valid_until": "2027-01-01"}, {"valid_until": None}),
    ]


def test_quick_edit_refusals(world: TestWorld, staff_panel: TestClient) -> None:
    world.license(valid_from=date(2026, 1, 1), max_activations=3)
    lid = world.scalar("SELECT id FROM licenses")
    activate(world, lid, "hw-1", "hw-2")
    before = world.snapshot()
    for body in (
        {"valid_until": "2025-12-31"},
        {"valid_until": "soon"},
        {"max_activations": 0},
        {"max_activations": None},
        {"max_users": "x"},
        {"max_users": 100_001},
        {"license_key": "AAAA-BBBB-CCCC-DDDD"},
        [],
    ):
        response = staff_panel.post(f"/api/license/{lid}/quick-edit", json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR"
    too_low = staff_panel.post(f"/api/license/{lid}/quick-edit", json={"max_activations": 1})
    assert too_low.status_code == 409 and too_low.json()["code"] == "CONFLICT"
    missing = staff_panel.post("/api/license/999/quick-edit", json={"max_users": 2})
    assert missing.status_code == 404 and missing.json()["code"] == "LICENSE_NOT_FOUND"
    assert world.snapshot() == before
    assert staff_panel.post(f"/api/license/{lid}/quick-edit", json={"max_activations": 2}).status_code == 200


def test_generate_license_key(world: TestWorld, staff_panel: TestClient) -> None:
    response = staff_panel.post("/api/generate-license-key")
    assert response.status_code == 200
    assert list(response.json()) == ["license_key"] and KEY.match(response.json()["license_key"])
    assert response.json() != staff_panel.post("/api/generate-license-key").json()
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 0


# --- the list's htmx and form actions -------------------------------------------------------


def test_inline_quick_edit_fragments(world: TestWorld, staff_panel: TestClient) -> None:
    world.license(valid_from=date(2026, 1, 1), max_activations=3)
    lid = world.scalar("SELECT id FROM licenses")
    activate(world, lid, "hw-1", "hw-2")
    edit = staff_panel.get(f"/licenses/{lid}/quick-edit", headers={"HX-Request": "true"})
    assert edit.status_code == 200 and f'hx-post="/licenses/{lid}/quick-edit"' in edit.text
    assert 'name="max_activations" value="3"' in edit.text and "<html" not in edit.text
    saved = staff_panel.post(
        f"/licenses/{lid}/quick-edit", data={"valid_until": "2027-01-01", "max_activations": "4", "max_users": "2"}
    )
    assert saved.status_code == 200 and f'id="license-{lid}"' in saved.text and "01.01.2027" in saved.text
    assert "2 / 4" in saved.text
    before = world.snapshot()
    refused = staff_panel.post(
        f"/licenses/{lid}/quick-edit", data={"valid_until": "", "max_activations": "1", "max_users": "2"}
    )
    assert refused.status_code == 409 and "notice error" in refused.text and "data-swap-errors" in refused.text
    bad = staff_panel.post(f"/licenses/{lid}/quick-edit", data={"valid_until": "x", "max_activations": "1"})
    assert bad.status_code == 400
    assert world.snapshot() == before
    assert staff_panel.get(f"/licenses/{lid}/row").text.count("<tr") == 1
    assert staff_panel.get("/licenses/999/quick-edit").status_code == 404
    assert staff_panel.post("/licenses/999/quick-edit", data={"max_users": "2"}).status_code == 404


def test_bulk_form_activates_and_deletes_after_confirmation(
    world: TestWorld, staff_panel: TestClient, five: dict[str, int]
) -> None:
    back = "state=inactive&sort=key"
    response = staff_panel.post(
        "/licenses/bulk",
        data={"action": "activate", "license_ids": [str(five["B"]), str(five["A"])], "back": back},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/licenses?state=inactive&sort=key&notice=activated&count=1"
    assert "1 Lizenz(en) aktiviert." in staff_panel.get(response.headers["location"]).text
    confirm = staff_panel.post("/licenses/bulk", data={"action": "delete", "license_ids": [str(five["C"])]})
    assert confirm.status_code == 200 and KEYS["C"] in confirm.text and 'name="confirm" value="yes"' in confirm.text
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 5  # nothing deleted before the confirmation
    done = staff_panel.post(
        "/licenses/bulk",
        data={"action": "delete", "license_ids": [str(five["C"])], "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/licenses?notice=deleted&count=1"
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 4
    for bad in (
        {"action": "explode", "license_ids": "1"},
        {"action": "delete", "license_ids": "x"},
    ):
        assert staff_panel.post("/licenses/bulk", data=bad).status_code == 400, bad


def test_delete_one_license_from_its_edit_page(world: TestWorld, staff_panel: TestClient) -> None:
    world.license()
    lid = world.scalar("SELECT id FROM licenses")
    activate(world, lid, "hw-1")
    page = staff_panel.get(f"/licenses/{lid}/edit")
    assert f'action="/licenses/{lid}/delete"' in page.text and "data-confirm" in page.text
    response = staff_panel.post(f"/licenses/{lid}/delete", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/licenses?notice=deleted&count=1"
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 0
    assert world.scalar("SELECT COUNT(*) FROM activations") == 0
    assert [e["action"] for e in audit(world)] == ["delete"]
