"""Customers in the panel: list, search, paging, create, edit, delete, and the select's feed."""

from __future__ import annotations

import json

from sqlalchemy import text
from starlette.testclient import TestClient

from tests.support.world import TestWorld


def add_customers(world: TestWorld, count: int, prefix: str = "Kunde") -> None:
    rows = [{"n": f"{prefix} {i:03d}", "e": f"k{i:03d}@{prefix.lower()}.example"} for i in range(count)]
    with world.engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (name, email) VALUES (:n, :e)"), rows)


def audit(world: TestWorld, entity_type: str = "customer") -> list[dict[str, object]]:
    return world.rows(
        "SELECT actor, action, entity_id, before, after FROM audit_log WHERE entity_type = :t ORDER BY id",
        t=entity_type,
    )


def test_logged_out_pages_redirect_and_json_is_401(world: TestWorld, panel: TestClient) -> None:
    customer_id = world.customer()
    for path in ("/customers", "/customers/new", f"/customers/{customer_id}/edit"):
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    for path in ("/customers/new", f"/customers/{customer_id}/edit", f"/customers/{customer_id}/delete"):
        assert panel.post(path, data={"name": "X", "email": "x@x.example"}, follow_redirects=False).status_code == 303
    response = panel.get("/api/customers")
    assert response.status_code == 401
    assert response.json() == {"error": "Not logged in", "code": "NOT_AUTHENTICATED", "status": 401}


def test_unsafe_requests_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    form = {"name": "Neu", "email": "neu@example.com"}
    for path in ("/customers/new", f"/customers/{customer_id}/edit", f"/customers/{customer_id}/delete"):
        assert staff_panel.post(path, data=form).status_code == 403
    assert world.snapshot() == before


