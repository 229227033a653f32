"""A new operator's first run in Chromium, where it went wrong once: a refusal on a lead's page in
English beside a stale "Gespeichert.", an action there that ended without a message, and the
recovery codes, shown only once, below the fold after switching TOTP on (at 1440 × 900 and on a
phone, 390 × 844)."""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import Page, ViewportSize, expect

from tests.admin.conftest import make_staff
from tests.browser.conftest import Servers, log_in
from tests.support.world import TestWorld


def test_a_refusal_on_a_leads_page_is_german_and_a_success_says_so(
    page: Page, shared_servers: Servers, screen: str
) -> None:
    lead = f"Stadtwerke Probelauf {screen}"
    log_in(page, shared_servers)
    page.goto(f"{shared_servers.admin_url}/leads/create")
    page.get_by_label("Name", exact=True).fill(lead)
    page.get_by_role("button", name="Speichern").click()
    saved = page.get_by_role("status")
    expect(saved).to_have_text("Gespeichert.")
    new_contact = page.get_by_role("form", name="Neuer Kontakt")
    new_contact.get_by_label("Vorname").fill("Erika")
    new_contact.get_by_label("Nachname").fill("Probe")
    new_contact.get_by_role("button", name="Kontakt hinzufügen").click()
    person = page.get_by_role("article", name="Erika Probe")
    expect(person).to_be_visible()

    person.get_by_label("Art").select_option("email")
    person.get_by_label("E-Mail oder Telefon").fill("keine-adresse")
    person.get_by_role("button", name="Hinzufügen", exact=True).click()
    refusal = person.get_by_role("alert")
    expect(refusal).to_have_text(
        "Nicht gespeichert: Ungültige Eingabe – E-Mail oder Telefon: ist keine gültige E-Mail-Adresse"
    )
    expect(page.get_by_text("Gespeichert.", exact=True)).to_be_hidden()  # no success beside the refusal

    # Opened from the list (no message in the address), a note saved says so after the reload.
    page.goto(f"{shared_servers.admin_url}/leads/")
    page.get_by_role("link", name=lead).click()
    expect(page.get_by_role("status")).to_have_count(0)
    person = page.get_by_role("article", name="Erika Probe")
    person.get_by_label("Neue Notiz").fill("Rückruf vereinbart.")
    person.get_by_role("button", name="Notiz hinzufügen").click()
    expect(page.get_by_role("status")).to_have_text("Gespeichert.")
    expect(page).to_have_url(re.compile(r"/leads/edit/\d+\?notice=saved$"))
    expect(page.locator("ol.timeline")).to_contain_text("Notiz zu Erika Probe (Version 1)")


def test_the_recovery_codes_are_in_sight_when_totp_is_switched_on(
    page: Page, shared_servers: Servers, shared_world: TestWorld, viewport: ViewportSize, screen: str
) -> None:
    username, password = f"trial-{screen}", "Ein-langes-Passwort-1"
    make_staff(shared_world, username, password)
    log_in(page, shared_servers, username, password)
    page.goto(f"{shared_servers.admin_url}/account/totp")
    secret = page.locator(".totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code der Authenticator-App").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Bestätigen und einschalten").click()
    expect(page.get_by_role("status")).to_have_text("Die Zwei-Faktor-Anmeldung ist eingerichtet.")
    codes = page.locator(".recovery-code-list code")
    expect(codes).to_have_count(10)
    assert page.evaluate("window.scrollY") == 0
    # The heading and the first codes stand in the first screen, not below the fold.
    heading = page.get_by_role("heading", name="Neue Wiederherstellungscodes")
    for shown in (heading, codes.first, codes.nth(2)):
        box = shown.bounding_box()
        assert box is not None and box["y"] + box["height"] <= viewport["height"], box
    # The heading fits a phone's line (it once broke inside "Wiederherstellungsco-des").
    lines = heading.evaluate(
        "h => { const r = document.createRange(); r.selectNodeContents(h); return r.getClientRects().length; }"
    )
    assert lines == 1
