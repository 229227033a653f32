"""Leads in Chromium: create a lead, add a contact with an e-mail address and a phone number, write
a note and edit it (the history shows both versions), export the leads, and import the exported
file into a fresh database served by its own processes. On a desktop screen and on a phone: each
run makes a lead of its own name, and the export holds every lead of the module's database."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from licenseserver.db.engine import make_engine
from tests.admin.conftest import make_staff
from tests.browser.conftest import Servers, log_in, open_from_menu, running_servers, screenshot
from tests.support import database
from tests.support.world import TestWorld

_fresh_numbers = itertools.count(1)
LEADS = {"desktop": "Fachhochschule Südwestfalen", "phone": "Fachhochschule Ostwestfalen"}


@contextmanager
def fresh_servers() -> Iterator[tuple[TestWorld, Servers]]:
    """Both apps on a brand-new PostgreSQL database with one staff user."""
    name = f"licenseserver_test_leads_browser_{os.getpid()}_{next(_fresh_numbers)}"
    url = database.create_pg_database(name)
    engine = make_engine(url)
    try:
        database.reset_pg(engine)
        world = TestWorld("postgresql", url, engine)
        make_staff(world)
        with running_servers(world) as servers:
            yield world, servers
    finally:
        engine.dispose()
        database.drop_pg_database(name)


def lead_facts(world: TestWorld, lead: str) -> list[dict[str, Any]]:
    return world.rows(
        "SELECT i.name, i.institution_type, c.first_name, c.last_name, c.position, d.detail_type, d.value, d.label"
        " FROM lead_institutions i JOIN lead_contacts c ON c.institution_id = i.id"
        " JOIN lead_contact_details d ON d.contact_id = c.id WHERE i.name = :n ORDER BY d.id",
        n=lead,
    )


def create_lead_with_contact(page: Page, lead: str) -> None:
    open_from_menu(page, "Leads")
    page.get_by_role("button", name="Neue Institution").click()
    expect(page.get_by_role("heading", name="Neue Institution")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(lead)
    page.get_by_label("Typ").select_option("university")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("status")).to_have_text("Gespeichert.")
    expect(page.get_by_role("heading", name=lead, level=1)).to_be_visible()

    new_contact = page.get_by_role("form", name="Neuer Kontakt")
    new_contact.get_by_label("Vorname").fill("Jürgen")
    new_contact.get_by_label("Nachname").fill("Weiß")
    new_contact.get_by_label("Position").fill("Leiter Rechenzentrum")
    new_contact.get_by_role("button", name="Kontakt hinzufügen").click()
    person = page.get_by_role("article", name="Jürgen Weiß")
    expect(person).to_contain_text("Leiter Rechenzentrum")

    for kind, value, label in (("email", "weiss@fh-swf.example", "Büro"), ("phone", "+49 2371 566-0", "Zentrale")):
        person.get_by_label("Art").select_option(kind)
        person.get_by_label("E-Mail oder Telefon").fill(value)
        person.get_by_label("Bezeichnung").fill(label)
        person.get_by_role("button", name="Hinzufügen", exact=True).click()
        expect(person.get_by_role("link", name=value)).to_be_visible()


def write_and_edit_a_note(page: Page) -> None:
    person = page.get_by_role("article", name="Jürgen Weiß")
    person.get_by_label("Neue Notiz").fill("Erstes Telefonat: Interesse an 20 Lizenzen.")
    person.get_by_role("button", name="Notiz hinzufügen").click()
    expect(person.locator(".lead-note .note-text").first).to_have_text("Erstes Telefonat: Interesse an 20 Lizenzen.")

    person.get_by_text("Bearbeiten", exact=True).click()
    person.get_by_label("Neuer Text").fill("Angebot über 25 Lizenzen geschickt.")
    person.get_by_role("button", name="Als neue Version speichern").click()
    expect(person.locator(".lead-note .note-text").first).to_have_text("Angebot über 25 Lizenzen geschickt.")
    history = person.locator("details.note-history")
    history.get_by_text("Verlauf (2 Versionen)").click()
    versions = history.locator("ol.versions > li")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("Version 2 · rac00n")
    expect(versions.nth(0)).to_contain_text("Angebot über 25 Lizenzen geschickt.")
    expect(versions.nth(1)).to_contain_text("Version 1 · rac00n")
    expect(versions.nth(1)).to_contain_text("Erstes Telefonat: Interesse an 20 Lizenzen.")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Notiz zu Jürgen Weiß bearbeitet (Version 2)")


@pytest.mark.usefixtures("logged_in")
def test_lead_contact_note_export_and_import_into_a_fresh_database(
    page: Page, shared_servers: Servers, shared_world: TestWorld, tmp_path: Path, screen: str
) -> None:
    lead = LEADS[screen]
    create_lead_with_contact(page, lead)
    write_and_edit_a_note(page)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "lead_detail")
    versions = shared_world.rows(
        "SELECT v.version, v.created_by FROM lead_note_versions v JOIN lead_notes n ON n.id = v.note_id"
        " JOIN lead_contacts c ON c.id = n.contact_id JOIN lead_institutions i ON i.id = c.institution_id"
        " WHERE i.name = :n AND c.last_name = 'Weiß' ORDER BY v.version",
        n=lead,
    )
    assert versions == [{"version": 1, "created_by": "rac00n"}, {"version": 2, "created_by": "rac00n"}]

    page.get_by_role("navigation", name="Brotkrumen").get_by_role("link", name="Leads", exact=True).click()
    row = page.get_by_role("row").filter(has_text=lead)
    expect(row).to_contain_text("Universität")
    expect(row).to_contain_text("1")
    screenshot(page, "leads")
    exported_leads = shared_world.scalar("SELECT COUNT(*) FROM lead_institutions")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export (CSV)").click()
    exported = tmp_path / "leads.csv"
    download_info.value.save_as(exported)
    data = exported.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and lead.encode() in data
    assert b";phone;'+49 2371 566-0;Zentrale" in data  # the formula guard on the phone number

    with fresh_servers() as (fresh_world, fresh):
        log_in(page, fresh)
        page.goto(f"{fresh.admin_url}/leads/")
        expect(page.get_by_text("Keine Institutionen gefunden.")).to_be_visible()
        page.get_by_label("CSV-Datei").set_input_files(exported)
        page.get_by_role("button", name="Importieren").click()
        expect(page.get_by_role("status")).to_have_text(
            f"Import abgeschlossen: {exported_leads} Institution(en) angelegt."
        )
        expect(page.get_by_role("row").filter(has_text=lead)).to_be_visible()
        assert lead_facts(fresh_world, lead) == lead_facts(shared_world, lead)
        assert len(lead_facts(fresh_world, lead)) == 2
