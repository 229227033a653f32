"""Staff flows through the real pages in Chromium: each test drives the admin panel the way a
person does and then checks what the database holds or what the License API answers.

The tests of this module share one database and one pair of server processes (`shared_world`,
`shared_servers`): each makes its own customers, licenses and resources, with names of its own,
and looks only at those. Each runs on a desktop screen and on a phone (conftest.py's `viewport`),
so the names a flow makes carry the screen's name where both runs make the same thing.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx2 as httpx
import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.admin.conftest import make_staff
from tests.browser.conftest import Servers, log_in, open_from_menu, open_menu_if_collapsed, screenshot
from tests.support.world import TestWorld

TOTP_PASSWORD = "totp-staff-password-1"


# --- helpers ----------------------------------------------------------------------------------


def api_key(world: TestWorld) -> str:
    return str(world.scalar("SELECT api_key FROM system_api_key WHERE id = 1"))


def call_api(servers: Servers, world: TestWorld, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{servers.api_url}{path}", json=body, headers={"X-API-Key": api_key(world)}, timeout=10)


def license_id(world: TestWorld, key: str) -> int:
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def new_license(world: TestWorld, customer_name: str, **values: Any) -> tuple[int, str]:
    """A usable license of a customer of its own; its id and key."""
    domain = re.sub(r"[^a-z]", "", customer_name.lower())
    customer_id = world.customer(customer_name, f"lizenzen@{domain}.example")
    key = world.license(customer_id=customer_id, **values)
    return license_id(world, key), key


def confirm_next_dialog(page: Page, expected: str) -> None:
    """Accept the next window.confirm (the panel's data-confirm), after checking its question."""

    def accept(dialog: Any) -> None:
        assert dialog.type == "confirm"
        assert expected in dialog.message, dialog.message
        dialog.accept()

    page.once("dialog", accept)


def press_tab_until(page: Page, predicate: str, limit: int = 40) -> None:
    """Press Tab until the focused element satisfies the JavaScript `predicate` (of `e`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => Boolean({predicate}))(document.activeElement)"):
            return
    raise AssertionError(f"no element with {predicate} reached by Tab")


# --- log-in with the second factor --------------------------------------------------------------


def test_log_in_with_totp(page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str) -> None:
    username = f"totp-{screen}"  # its own account: the others keep logging in without a code
    make_staff(shared_world, username, TOTP_PASSWORD)
    log_in(page, shared_servers, username, TOTP_PASSWORD)
    open_from_menu(page, "Mein Konto")
    expect(page.get_by_text("ausgeschaltet", exact=True)).to_be_visible()
    page.get_by_role("button", name="Zwei-Faktor-Anmeldung einrichten").click()

    expect(page.get_by_role("heading", name="Zwei-Faktor-Anmeldung einrichten")).to_be_visible()
    expect(page.get_by_role("img", name="QR-Code für die Authenticator-App")).to_be_visible()
    secret = page.locator("code.totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    screenshot(page, "account_totp")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code der Authenticator-App").fill(totp.now())
    page.get_by_role("button", name="Bestätigen und einschalten").click()

    expect(page.get_by_role("status")).to_have_text("Die Zwei-Faktor-Anmeldung ist eingerichtet.")
    expect(page.get_by_text("eingeschaltet", exact=True)).to_be_visible()
    stored = shared_world.rows(
        "SELECT totp_secret_encrypted, totp_last_step FROM admin_users WHERE username = :u", u=username
    )[0]
    assert stored["totp_secret_encrypted"] and secret not in stored["totp_secret_encrypted"]
    enrol_step = stored["totp_last_step"]

    open_menu_if_collapsed(page)
    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(f"{shared_servers.admin_url}/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(TOTP_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    # The same answer as a wrong password: the page does not say that the password was right.
    expect(page.get_by_role("alert")).to_have_text("Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch.")

    # The enrolment's code is spent: log in with the next 30-second step's code, which the server
    # accepts (one step of clock drift either way) and which is newer than the enrolment's step.
    code_field = page.get_by_label("Code der Authenticator-App")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(TOTP_PASSWORD)
    code_field.fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Anmelden").click()

    expect(page).to_have_url(f"{shared_servers.admin_url}/")
    open_menu_if_collapsed(page)
    expect(page.get_by_title(f"Angemeldet als {username}")).to_be_visible()
    last_step = shared_world.scalar("SELECT totp_last_step FROM admin_users WHERE username = :u", u=username)
    assert last_step > enrol_step
    actions = [
        r["action"] for r in shared_world.rows("SELECT action FROM audit_log WHERE actor = :u ORDER BY id", u=username)
    ]
    assert actions == ["login", "totp_enabled", "logout", "login_failed", "login"]


# --- customers and licenses ---------------------------------------------------------------------


@pytest.mark.usefixtures("logged_in")
def test_create_customer(page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str) -> None:
    city = {"desktop": "Oberhausen", "phone": "Duisburg"}[screen]
    name, email = f"Brückenbau {city} GmbH", f"it@brueckenbau-{city.lower()}.example"
    open_from_menu(page, "Kunden")
    page.get_by_role("button", name="Neuer Kunde").click()
    expect(page.get_by_role("heading", name="Neuer Kunde")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-Mail").fill(email)
    page.get_by_role("button", name="Speichern").click()

    expect(page.get_by_role("status")).to_have_text("Gespeichert.")
    expect(page.get_by_role("heading", name="Kunde bearbeiten")).to_be_visible()
    rows = shared_world.rows("SELECT id, email FROM customers WHERE name = :n", n=name)
    assert [r["email"] for r in rows] == [email]
    assert page.url == f"{shared_servers.admin_url}/customers/{rows[0]['id']}/edit?notice=saved"

    open_from_menu(page, "Kunden")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(email)
    screenshot(page, "customers")

    open_from_menu(page, "Audit-Log")
    entry = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Kunde {rows[0]['id']}", exact=True))
    expect(entry).to_contain_text("Angelegt")
    expect(entry).to_contain_text("rac00n")
    screenshot(page, "audit_log")


@pytest.mark.usefixtures("logged_in")
def test_create_license_with_generated_key_and_customer_select(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    word = {"desktop": "Quellwasser", "phone": "Quellstein"}[screen]  # typed: "Quellw" or "Quells"
    name, email, typed = f"{word} Technik AG", f"lizenzen@{word.lower()}.example", word[:6]
    customer_id = shared_world.customer(name, email)
    open_from_menu(page, "Lizenzen")
    page.get_by_role("button", name="Neue Lizenz").click()
    expect(page.get_by_role("heading", name="Neue Lizenz")).to_be_visible()

    key_field = page.get_by_label("Lizenzschlüssel")
    first_key = key_field.input_value()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", first_key), first_key
    page.get_by_role("button", name="Neu generieren").click()
    expect(key_field).not_to_have_value(first_key)
    key = key_field.input_value()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", key), key

    # The searchable customer select (Tom Select), fed by /api/customers.
    page.locator(".ts-control").click()
    with page.expect_response(lambda r: f"/api/customers?q={typed}" in r.url):
        page.locator(".ts-control input").press_sequentially(typed)
    page.locator(".ts-dropdown .option", has_text=name).click()
    expect(page.locator(".ts-control .item")).to_have_text(f"{name} - {email}")
    expect(page.locator("select[name=customer_id]")).to_have_value(str(customer_id))
    page.get_by_label("Max. Geräte (Aktivierungen)").fill("3")
    screenshot(page, "license_new")
    page.get_by_role("button", name="Speichern").click()

    expect(page.get_by_role("heading", name=f"Lizenz {key}")).to_be_visible()
    expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_text("0 von 3 aktiv")).to_be_visible()
    stored = shared_world.rows(
        "SELECT id, customer_id, max_activations, is_active FROM licenses WHERE license_key = :k", k=key
    )
    assert [(r["customer_id"], r["max_activations"], r["is_active"]) for r in stored] == [(customer_id, 3, True)]
    assert page.url == f"{shared_servers.admin_url}/licenses/{stored[0]['id']}?done=license_created"
    expect(page.get_by_role("status")).to_have_text("Lizenz angelegt.")


@pytest.mark.usefixtures("logged_in")
def test_create_a_license_with_the_keyboard_only(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    word = {"desktop": "Nordlicht", "phone": "Polarlicht"}[screen]
    customer_id = shared_world.customer(f"{word} Reisen GmbH", f"office@{word.lower()}.example")
    page.goto(f"{shared_servers.admin_url}/licenses")
    press_tab_until(page, "e.textContent === 'Neue Lizenz'")
    page.keyboard.press(" ")  # a link styled as a button answers Space like a button
    expect(page.get_by_role("heading", name="Neue Lizenz")).to_be_visible()
    key_field = page.get_by_label("Lizenzschlüssel")
    first_key = key_field.input_value()

    press_tab_until(page, "e.textContent === 'Neu generieren'")
    page.keyboard.press("Enter")
    expect(key_field).not_to_have_value(first_key)
    key = key_field.input_value()
    page.keyboard.press("Tab")  # into the customer select (Tom Select): type, then Enter on the option
    expect(page.get_by_role("combobox", name="Kunde")).to_be_focused()  # it keeps its label's name
    # Wait for the search the typing started: an answer that came after Tab would reopen the list.
    with page.expect_response(lambda r: f"/api/customers?q={word}" in r.url):
        page.keyboard.type(word)
    expect(page.locator(".ts-wrapper")).not_to_have_class(re.compile(r"\bloading\b"))
    expect(page.locator(".ts-dropdown .option.active")).to_have_text(
        f"{word} Reisen GmbH - office@{word.lower()}.example"
    )
    page.keyboard.press("Enter")
    expect(page.locator("select[name=customer_id]")).to_have_value(str(customer_id))
    press_tab_until(page, "e.name === 'max_activations'")
    page.keyboard.press("Control+A")
    page.keyboard.type("4")
    expect(page.get_by_label("Max. Geräte (Aktivierungen)")).to_have_value("4")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name=f"Lizenz {key}")).to_be_visible()
    stored = shared_world.rows("SELECT customer_id, max_activations FROM licenses WHERE license_key = :k", k=key)
    assert [(r["customer_id"], r["max_activations"]) for r in stored] == [(customer_id, 4)]


@pytest.mark.usefixtures("logged_in")
def test_quick_edit_a_license_in_the_list(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    lic_id, key = new_license(shared_world, "Kranich Logistik KG", max_activations=2)
    open_from_menu(page, "Lizenzen")
    row = page.locator(f"#license-{lic_id}")  # the newest license: on the first page
    expect(row).to_contain_text(key)
    expect(row).to_contain_text("0 / 2")
    screenshot(page, "licenses")
    row.get_by_role("button", name="Schnell bearbeiten").click()

    # htmx moves the focus to the form's first field once the swap settles; typing before that
    # lands in whichever field has the focus then, so wait for it as a person's eyes would.
    expect(row.get_by_label("Gültig bis")).to_be_focused()
    field = row.get_by_label("Max. Geräte")
    expect(field).to_have_value("2")
    field.fill("7")
    expect(field).to_have_value("7")
    row.get_by_role("button", name="Speichern").click()

    expect(row.get_by_role("button", name="Schnell bearbeiten")).to_be_visible()
    expect(row.get_by_role("cell", name="0 / 7")).to_be_visible()
    assert page.url == f"{shared_servers.admin_url}/licenses"  # an htmx swap, not a new page
    assert shared_world.scalar("SELECT max_activations FROM licenses WHERE id = :i", i=lic_id) == 7
    page.reload()
    expect(page.locator(f"#license-{lic_id}")).to_contain_text("0 / 7")


@pytest.mark.usefixtures("logged_in")
def test_bulk_deactivate_two_licenses(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    customer_id = shared_world.customer("Sägewerk Tannenfels", "buero@tannenfels.example")
    keys = [shared_world.license(customer_id=customer_id) for _ in range(3)]
    page.goto(f"{shared_servers.admin_url}/licenses?customer_id={customer_id}")
    for key in keys[:2]:
        page.get_by_role("checkbox", name=f"Lizenz {key} auswählen").check()
    page.get_by_role("button", name="Deaktivieren").click()

    expect(page.get_by_role("status")).to_have_text("2 Lizenz(en) deaktiviert.")
    for key in keys[:2]:
        expect(page.get_by_role("row").filter(has_text=key)).to_contain_text("Inaktiv")
    expect(page.get_by_role("row").filter(has_text=keys[2])).to_contain_text("Aktiv")
    active = shared_world.rows(
        "SELECT license_key, is_active FROM licenses WHERE customer_id = :c ORDER BY license_key", c=customer_id
    )
    assert {r["license_key"]: r["is_active"] for r in active} == {keys[0]: False, keys[1]: False, keys[2]: True}
    assert f"customer_id={customer_id}" in page.url  # back on the filtered list


# --- a license's devices, sessions and resources ------------------------------------------------


@pytest.mark.usefixtures("logged_in")
def test_register_and_deactivate_a_device(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    lic_id, key = new_license(shared_world, "Mühlental Kanzlei", max_activations=2)
    page.goto(f"{shared_servers.admin_url}/licenses/{lic_id}")
    page.get_by_text("Gerät registrieren", exact=True).click()
    page.get_by_label("Hardware-Hash").fill("hw-muehlental-01")
    page.get_by_label("Rechnername").fill("KANZLEI-PC-01")
    page.get_by_label("App-Version").fill("1.0.0")
    page.get_by_role("button", name="Registrieren").click()

    expect(page.get_by_role("status")).to_have_text("Gerät registriert.")
    device_row = page.get_by_role("row").filter(has_text="hw-muehlental-01")
    expect(device_row).to_contain_text("KANZLEI-PC-01")
    expect(device_row.locator(".badge")).to_have_text("aktiv")
    verified = call_api(
        shared_servers, shared_world, "/api/license/verify", {"license_key": key, "hardware_hash": "hw-muehlental-01"}
    )
    assert verified.json()["valid"] is True

    confirm_next_dialog(page, "Gerät KANZLEI-PC-01 deaktivieren?")
    device_row.get_by_role("button", name="Deaktivieren").click()

    expect(page.get_by_role("status")).to_have_text("Gerät deaktiviert.")
    expect(device_row.locator(".badge")).to_have_text("deaktiviert")
    expect(device_row.get_by_role("button", name="Deaktivieren")).to_have_count(0)
    stored = shared_world.rows("SELECT is_active, deactivated_at FROM activations WHERE license_id = :l", l=lic_id)
    assert len(stored) == 1 and stored[0]["is_active"] is False and stored[0]["deactivated_at"] is not None
    verified = call_api(
        shared_servers, shared_world, "/api/license/verify", {"license_key": key, "hardware_hash": "hw-muehlental-01"}
    )
    assert verified.status_code == 200
    assert verified.json()["valid"] is False


@pytest.mark.usefixtures("logged_in")
def test_end_a_live_session(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    lic_id, key = new_license(shared_world, "Hafenmeisterei Lübeck")
    device = {"license_key": key, "hardware_hash": "hw-hafen-7"}
    activated = call_api(shared_servers, shared_world, "/api/license/activate", {**device, "machine_name": "HAFEN-7"})
    assert activated.status_code == 200, activated.text
    started = call_api(
        shared_servers,
        shared_world,
        "/api/license/session/start",
        {**device, "machine_id": "HAFEN-7", "version": "1.0.0"},
    )
    assert started.status_code == 200, started.text
    token = started.json()["session_token"]
    beat = {"session_token": token, "license_key": key}
    assert call_api(shared_servers, shared_world, "/api/license/session/heartbeat", beat).status_code == 200

    open_from_menu(page, "Sitzungen")
    expect(page.get_by_role("heading", name="Laufende Sitzungen")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=key)
    expect(row).to_contain_text("Hafenmeisterei Lübeck")
    expect(row).to_contain_text("HAFEN-7")
    screenshot(page, "sessions")
    confirm_next_dialog(page, f"Sitzung von {key} auf HAFEN-7 beenden?")
    row.get_by_role("button", name="Beenden").click()

    expect(page.get_by_role("status")).to_have_text("Sitzung beendet.")
    expect(page.get_by_role("row").filter(has_text=key)).to_have_count(0)
    ended = shared_world.rows("SELECT ended_at, end_reason FROM sessions WHERE session_token = :t", t=token)[0]
    assert ended["ended_at"] is not None and ended["end_reason"] == "admin"
    refused = call_api(shared_servers, shared_world, "/api/license/session/heartbeat", beat)
    assert refused.status_code == 404
    assert refused.json()["code"] == "SESSION_NOT_FOUND"

    page.goto(f"{shared_servers.admin_url}/licenses/{lic_id}")
    expect(page.get_by_role("row").filter(has_text="hw-hafen-7").locator(".badge")).to_have_text("aktiv")
    screenshot(page, "license_detail")
    session_row = page.get_by_role("row").filter(has_text="HAFEN-7").filter(has_text="durch Mitarbeiter beendet")
    expect(session_row).to_be_visible()
    expect(session_row.get_by_role("button", name="Beenden")).to_have_count(0)


@pytest.mark.usefixtures("logged_in")
def test_allocate_resources_to_a_license(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    lic_id, _key = new_license(shared_world, "Funkturm Betriebs GmbH")
    block = {"desktop": "198.51.100.1", "phone": "198.51.100.2"}[screen]  # 198.51.100.1x or .2x
    addresses = [f"{block}{n}" for n in (1, 2, 3)]
    open_from_menu(page, "Ressourcen")
    add_form = page.locator("form[action='/resources/add']")
    add_form.get_by_label("Typ").select_option(label="IPv4-Adresse")
    add_form.get_by_label("Bezeichner").fill("\n".join(addresses))
    add_form.get_by_role("button", name="Hinzufügen").click()

    expect(page.get_by_role("status")).to_have_text("3 Ressourcen angelegt.")
    for address in addresses:
        expect(page.get_by_role("row").filter(has_text=address)).to_contain_text("Verfügbar")
    screenshot(page, "resources")
    stored = shared_world.rows(
        "SELECT identifier, status FROM resources WHERE resource_type = 'ipv4' AND identifier LIKE :b", b=f"{block}_"
    )
    assert sorted((r["identifier"], r["status"]) for r in stored) == [(a, "available") for a in addresses]

    page.goto(f"{shared_servers.admin_url}/licenses/{lic_id}")
    page.get_by_label("Bestimmte freie Ressourcen").select_option(label=addresses[:2])
    page.get_by_role("button", name="Auswahl zuweisen").click()

    expect(page.get_by_role("status")).to_have_text("Ressourcen zugewiesen.")
    resources = page.locator("article", has=page.get_by_role("heading", name="Ressourcen", exact=True))
    for address in addresses[:2]:
        expect(resources.get_by_role("link", name=address)).to_be_visible()
    expect(resources.get_by_role("link", name=addresses[2])).to_have_count(0)
    allocated = shared_world.rows(
        "SELECT identifier, status, license_id FROM resources WHERE identifier LIKE :b ORDER BY identifier",
        b=f"{block}_",
    )
    assert [(r["identifier"], r["status"], r["license_id"]) for r in allocated] == [
        (addresses[0], "allocated", lic_id),
        (addresses[1], "allocated", lic_id),
        (addresses[2], "available", None),
    ]
    history = shared_world.rows(
        "SELECT r.identifier, h.action, h.actor FROM resource_history h JOIN resources r ON r.id = h.resource_id"
        " WHERE h.license_id = :l ORDER BY r.identifier",
        l=lic_id,
    )
    assert [(h["identifier"], h["action"], h["actor"]) for h in history] == [
        (addresses[0], "allocated", "rac00n"),
        (addresses[1], "allocated", "rac00n"),
    ]


# --- administration and search ------------------------------------------------------------------


@pytest.mark.usefixtures("logged_in")
def test_regenerate_the_api_key(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    old_key = api_key(shared_world)

    def latest(key: str) -> httpx.Response:
        return httpx.get(f"{shared_servers.api_url}/api/version/latest", headers={"X-API-Key": key}, timeout=10)

    assert latest(old_key).status_code == 200
    open_from_menu(page, "Administration")
    expect(page.locator(".api-key-masked")).to_have_text(re.compile(r"^AF-20\d\d-•+[A-Z0-9]{4}$"))
    screenshot(page, "administration")
    confirm_next_dialog(page, "Wirklich einen neuen System-API-Key generieren?")
    page.get_by_role("button", name="System-API-Key generieren").click()

    expect(page.get_by_role("status")).to_contain_text("Ein neuer System-API-Key wurde generiert.")
    changed_at = time.monotonic()
    new_key = api_key(shared_world)
    assert new_key != old_key and re.fullmatch(r"AF-\d{4}-[A-Z0-9]{32}", new_key)
    page.get_by_text("Key anzeigen").click()
    expect(page.locator(".api-key-full")).to_have_text(new_key)

    while True:
        sent_at = time.monotonic()
        refused = latest(old_key)
        if refused.status_code != 200:
            break
        assert sent_at - changed_at < 1.0, "the old key still worked a second after it was replaced"
        time.sleep(0.05)
    assert refused.status_code == 401
    assert refused.json() == {"error": "Invalid or missing API key", "code": "INVALID_API_KEY", "status": 401}
    assert latest(new_key).status_code == 200


@pytest.mark.usefixtures("logged_in")
def test_global_search_finds_a_license(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    lic_id, key = new_license(shared_world, "Sternwarte Hohenried")
    open_menu_if_collapsed(page)  # on a phone the search box is in the folded menu
    search = page.get_by_role("combobox", name="Suche", exact=True)  # search.js makes the box a combobox
    search.fill(key[:9])
    search.press("Enter")

    expect(page.get_by_role("heading", name="Suche", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Treffer für „{key[:9]}“")).to_be_visible()
    licenses = page.locator("section", has=page.get_by_role("heading", name=re.compile(r"^Lizenzen \(\d+\)$")))
    hit = licenses.get_by_role("link", name=key)
    expect(hit).to_be_visible()
    screenshot(page, "search")
    hit.click()

    expect(page).to_have_url(f"{shared_servers.admin_url}/licenses/{lic_id}")
    expect(page.get_by_role("heading", name=f"Lizenz {key}")).to_be_visible()
    expect(page.get_by_role("link", name="Sternwarte Hohenried")).to_be_visible()