def test_create_customer_then_it_is_listed_and_audited(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/customers/new")
    assert page.status_code == 200 and 'name="email"' in page.text
    response = staff_panel.post(
        "/customers/new", data={"name": "  ACME Corp ", "email": "admin@acme.com"}, follow_redirects=False
    )
    assert response.status_code == 303
    customer_id = world.scalar("SELECT id FROM customers")
    assert response.headers["location"] == f"/customers/{customer_id}/edit?notice=saved"
    assert world.rows("SELECT name, email FROM customers") == [{"name": "ACME Corp", "email": "admin@acme.com"}]
    [entry] = audit(world)
    assert (entry["actor"], entry["action"], entry["entity_id"]) == ("rac00n", "create", str(customer_id))
    assert json.loads(str(entry["after"])) == {"name": "ACME Corp", "email": "admin@acme.com"}
    listing = staff_panel.get("/customers")
    assert "ACME Corp" in listing.text and "admin@acme.com" in listing.text


BAD_CUSTOMER_FORMS = [
    {"name": "", "email": "a@b.example"},
    {"name": "   ", "email": "a@b.example"},
    {"name": "x" * 256, "email": "a@b.example"},
    {"name": "A", "email": "not-an-email"},
    {"name": "A\x00", "email": "a@b.example"},
    {"email": "a@b.example"},
]


def test_create_customer_refuses_bad_input(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for form in BAD_CUSTOMER_FORMS:
        response = staff_panel.post("/customers/new", data=form)
        assert response.status_code == 400, form
        assert "notice error" in response.text  # the form again, with the message
    assert world.snapshot() == before


def test_edit_customer_and_audit_before_after(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer("Old Name", "old@example.com")
    form = staff_panel.get(f"/customers/{customer_id}/edit")
    assert form.status_code == 200 and "Old Name" in form.text
    response = staff_panel.post(
        f"/customers/{customer_id}/edit", data={"name": "New Name", "email": "new@example.com"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert world.rows("SELECT name, email FROM customers") == [{"name": "New Name", "email": "new@example.com"}]
    [entry] = audit(world)
    assert entry["action"] == "update"
    assert json.loads(str(entry["before"])) == {"name": "Old Name", "email": "old@example.com"}
    assert json.loads(str(entry["after"])) == {"name": "New Name", "email": "new@example.com"}


def test_edit_customer_bad_input_and_unknown_ids(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    before = world.snapshot()
    response = staff_panel.post(f"/customers/{customer_id}/edit", data={"name": "X", "email": "nope"})
    assert response.status_code == 400
    assert 'value="nope"' in response.text
    assert world.snapshot() == before
    for method, path in (
        ("GET", "/customers/999/edit"),
        ("POST", "/customers/999/edit"),
        ("POST", "/customers/999/delete"),
    ):
        response = staff_panel.request(method, path, data={"name": "X", "email": "x@x.example"})
        assert response.status_code == 404, path
    assert staff_panel.get("/customers/99999999999/edit").status_code == 400  # beyond any id column
    assert world.snapshot() == before


def test_delete_customer_without_licenses(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer("Gone GmbH", "gone@example.com")
    response = staff_panel.post(f"/customers/{customer_id}/delete", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/customers?notice=deleted"
    assert world.scalar("SELECT COUNT(*) FROM customers") == 0
    [entry] = audit(world)
    assert entry["action"] == "delete" and json.loads(str(entry["before"]))["name"] == "Gone GmbH"
    assert "Kunde gelöscht" in staff_panel.get("/customers?notice=deleted").text


def test_delete_customer_with_licenses_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer()
    world.license(customer_id=customer_id)
    before = world.snapshot()
    response = staff_panel.post(f"/customers/{customer_id}/delete")
    assert response.status_code == 409
    assert "1 Lizenz(en)" in response.text
    assert world.snapshot() == before


def test_customer_list_searches_sorts_and_pages_in_the_database(world: TestWorld, staff_panel: TestClient) -> None:
    add_customers(world, 30)
    world.customer("Zeta 100% AG", "zeta@example.org")
    page = staff_panel.get("/customers?per_page=10&sort=name&dir=asc")
    assert page.status_code == 200
    assert "Kunde 000" in page.text and "Kunde 009" in page.text and "Kunde 010" not in page.text
    assert "1–10 von 31 Kunden" in page.text
    second = staff_panel.get("/customers?per_page=10&sort=name&dir=asc&page=2")
    assert "Kunde 010" in second.text and "Kunde 009" not in second.text
    descending = staff_panel.get("/customers?per_page=10&sort=name&dir=desc")
    assert "Zeta 100% AG" in descending.text and "Kunde 000" not in descending.text
    by_email = staff_panel.get("/customers?q=K007@KUNDE")  # case-insensitive, on e-mail too
    assert "Kunde 007" in by_email.text and "Kunde 008" not in by_email.text
    assert "1–1 von 1 Kunden" in by_email.text
    # LIKE wildcards in the search are taken literally.
    assert "Kunde 001" not in staff_panel.get("/customers?q=%25").text.replace("Zeta 100%", "")
    assert "Zeta 100% AG" in staff_panel.get("/customers?q=100%25").text


def test_customer_list_refuses_bad_parameters(world: TestWorld, staff_panel: TestClient) -> None:
    for query in (
        "per_page=101",
        "per_page=0",
        "page=0",
        "sort=password",
        "dir=up",
        "page=abc",
        "q=%00",
        "q=" + "x" * 256,
    ):
        assert staff_panel.get(f"/customers?{query}").status_code == 400, query


def test_customer_select_feed(world: TestWorld, staff_panel: TestClient) -> None:
    add_customers(world, 25)
    acme = world.customer("ACME Corp", "admin@acme.com")
    first = staff_panel.get("/api/customers")
    assert first.status_code == 200
    body = first.json()
    assert body["results"][0] == {"id": acme, "text": "ACME Corp - admin@acme.com"}
    assert len(body["results"]) == 20 and body["pagination"] == {"more": True}
    second = staff_panel.get("/api/customers?page=2").json()
    assert len(second["results"]) == 6 and second["pagination"] == {"more": False}
    assert staff_panel.get("/api/customers?q=acme").json() == {
        "results": [{"id": acme, "text": "ACME Corp - admin@acme.com"}],
        "pagination": {"more": False},
    }
    for bad in ("page=0", "page=x", "q=%00"):
        response = staff_panel.get(f"/api/customers?{bad}")
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"


# --- a second customer with the same e-mail address ---------------------------------------------


def test_a_new_customer_with_a_known_email_is_warned_about_and_saved_only_when_confirmed(
    world: TestWorld, staff_panel: TestClient
) -> None:
    first = world.customer("Erste GmbH", "einkauf@firma.example")
    form = {"name": "Zweite GmbH", "email": "Einkauf@FIRMA.example"}  # the same address, other case
    before = world.snapshot()
    warned = staff_panel.post("/customers/new", data=form, follow_redirects=False)
    assert warned.status_code == 409
    assert "Diese E-Mail-Adresse hat bereits ein anderer Kunde. Nichts gespeichert." in warned.text
    assert f'<a href="/customers/{first}/edit">Erste GmbH</a>' in warned.text
    assert 'name="confirmed_email" value="Einkauf@FIRMA.example"' in warned.text
    assert 'value="Zweite GmbH"' in warned.text  # the form keeps what was typed
    assert world.snapshot() == before
    # Confirmed for another address than the one now typed: warned again.
    other = {"name": "Zweite GmbH", "email": "einkauf@firma.example", "confirmed_email": "alt@firma.example"}
    assert staff_panel.post("/customers/new", data=other, follow_redirects=False).status_code == 409
    confirmed = staff_panel.post(
        "/customers/new", data={**form, "confirmed_email": form["email"]}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    assert world.scalar("SELECT COUNT(*) FROM customers WHERE lower(email) = 'einkauf@firma.example'") == 2
    assert [e["action"] for e in audit(world)] == ["create"]


def test_editing_a_customer_warns_only_about_other_customers_with_the_address(
    world: TestWorld, staff_panel: TestClient
) -> None:
    world.customer("Erste GmbH", "info@erste.example")
    second = world.customer("Zweite GmbH", "info@zweite.example")
    own = staff_panel.post(
        f"/customers/{second}/edit", data={"name": "Zweite AG", "email": "info@zweite.example"}, follow_redirects=False
    )
    assert own.status_code == 303  # its own address is no duplicate
    taken = {"name": "Zweite AG", "email": "info@erste.example"}
    warned = staff_panel.post(f"/customers/{second}/edit", data=taken, follow_redirects=False)
    assert warned.status_code == 409 and "Trotzdem speichern" in warned.text
    assert world.scalar("SELECT email FROM customers WHERE id = :i", i=second) == "info@zweite.example"
    confirmed = {**taken, "confirmed_email": "info@erste.example"}
    assert staff_panel.post(f"/customers/{second}/edit", data=confirmed, follow_redirects=False).status_code == 303
    assert world.scalar("SELECT email FROM customers WHERE id = :i", i=second) == "info@erste.example"
