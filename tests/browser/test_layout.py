"""The panel's layout in Chromium: on a phone (390 × 844) no page is wider than the screen and the
header's menu folds behind a "Menü" button; on a desktop (1440 × 900) the menu is one plain row;
the current section's link carries aria-current; and the customer picker keeps its height while
focused, so the button below it stays put and the first click after choosing a customer counts.

The tests share one database and one pair of server processes; each makes its own rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Servers, log_in, screenshot
from tests.support.world import TestWorld

LONG_CUSTOMER = "Stadtwerke Nordrhein-Westfälische Energieversorgungsgesellschaft mbH"


def open_page(browser: Browser, viewport: ViewportSize) -> Page:
    return browser.new_context(viewport=viewport, locale="de-DE").new_page()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    tab = open_page(browser, PHONE)
    yield tab
    tab.context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    tab = open_page(browser, DESKTOP)
    yield tab
    tab.context.close()


@pytest.fixture(scope="module")
def rows(shared_world: TestWorld) -> dict[str, Any]:
    """A customer with a long name and e-mail address, a license of it, and a lead."""
    customer_id = shared_world.customer(LONG_CUSTOMER, "lizenzverwaltung.rechenzentrum@stadtwerke-nrw.example")
    key = shared_world.license(customer_id=customer_id, max_activations=3)
    license_id = shared_world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key)
    shared_world.execute("INSERT INTO lead_institutions (name, institution_type) VALUES ('Hochschule Layout', 'other')")
    lead_id = shared_world.scalar("SELECT id FROM lead_institutions WHERE name = 'Hochschule Layout'")
    return {"customer_id": customer_id, "license_id": license_id, "lead_id": lead_id}


def main_pages(rows: dict[str, Any]) -> list[str]:
    return [
        "/",
        "/customers",
        "/licenses",
        f"/licenses/{rows['license_id']}",
        "/devices",
        "/sessions",
        "/resources",
        "/leads/",
        f"/leads/edit/{rows['lead_id']}",
        "/audit",
        "/administration",
        "/account",
        "/search?q=Stadtwerke",
    ]


def take_screenshots(page: Page, servers: Servers, rows: dict[str, Any], device: str) -> None:
    """docs/screenshots/<device>-dashboard.png, -licenses.png and -license-detail.png."""
    detail = f"/licenses/{rows['license_id']}"
    for name, path in (("dashboard", "/"), ("licenses", "/licenses"), ("license-detail", detail)):
        page.goto(f"{servers.admin_url}{path}")
        screenshot(page, f"{device}-{name}")


def navigation(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Hauptnavigation")


def top(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "element is not rendered"
    return box["y"]


# --- phone -------------------------------------------------------------------------------------


def test_no_page_is_wider_than_a_phone(phone: Page, shared_servers: Servers, rows: dict[str, Any]) -> None:
    log_in(phone, shared_servers)
    for path in main_pages(rows):
        response = phone.goto(f"{shared_servers.admin_url}{path}")
        assert response is not None and response.ok, path
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"
    take_screenshots(phone, shared_servers, rows, "phone")


def test_row_actions_are_reachable_on_a_phone(phone: Page, shared_servers: Servers, rows: dict[str, Any]) -> None:
    log_in(phone, shared_servers)
    phone.goto(f"{shared_servers.admin_url}/licenses?customer_id={rows['customer_id']}")
    edit = phone.locator("tbody tr").first.get_by_role("button", name="Bearbeiten", exact=True)
    edit.scroll_into_view_if_needed()
    box = edit.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    edit.click()
    # The edit page remembers the list it came from (`?next=…`, docs/admin.md).
    phone.wait_for_url(re.compile(rf"/licenses/{rows['license_id']}/edit\?next=/licenses"))


def test_the_phone_menu_opens_closes_and_leads_on(phone: Page, shared_servers: Servers) -> None:
    log_in(phone, shared_servers)
    menu_button = phone.get_by_role("button", name="Menü")
    licenses_link = navigation(phone).get_by_role("link", name="Lizenzen", exact=True)
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(licenses_link).to_be_hidden()

    menu_button.click()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    expect(licenses_link).to_be_visible()
    expect(phone.locator(".global-search input")).to_be_visible()
    menu_button.click()
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(licenses_link).to_be_hidden()

    # With the keyboard: Enter opens, Escape closes and leaves the focus on the button.
    menu_button.focus()
    phone.keyboard.press("Enter")
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    phone.keyboard.press("Tab")
    expect(navigation(phone).get_by_role("link", name="Dashboard", exact=True)).to_be_focused()
    phone.keyboard.press("Escape")
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(menu_button).to_be_focused()

    phone.keyboard.press("Space")
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    licenses_link.click()
    phone.wait_for_url(f"{shared_servers.admin_url}/licenses")
    expect(phone.get_by_role("heading", name="Lizenzen", level=1)).to_be_visible()
    expect(phone.get_by_role("button", name="Menü")).to_have_attribute("aria-expanded", "false")


# --- desktop -----------------------------------------------------------------------------------


def test_the_desktop_menu_is_one_row(desktop: Page, shared_servers: Servers, rows: dict[str, Any]) -> None:
    log_in(desktop, shared_servers)
    expect(desktop.get_by_role("button", name="Menü")).to_be_hidden()
    links = navigation(desktop).locator(".main-nav a")
    expect(links).to_have_count(8)
    first_top = top(links.first)
    for index in range(8):
        expect(links.nth(index)).to_be_visible()
        assert abs(top(links.nth(index)) - first_top) <= 1
    assert abs(top(desktop.locator(".global-search input")) - first_top) <= 20
    take_screenshots(desktop, shared_servers, rows, "desktop")


def test_the_current_section_is_marked(desktop: Page, shared_servers: Servers, rows: dict[str, Any]) -> None:
    log_in(desktop, shared_servers)
    for path, section in (
        ("/", "Dashboard"),
        (f"/licenses/{rows['license_id']}", "Lizenzen"),
        (f"/leads/edit/{rows['lead_id']}", "Leads"),
        ("/administration", "Administration"),
    ):
        desktop.goto(f"{shared_servers.admin_url}{path}")
        current = navigation(desktop).locator("a[aria-current=page]")
        expect(current).to_have_count(1)
        expect(current).to_have_text(section)
        # Not by colour alone: the current link is bold and underlined.
        style = current.evaluate("a => [getComputedStyle(a).fontWeight, getComputedStyle(a).textDecorationLine]")
        assert int(style[0]) >= 700 and "underline" in style[1], style
    desktop.goto(f"{shared_servers.admin_url}/search?q=x")
    expect(navigation(desktop).locator("a[aria-current]")).to_have_count(0)


# --- customer picker ---------------------------------------------------------------------------


def choose_customer_keeping_the_button_still(page: Page, button: Locator, name: str) -> None:
    """Focus the picker, open its list, choose `name`: `button` below it must not move meanwhile."""
    before = top(button)
    page.locator(".ts-control").click()
    expect(page.locator(".ts-control input")).to_be_focused()
    assert abs(top(button) - before) <= 1, "the button moved when the picker took the focus"
    with page.expect_response(lambda r: "/api/customers?q=Stadtw" in r.url):
        page.locator(".ts-control input").press_sequentially("Stadtw")
    option = page.locator(".ts-dropdown .option", has_text=name)
    expect(option).to_be_visible()
    assert abs(top(button) - before) <= 1, "the button moved while the picker was open"
    option.click()
    expect(page.locator(".ts-control .item")).to_contain_text(name)
    assert abs(top(button) - before) <= 1, "the button moved after choosing"


def test_the_first_click_after_choosing_a_customer_counts(
    page: Page, shared_servers: Servers, rows: dict[str, Any]
) -> None:
    # `page`: on the desktop screen and on the phone (conftest.py's `viewport`).
    log_in(page, shared_servers)
    page.goto(f"{shared_servers.admin_url}/licenses")
    filter_button = page.get_by_role("button", name="Filtern")
    choose_customer_keeping_the_button_still(page, filter_button, LONG_CUSTOMER)
    filter_button.click()
    page.wait_for_url(f"**/licenses?*customer_id={rows['customer_id']}*")

    page.goto(f"{shared_servers.admin_url}/leads/create")
    choose_customer_keeping_the_button_still(page, page.get_by_role("button", name="Speichern"), LONG_CUSTOMER)
