"""What a new operator met on a first run through docs/admin.md: the lead page's refusals in the
staff member's language, the computer named on a license's sessions, a refused device
registration that keeps what was typed, a form-wide refusal said once, and an English account
that meets no German in confirmation questions, titles or a lead's activity list."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from tests.admin.pool_support import license_id, pool
from tests.admin.test_i18n import visible_text
from tests.api.helpers import SESSION_START, activate
from tests.conftest import make_client
from tests.support.world import TestWorld

PANEL_PAGE = {"X-Panel-Page": "1"}
# German words of the panel's own texts that an English page must not show (visible text and the
# attributes a reader meets: data-confirm, title, aria-label, placeholder).
GERMAN_WORDS = re.compile(
    r"\b(?:wirklich|löschen|beenden|deaktivieren|freigeben|Quarantäne|nehmen|Rechner|Sitzung|Gerät|Geräts|Lizenz"
    r"|Kunde|Datei|ohne|Verbindung|Kontakt|Kontaktangabe|Notiz|bearbeitet|angelegt|Deaktiviert|kopiert"
    r"|Zwischenablage|gespeichert|erreichbar|für|auf|zu|von|und|mit|dieses|diesem)\b"
)


def _lead_with_contact(staff_panel: TestClient) -> tuple[int, int]:
    institution = staff_panel.post("/leads/api/institutions", json={"name": "Uni Beispiel", "type": "university"})
    assert institution.status_code == 201, institution.text
    lead = institution.json()["id"]
    contact = staff_panel.post(
        "/leads/api/contacts", json={"institution_id": lead, "first_name": "Erika", "last_name": "Muster"}
    )
    assert contact.status_code == 201, contact.text
    return lead, contact.json()["id"]


def _english(staff_panel: TestClient) -> None:
    csrf = staff_panel.headers["x-csrf-token"]
    assert staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"}).status_code == 200


def test_the_lead_pages_script_gets_the_reason_in_german_beside_the_contracts_english(
    world: TestWorld, staff_panel: TestClient
) -> None:
    _lead, contact = _lead_with_contact(staff_panel)
    details = f"/leads/api/contacts/{contact}/details"
    bad_email = {"type": "email", "value": "keine-adresse"}
    plain = staff_panel.post(details, json=bad_email)
    # Without the page's header the contract's body is unchanged.
    assert plain.status_code == 400 and "display" not in plain.json()
    assert plain.json()["error"] == "Invalid request: value: Value error, is not a valid e-mail address"
    asked = staff_panel.post(details, json=bad_email, headers=PANEL_PAGE)
    assert asked.status_code == 400
    assert asked.json()["error"] == plain.json()["error"]
    assert asked.json()["display"] == "Ungültige Eingabe – E-Mail oder Telefon: ist keine gültige E-Mail-Adresse"
    blank = staff_panel.post(f"/leads/api/contacts/{contact}/notes", json={"content": "   "}, headers=PANEL_PAGE)
    assert blank.status_code == 400
    assert blank.json()["display"] == "Ungültige Eingabe – Notiz: darf nicht leer sein"
    missing = staff_panel.post("/leads/api/contacts/999999/notes", json={"content": "Hallo"}, headers=PANEL_PAGE)
    assert missing.status_code == 404 and missing.json()["display"] == "Kontakt 999999 nicht gefunden"
    assert world.scalar("SELECT count(*) FROM lead_contact_details") == 0
    assert world.scalar("SELECT count(*) FROM lead_notes") == 0
    _english(staff_panel)
    english = staff_panel.post(details, json=bad_email, headers=PANEL_PAGE)
    assert english.json()["display"] == "Invalid input – E-mail or phone: is not a valid e-mail address"


def test_a_licenses_sessions_name_the_computer_as_its_activation_knows_it(
    world: TestWorld, staff_panel: TestClient
) -> None:
    key = world.license(max_activations=2)
    with make_client(world) as api:
        assert activate(api, key, "hw-empfang", "EMPFANG-PC").status_code == 200
        # A client that sends no machine id: the session itself has no name for the computer.
        started = api.post(SESSION_START, json={"license_key": key, "hardware_hash": "hw-empfang", "version": "1.0.0"})
        assert started.status_code == 200, started.text
    page = staff_panel.get(f"/licenses/{license_id(world, key)}")
    sessions = page.text.split('id="sitzungen"', 1)[1].split("</table>", 1)[0]
    assert "<td>EMPFANG-PC</td>" in sessions
    assert "Sitzung auf EMPFANG-PC beenden?" in sessions
    assert "Sitzung von " + key + " auf EMPFANG-PC beenden?" in staff_panel.get("/sessions").text


def test_a_refused_device_registration_keeps_the_form_open_with_what_was_typed(
    world: TestWorld, staff_panel: TestClient
) -> None:
    key = world.license(max_activations=1)
    lid = license_id(world, key)
    form = {"csrf_token": staff_panel.headers["x-csrf-token"], "machine_name": "EMPFANG-PC", "app_version": "2.0.0"}
    assert staff_panel.post(f"/licenses/{lid}/devices", data={**form, "hardware_hash": "hw-one"}).status_code == 200
    refused = staff_panel.post(f"/licenses/{lid}/devices", data={**form, "hardware_hash": "hw-two"})
    assert refused.status_code == 409
    assert "Aktivierungsgrenze erreicht (1 Geräte)" in refused.text
    assert "<details open>" in refused.text
    assert 'name="hardware_hash" required maxlength="256" value="hw-two"' in refused.text
    assert 'value="EMPFANG-PC"' in refused.text and 'value="2.0.0"' in refused.text
    assert world.scalar("SELECT count(*) FROM activations WHERE license_id = :l", l=lid) == 1
    # The page as it is reached normally: the form closed and empty.
    normal = staff_panel.get(f"/licenses/{lid}")
    assert "<details>" in normal.text and 'value="hw-two"' not in normal.text


def test_a_check_of_the_whole_form_is_said_once_in_either_language(world: TestWorld, staff_panel: TestClient) -> None:
    client = world.scalar("SELECT min(id) FROM client_configs")
    form: dict[str, Any] = {
        "csrf_token": staff_panel.headers["x-csrf-token"],
        "client_name": "Account Forger",
        "heartbeat_interval": "100",
        "session_timeout": "50",
        "minimum_version": "1.0.0",
    }
    refused = staff_panel.post(f"/administration/clients/{client}", data=form)
    assert refused.status_code == 400
    said = "Ungültige Eingabe – Das Sitzungs-Timeout muss größer als das Heartbeat-Intervall sein"
    assert said in refused.text and "Eingabe: " not in visible_text(refused.text)
    _english(staff_panel)
    english = staff_panel.post(f"/administration/clients/{client}", data=form)
    assert "Invalid input – The session timeout must be greater than the heartbeat interval" in english.text


def test_an_english_account_meets_no_german_in_questions_titles_or_a_leads_activities(
    world: TestWorld, staff_panel: TestClient
) -> None:
    key = world.license(max_activations=3)
    lid = license_id(world, key)
    with make_client(world) as api:
        assert activate(api, key, "hw-laptop", "LAPTOP-7").status_code == 200
        started = api.post(SESSION_START, json={"license_key": key, "hardware_hash": "hw-laptop", "version": "1.0.0"})
        assert started.status_code == 200
    [allocated, _free] = pool(world, "server", "srv1.example", "srv2.example")
    assert staff_panel.post("/api/resources/allocate", json={"license_id": lid, "resource_ids": [allocated]}).is_success
    inactive = license_id(world, world.license(is_active=False))
    lead, contact = _lead_with_contact(staff_panel)
    staff_panel.post(f"/leads/api/contacts/{contact}/details", json={"type": "email", "value": "erika@uni.example"})
    note = staff_panel.post(f"/leads/api/contacts/{contact}/notes", json={"content": "Erstes Gespräch"}).json()
    assert staff_panel.put(f"/leads/api/notes/{note['id']}", json={"content": "Zweites Gespräch"}).is_success
    customer = world.scalar("SELECT customer_id FROM licenses WHERE id = :l", l=lid)
    client = world.scalar("SELECT min(id) FROM client_configs")
    _english(staff_panel)
    pages = [
        f"/licenses/{lid}",
        f"/licenses/{lid}/edit",
        f"/licenses/{inactive}",
        f"/customers/{customer}/edit",
        "/sessions",
        "/resources",
        f"/resources/{allocated}",
        f"/leads/edit/{lead}",
        "/administration",
        f"/administration/clients/{client}",
    ]
    for path in pages:
        page = staff_panel.get(path)
        assert page.status_code == 200, path
        text = visible_text(page.text)
        # The seeded and typed data stay as they are; only the panel's own words count.
        for data in ("Erstes Gespräch", "Zweites Gespräch", "Uni Beispiel", "Erika Muster"):
            text = text.replace(data, "")
        assert not GERMAN_WORDS.findall(text), (path, GERMAN_WORDS.findall(text))
    detail = staff_panel.get(f"/leads/edit/{lead}").text
    assert "Note on Erika Muster edited (version 2)" in detail and "Contact added" in detail
    assert 'data-copied="JWK Set copied to the clipboard."' in staff_panel.get("/administration").text
    assert ">Deactivated<" in staff_panel.get(f"/licenses/{inactive}").text
