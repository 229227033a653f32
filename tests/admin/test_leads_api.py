"""The leads' JSON endpoints: the reference's exact shapes, the contract's additions, versioned
notes, the statistics, and the panel's refusals (logged out, no CSRF, bad input, unknown ids)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.testclient import TestClient

from licenseserver.db.engine import make_async_engine
from licenseserver.db.unit_of_work import make_sessionmaker
from licenseserver.domain.leads import service
from tests.admin.test_leads_helpers import audit, contact, detail, everything, institution, note
from tests.support.world import TestWorld

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
NOT_LOGGED_IN = {"error": "Not logged in", "code": "NOT_AUTHENTICATED", "status": 401}


def assert_time(value: Any) -> None:
    assert isinstance(value, str) and ISO.fullmatch(value), value


def writes(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/leads/api/institutions", {"name": "Neu"}),
        ("POST", "/leads/api/contacts", {"first_name": "A", "last_name": "B", "institution_id": ids["i"]}),
        ("POST", f"/leads/api/contacts/{ids['c']}/details", {"type": "email", "value": "a@b.example"}),
        ("POST", f"/leads/api/contacts/{ids['c']}/notes", {"content": "Hallo"}),
        ("PUT", f"/leads/api/notes/{ids['n']}", {"content": "Neu"}),
    ]


def some_lead(world: TestWorld) -> dict[str, int]:
    i = institution(world)
    c = contact(world, i)
    return {"i": i, "c": c, "n": note(world, c, "Erstes Gespräch")}


def test_logged_out_json_is_401_and_changes_nothing(world: TestWorld, panel: TestClient) -> None:
    ids = some_lead(world)
    before = everything(world)
    for path in ("/leads/api/institutions", f"/leads/api/contacts/{ids['c']}", "/leads/api/stats"):
        response = panel.get(path)
        assert (response.status_code, response.json()) == (401, NOT_LOGGED_IN), path
    for method, path, body in writes(ids):
        response = panel.request(method, path, json=body)
        assert (response.status_code, response.json()) == (401, NOT_LOGGED_IN), path
    assert everything(world) == before


def test_writes_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    ids = some_lead(world)
    del staff_panel.headers["X-CSRF-Token"]
    before = everything(world)
    for method, path, body in writes(ids):
        response = staff_panel.request(method, path, json=body)
        assert response.status_code == 403, path
        assert response.json() == {"error": "CSRF token missing or wrong", "code": "CSRF_FAILED", "status": 403}
    staff_panel.headers["X-CSRF-Token"] = "wrong"
    assert staff_panel.post("/leads/api/institutions", json={"name": "X"}).status_code == 403
    assert everything(world) == before


def test_create_institution_has_the_reference_shape_and_is_audited(world: TestWorld, staff_panel: TestClient) -> None:
    response = staff_panel.post("/leads/api/institutions", json={"name": "  New University "})
    assert response.status_code == 201
    body = response.json()
    assert list(body)[:3] == ["id", "name", "created_at"]
    assert body["name"] == "New University" and body["type"] == "other" and body["customer_id"] is None
    assert_time(body["created_at"])
    stored = world.rows("SELECT id, name, institution_type, customer_id FROM lead_institutions")
    assert stored == [{"id": body["id"], "name": "New University", "institution_type": "other", "customer_id": None}]
    [entry] = audit(world, "lead_institution")
    assert (entry["actor"], entry["action"], entry["entity_id"]) == ("rac00n", "create", str(body["id"]))
    assert json.loads(entry["after"]) == {"name": "New University", "type": "other", "customer_id": None}

    customer_id = world.customer("Stadtwerke Jena", "it@stadtwerke-jena.example")
    linked = staff_panel.post(
        "/leads/api/institutions", json={"name": "Stadtwerke Jena", "type": "company", "customer_id": customer_id}
    )
    assert linked.status_code == 201 and linked.json()["customer_id"] == customer_id


BAD_INSTITUTIONS: list[Any] = [
    {},
    {"name": ""},
    {"name": "   "},
    {"name": "x" * 256},
    {"name": "A\u0000B"},
    {"name": "Zwei\nZeilen"},
    {"name": 5},
    {"name": "A", "type": "club"},
    {"name": "A", "customer_id": 0},
    {"name": "A", "customer_id": 2**31},
    {"name": "A", "extra": 1},
    ["name"],
    None,
]


def test_create_institution_refuses_bad_input(world: TestWorld, staff_panel: TestClient) -> None:
    before = everything(world)
    for body in BAD_INSTITUTIONS:
        response = staff_panel.post("/leads/api/institutions", json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["status"] == 400
    for raw in (b"{", b"", b"\xff\xfe"):
        response = staff_panel.post(
            "/leads/api/institutions", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    unknown = staff_panel.post("/leads/api/institutions", json={"name": "A", "customer_id": 999})
    assert unknown.status_code == 404 and unknown.json()["code"] == "CUSTOMER_NOT_FOUND"
    assert everything(world) == before


def test_institution_list_pages_and_searches(world: TestWorld, staff_panel: TestClient) -> None:
    first = institution(world, "Tech University", type="university")
    for n in range(24):
        institution(world, f"Firma {n:02d}", type="company")
    contact(world, first, "John", "Doe")
    contact(world, first, "Jane", "Roe")
    body = staff_panel.get("/leads/api/institutions").json()
    assert set(body) == {"institutions", "total", "page", "per_page"}
    assert (body["total"], body["page"], body["per_page"], len(body["institutions"])) == (25, 1, 20, 20)
    item = body["institutions"][0]
    assert item["name"] == "Firma 00"
    assert list(item)[:4] == ["id", "name", "contact_count", "created_at"]
    second = staff_panel.get("/leads/api/institutions?page=2&per_page=20").json()
    assert [i["name"] for i in second["institutions"]] == [
        "Firma 20",
        "Firma 21",
        "Firma 22",
        "Firma 23",
        "Tech University",
    ]
    tech = second["institutions"][-1]
    assert tech == {
        "id": first,
        "name": "Tech University",
        "contact_count": 2,
        "created_at": tech["created_at"],
        "type": "university",
        "customer_id": None,
    }
    assert_time(tech["created_at"])
    # Search: name, a contact's name, case-insensitive; wildcards literal.
    assert [i["id"] for i in staff_panel.get("/leads/api/institutions?search=TECH").json()["institutions"]] == [first]
    assert [i["id"] for i in staff_panel.get("/leads/api/institutions?search=roe").json()["institutions"]] == [first]
    assert staff_panel.get("/leads/api/institutions?search=%25").json()["total"] == 0
    empty = staff_panel.get("/leads/api/institutions?page=9").json()
    assert (empty["institutions"], empty["total"]) == ([], 25)


def test_institution_list_refuses_bad_parameters(world: TestWorld, staff_panel: TestClient) -> None:
    for query in ("page=0", "page=x", "per_page=0", "per_page=101", "search=%00", "search=" + "x" * 256):
        response = staff_panel.get(f"/leads/api/institutions?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "VALIDATION_ERROR"


def test_contact_with_details_and_notes_has_the_reference_shape(world: TestWorld, staff_panel: TestClient) -> None:
    institution_id = institution(world)
    created = staff_panel.post(
        "/leads/api/contacts",
        json={"first_name": "John", "last_name": "Doe", "position": "IT Manager", "institution_id": institution_id},
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    assert created.json() == {
        "id": contact_id,
        "first_name": "John",
        "last_name": "Doe",
        "position": "IT Manager",
        "institution_id": institution_id,
        "details": [],
        "notes": [],
    }
    email = staff_panel.post(
        f"/leads/api/contacts/{contact_id}/details",
        json={"type": "email", "value": "john.doe@EXAMPLE.com", "label": "Work"},
    )
    assert email.status_code == 201
    assert email.json() == {"id": email.json()["id"], "type": "email", "value": "john.doe@example.com", "label": "Work"}
    phone = staff_panel.post(
        f"/leads/api/contacts/{contact_id}/details",
        json={"type": "phone", "value": "+49 123 456789", "label": "Mobile"},
    ).json()
    note_response = staff_panel.post(f"/leads/api/contacts/{contact_id}/notes", json={"content": "Initial contact"})
    assert note_response.status_code == 201
    written = note_response.json()

    body = staff_panel.get(f"/leads/api/contacts/{contact_id}").json()
    assert list(body) == ["id", "first_name", "last_name", "position", "institution_id", "details", "notes"]
    assert body["details"] == [email.json(), phone]
    [shown] = body["notes"]
    assert shown == written
    assert {k: shown[k] for k in ("id", "content", "version", "created_by")} == {
        "id": shown["id"],
        "content": "Initial contact",
        "version": 1,
        "created_by": "rac00n",
    }
    assert_time(shown["created_at"])
    assert [v["version"] for v in shown["versions"]] == [1]
    actions = [(e["action"], e["entity_id"]) for e in world.rows("SELECT action, entity_id FROM audit_log ORDER BY id")]
    assert actions[-4:] == [
        ("create", str(contact_id)),
        ("create", str(email.json()["id"])),
        ("create", str(phone["id"])),
        ("create", str(shown["id"])),
    ]


BAD_DETAILS: list[Any] = [
    {"type": "email", "value": "not-an-email"},
    {"type": "email", "value": "a@b"},
    {"type": "email", "value": ""},
    {"type": "phone", "value": "call me"},
    {"type": "phone", "value": "12"},
    {"type": "phone", "value": "+49 123 abc"},
    {"type": "fax", "value": "+49 123 456789"},
    {"type": "email", "value": "a@b.example", "label": "x" * 51},
    {"type": "email", "value": "a@b.example", "label": "A\nB"},
    {"value": "a@b.example"},
]


def test_bad_contacts_details_and_notes_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    ids = some_lead(world)
    before = everything(world)
    bad_contacts: list[Any] = [
        {"first_name": "", "last_name": "B", "institution_id": ids["i"]},
        {"first_name": "A", "last_name": "B"},
        {"first_name": "A", "last_name": "B", "institution_id": "x"},
        {"first_name": "A", "last_name": "B\u0000", "institution_id": ids["i"]},
        {"first_name": "A" * 101, "last_name": "B", "institution_id": ids["i"]},
    ]
    for body in bad_contacts:
        assert staff_panel.post("/leads/api/contacts", json=body).status_code == 400, body
    for body in BAD_DETAILS:
        response = staff_panel.post(f"/leads/api/contacts/{ids['c']}/details", json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR"
    for body in ({}, {"content": ""}, {"content": "   "}, {"content": "x" * 10_001}, {"content": "a\u0000"}):
        assert staff_panel.post(f"/leads/api/contacts/{ids['c']}/notes", json=body).status_code == 400, body
        assert staff_panel.put(f"/leads/api/notes/{ids['n']}", json=body).status_code == 400, body
    assert everything(world) == before


def test_unknown_ids_are_404(world: TestWorld, staff_panel: TestClient) -> None:
    ids = some_lead(world)
    before = everything(world)
    for method, path, body in (
        ("GET", "/leads/api/contacts/999", None),
        ("POST", "/leads/api/contacts", {"first_name": "A", "last_name": "B", "institution_id": 999}),
        ("POST", "/leads/api/contacts/999/details", {"type": "email", "value": "a@b.example"}),
        ("POST", "/leads/api/contacts/999/notes", {"content": "x"}),
        ("PUT", "/leads/api/notes/999", {"content": "x"}),
    ):
        response = staff_panel.request(method, path, json=body)
        assert response.status_code == 404, path
        assert response.json()["code"] == "NOT_FOUND" and response.json()["status"] == 404
    assert staff_panel.get("/leads/api/contacts/99999999999").status_code == 400  # beyond any id column
    assert staff_panel.get("/leads/api/nothing").json()["code"] == "NOT_FOUND"
    assert staff_panel.delete(f"/leads/api/notes/{ids['n']}").status_code == 405
    assert everything(world) == before


def test_editing_a_note_twice_keeps_versions_1_2_3(world: TestWorld, staff_panel: TestClient) -> None:
    ids = some_lead(world)
    first = staff_panel.put(f"/leads/api/notes/{ids['n']}", json={"content": "Zweite Fassung"})
    assert first.status_code == 200 and first.json()["version"] == 2
    second = staff_panel.put(f"/leads/api/notes/{ids['n']}", json={"content": "Dritte Fassung"}).json()
    assert (second["id"], second["content"], second["version"], second["created_by"]) == (
        ids["n"],
        "Dritte Fassung",
        3,
        "rac00n",
    )
    assert [(v["version"], v["content"]) for v in second["versions"]] == [
        (3, "Dritte Fassung"),
        (2, "Zweite Fassung"),
        (1, "Erstes Gespräch"),
    ]
    [shown] = staff_panel.get(f"/leads/api/contacts/{ids['c']}").json()["notes"]
    assert shown == second
    stored = world.rows(
        "SELECT version, content, created_by FROM lead_note_versions WHERE note_id = :n ORDER BY version", n=ids["n"]
    )
    assert stored == [
        {"version": 1, "content": "Erstes Gespräch", "created_by": "rac00n"},
        {"version": 2, "content": "Zweite Fassung", "created_by": "rac00n"},
        {"version": 3, "content": "Dritte Fassung", "created_by": "rac00n"},
    ]
    edits = [e for e in audit(world, "lead_note") if e["action"] == "update"]
    assert [(json.loads(e["before"])["version"], json.loads(e["after"])["version"]) for e in edits] == [(1, 2), (2, 3)]
    assert json.loads(edits[1]["before"])["content"] == "Zweite Fassung"


def test_stats_follow_their_definitions(world: TestWorld, staff_panel: TestClient) -> None:
    empty = staff_panel.get("/leads/api/stats").json()
    assert empty == {
        "total_institutions": 0,
        "total_contacts": 0,
        "recent_activities": 0,
        "conversion_rate": 0.0,
        "by_type": {"university": 0, "company": 0, "government": 0, "other": 0},
    }
    customer_id = world.customer()
    uni = institution(world, "Uni A", type="university")
    institution(world, "Uni B", type="university")
    institution(world, "Firma", type="company", customer_id=customer_id)
    institution(world, "Amt", type="government")
    institution(world, "Verein")
    institution(world, "Firma 2", type="company")
    person = contact(world, uni)
    contact(world, uni, "Max", "Muster")
    old_note = note(world, person, "alt")
    note(world, person, "neu")
    detail(world, person, "email", "a@b.example")
    old_detail = detail(world, person, "phone", "+49 30 1234567")
    world.execute("UPDATE lead_notes SET created_at = :t WHERE id = :i", t="2020-01-01 00:00:00+00:00", i=old_note)
    world.execute(
        "UPDATE lead_contact_details SET created_at = :t WHERE id = :i", t="2020-01-01 00:00:00+00:00", i=old_detail
    )
    staff_panel.put(f"/leads/api/notes/{old_note}", json={"content": "alt, bearbeitet"})  # an edit is no new note

    stats = staff_panel.get("/leads/api/stats").json()
    assert stats == {
        "total_institutions": 6,
        "total_contacts": 2,
        "recent_activities": 2,  # one note and one detail within 7 days
        "conversion_rate": 16.7,  # 1 of 6 linked to a customer
        "by_type": {"university": 2, "company": 2, "government": 1, "other": 1},
    }


def test_parallel_edits_of_one_note_become_consecutive_versions(world: TestWorld) -> None:
    """Five edits at once, each in its own transaction and connection: none is lost, none fails."""
    ids = some_lead(world)

    async def edit_all() -> None:
        engine = make_async_engine(world.database_url)
        sessions = make_sessionmaker(engine)

        async def edit(text: str) -> None:
            async with sessions.begin() as session:
                await service.edit_note(session, ids["n"], text, "rac00n")

        try:
            await asyncio.gather(*(edit(f"Fassung {n}") for n in range(5)))
        finally:
            await engine.dispose()

    asyncio.run(edit_all())
    rows = world.rows("SELECT version, content FROM lead_note_versions WHERE note_id = :n ORDER BY version", n=ids["n"])
    assert [r["version"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert sorted(r["content"] for r in rows[1:]) == [f"Fassung {n}" for n in range(5)]
    assert world.scalar("SELECT current_version FROM lead_notes WHERE id = :n", n=ids["n"]) == 6
