"""The leads' pages: overview (search, type filter, paging), create, a lead's page, update,
delete with confirmation; logged out, without CSRF, bad input and unknown ids."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from tests.admin.conftest import count_queries
from tests.admin.test_leads_helpers import audit, contact, detail, everything, institution, lead_rows, note
from tests.support.world import TestWorld


def test_logged_out_pages_redirect_to_login(world: TestWorld, panel: TestClient) -> None:
    lead = institution(world)
    before = everything(world)
    for path in ("/leads/", "/leads/create", f"/leads/edit/{lead}", "/leads/export"):
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    for path in ("/leads/create", f"/leads/update/{lead}", f"/leads/delete/{lead}"):
        response = panel.post(path, data={"name": "X", "type": "other", "confirm": "yes"}, follow_redirects=False)
        assert response.status_code == 303, path
    response = panel.post("/leads/import", files={"file": ("l.csv", b"x")}, follow_redirects=False)
    assert response.status_code == 303
    assert everything(world) == before


def test_unsafe_requests_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    lead = institution(world)
    del staff_panel.headers["X-CSRF-Token"]
    before = everything(world)
    form = {"name": "Neu", "type": "company", "confirm": "yes"}
    for path in ("/leads/create", f"/leads/update/{lead}", f"/leads/delete/{lead}"):
        assert staff_panel.post(path, data=form).status_code == 403, path
    assert staff_panel.post("/leads/import", files={"file": ("l.csv", b"x")}).status_code == 403
    assert everything(world) == before


def test_create_a_lead_then_it_is_listed_and_audited(world: TestWorld, staff_panel: TestClient) -> None:
    form = staff_panel.get("/leads/create")
    assert form.status_code == 200 and 'name="name"' in form.text and "Universität" in form.text
    customer_id = world.customer("Hochschule Nord", "it@hs-nord.example")
    response = staff_panel.post(
        "/leads/create",
        data={"name": " Hochschule Nord ", "type": "university", "customer_id": str(customer_id)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    lead = world.scalar("SELECT id FROM lead_institutions")
    assert response.headers["location"] == f"/leads/edit/{lead}?notice=saved"
    stored = world.rows("SELECT name, institution_type, customer_id FROM lead_institutions")
    assert stored == [{"name": "Hochschule Nord", "institution_type": "university", "customer_id": customer_id}]
    [entry] = audit(world, "lead_institution")
    assert (entry["action"], entry["entity_id"]) == ("create", str(lead))
    page = staff_panel.get(f"/leads/edit/{lead}?notice=saved")
    assert "Gespeichert." in page.text and "Hochschule Nord - it@hs-nord.example" in page.text
    listing = staff_panel.get("/leads/")
    assert "Hochschule Nord" in listing.text and "Universität" in listing.text and "100,0 %" in listing.text


def test_create_and_update_refuse_bad_input(world: TestWorld, staff_panel: TestClient) -> None:
    lead = institution(world, "Alt")
    before = everything(world)
    bad_forms = [
        {"name": "", "type": "company"},
        {"name": "x" * 256, "type": "company"},
        {"name": "A", "type": "verein"},
        {"name": "A\x00", "type": "company"},
        {"name": "A", "type": "company", "customer_id": "abc"},
        {"name": "A", "type": "company", "customer_id": "0"},
        {"type": "company"},
    ]
    for form in bad_forms:
        for path in ("/leads/create", f"/leads/update/{lead}"):
            response = staff_panel.post(path, data=form)
            assert response.status_code == 400, (path, form)
            assert "notice error" in response.text
    unknown_customer = staff_panel.post("/leads/create", data={"name": "A", "type": "company", "customer_id": "999"})
    assert unknown_customer.status_code == 404 and "Kunde 999 nicht gefunden" in unknown_customer.text
    assert everything(world) == before


def test_overview_searches_filters_and_pages(world: TestWorld, staff_panel: TestClient) -> None:
    for n in range(30):
        institution(world, f"Firma {n:02d}", type="company")
    uni = institution(world, "Universität Passau", type="university")
    person = contact(world, uni, "Jörg", "Übermann")
    detail(world, person, "email", "joerg@uni-passau.example")
    first = staff_panel.get("/leads/")
    assert first.status_code == 200
    assert "Firma 00" in first.text and "Firma 24" in first.text and "Firma 25" not in first.text
    assert "1–25 von 31 Institutionen" in first.text
    second = staff_panel.get("/leads/?page=2")
    assert "Firma 25" in second.text and "Universität Passau" in second.text and "Firma 24" not in second.text
    only_unis = staff_panel.get("/leads/?type=university")
    assert "Universität Passau" in only_unis.text and "Firma 00" not in only_unis.text
    for q in ("passau", "Übermann", "JOERG@uni"):  # SQLite folds the case of ASCII letters only
        hit = staff_panel.get(f"/leads/?q={q}")
        assert "Universität Passau" in hit.text and "Firma 00" not in hit.text, q
    assert "Keine Institutionen gefunden." in staff_panel.get("/leads/?q=nichts&type=government").text
    for query in ("type=club", "page=0", "page=x", "q=%00", "q=" + "x" * 256):
        assert staff_panel.get(f"/leads/?{query}").status_code == 400, query
    assert staff_panel.get("/leads", follow_redirects=False).status_code in (307, 308)


def test_the_lead_page_shows_contacts_details_notes_and_timeline(world: TestWorld, staff_panel: TestClient) -> None:
    lead = institution(world, "Landratsamt Gotha", type="government")
    person = contact(world, lead, "Anna", "Schmidt", position="IT-Leitung")
    detail(world, person, "email", "anna.schmidt@gotha.example", "Büro")
    detail(world, person, "phone", "+49 3621 123456", "Mobil")
    note_id = note(world, person, "Rückruf vereinbart")
    assert staff_panel.put(f"/leads/api/notes/{note_id}", json={"content": "Termin am Montag"}).status_code == 200
    page = staff_panel.get(f"/leads/edit/{lead}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Landratsamt Gotha",
        "Behörde",
        "Anna Schmidt",
        "IT-Leitung",
        "anna.schmidt@gotha.example",
        "+49 3621 123456",
        "Termin am Montag",
        "Verlauf (2 Versionen)",
        "Rückruf vereinbart",
        "Notiz zu Anna Schmidt bearbeitet (Version 2)",
        "Kontakt angelegt",
        'src="/static/leads.js"',
    ):
        assert expected in text, expected
    # Versions newest first, in the note's history and in the timeline.
    assert text.index("Version 2 · rac00n") < text.index("Version 1 · rac00n")
    assert text.index("(Version 2)") < text.index("(Version 1)")
    assert "<script>" not in text  # the CSP allows no inline script
    for path in ("/leads/edit/999", "/leads/edit/0"):
        assert staff_panel.get(path).status_code == 404
    assert staff_panel.get("/leads/edit/99999999999").status_code == 400


def test_update_a_lead_audits_before_and_after(world: TestWorld, staff_panel: TestClient) -> None:
    lead = institution(world, "Alter Name", type="company")
    response = staff_panel.post(
        f"/leads/update/{lead}", data={"name": "Neuer Name", "type": "other", "customer_id": ""}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == f"/leads/edit/{lead}?notice=saved"
    assert world.rows("SELECT name, institution_type FROM lead_institutions") == [
        {"name": "Neuer Name", "institution_type": "other"}
    ]
    [entry] = audit(world, "lead_institution")  # the set-up wrote through the service, unaudited
    assert entry["action"] == "update"
    assert json.loads(entry["before"]) == {"name": "Alter Name", "type": "company", "customer_id": None}
    assert json.loads(entry["after"]) == {"name": "Neuer Name", "type": "other", "customer_id": None}
    assert staff_panel.post("/leads/update/999", data={"name": "X", "type": "other"}).status_code == 404


def test_delete_asks_first_then_removes_everything_of_the_lead(world: TestWorld, staff_panel: TestClient) -> None:
    lead = institution(world, "Weg GmbH", type="company")
    keep = institution(world, "Bleibt AG", type="company")
    person = contact(world, lead)
    detail(world, person, "email", "a@weg.example")
    note(world, person, "Notiz")
    contact(world, keep, "Bleibt", "Hier")
    before = lead_rows(world)
    question = staff_panel.post(f"/leads/delete/{lead}")
    assert question.status_code == 200
    assert "Institution „Weg GmbH“ löschen?" in question.text and "Endgültig löschen" in question.text
    assert "1 Kontaktangabe(n), 1 Notiz(en)" in question.text
    assert lead_rows(world) == before  # asking deletes nothing

    response = staff_panel.post(f"/leads/delete/{lead}", data={"confirm": "yes"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/leads/?notice=deleted"
    assert world.rows("SELECT id FROM lead_institutions") == [{"id": keep}]
    assert world.scalar("SELECT COUNT(*) FROM lead_contacts") == 1
    for table in ("lead_contact_details", "lead_notes", "lead_note_versions"):
        assert world.scalar(f"SELECT COUNT(*) FROM {table}") == 0, table
    entry = audit(world, "lead_institution")[-1]
    assert entry["action"] == "delete"
    assert json.loads(entry["before"]) == {
        "name": "Weg GmbH",
        "type": "company",
        "customer_id": None,
        "contacts": ["Erika Mustermann"],
        "details": 1,
        "notes": 1,
    }
    assert "Institution gelöscht." in staff_panel.get("/leads/?notice=deleted").text
    for form in ({}, {"confirm": "yes"}):
        assert staff_panel.post(f"/leads/delete/{lead}", data=form).status_code == 404


def test_deleting_the_customer_keeps_the_lead(world: TestWorld, staff_panel: TestClient) -> None:
    customer_id = world.customer("Wird Kunde AG", "info@wirdkunde.example")
    lead = institution(world, "Wird Kunde AG", type="company", customer_id=customer_id)
    assert staff_panel.post(f"/customers/{customer_id}/delete", follow_redirects=False).status_code == 303
    assert world.rows("SELECT id, customer_id FROM lead_institutions") == [{"id": lead, "customer_id": None}]


def test_the_navigation_links_to_leads(world: TestWorld, staff_panel: TestClient) -> None:
    assert '<a href="/leads/">Leads</a>' in staff_panel.get("/").text


def add_leads(world: TestWorld, count: int, first: int = 0) -> int:
    """`count` institutions named "Viele …", each with a contact, two details and a note; the last id."""
    lead = 0
    for n in range(first, first + count):
        lead = institution(world, f"Viele {n:03d}", type="company")
        person = contact(world, lead, f"Vor{n}", f"Nach{n}")
        detail(world, person, "email", f"p{n}@viele.example")
        detail(world, person, "phone", f"+49 30 {n:07d}")
        note(world, person, f"Notiz {n}")
    return lead


def test_the_overview_and_a_lead_page_keep_their_query_count(world: TestWorld, staff_panel: TestClient) -> None:
    add_leads(world, 2)
    paths = ("/leads/", "/leads/?q=viele&type=company", "/leads/api/institutions?search=viele")
    staff_panel.get(paths[0])  # warm up: first-use statements of the connection
    few = [count_queries(staff_panel, path) for path in paths]
    add_leads(world, 30, first=2)
    assert "1–25 von 32 Institutionen" in staff_panel.get(paths[1]).text
    assert few == [count_queries(staff_panel, path) for path in paths]

    small = institution(world, "Eine Person")
    note(world, contact(world, small), "eine Notiz")
    big = institution(world, "Viele Personen")
    for n in range(8):
        person = contact(world, big, f"Vor{n}", "Person")
        detail(world, person, "email", f"v{n}@personen.example")
        note(world, person, "Notiz")
    assert count_queries(staff_panel, f"/leads/edit/{small}") == count_queries(staff_panel, f"/leads/edit/{big}")
