"""An edit page opened from a filtered, sorted, paged license list ends back on that list: after
"Speichern" with the list's status message, after "Abbrechen" without one (admin/return_to.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, open_from_menu
from tests.support.world import TestWorld


def _list_state(url: str) -> tuple[str, dict[str, list[str]]]:
    """The list's path and parameters, its message parameters left out."""
    parts = urlsplit(url)
    return parts.path, {k: v for k, v in parse_qs(parts.query).items() if k not in ("notice", "count")}


@pytest.mark.usefixtures("logged_in")
def test_edit_from_a_filtered_list_returns_to_it(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    customer = f"Eisvogel Elektro {screen}"
    customer_id = shared_world.customer(customer, f"lizenzen@eisvogel-{screen}.example")
    for _ in range(26):  # one more than a page: the second page holds one license
        shared_world.license(customer_id=customer_id, max_activations=2)
    open_from_menu(page, "Lizenzen")
    filters = page.locator("form.filters")
    filters.get_by_label("Schlüssel oder Kunde").fill(customer)
    filters.get_by_label("Status").select_option("active")
    filters.get_by_role("button", name="Filtern").click()
    page.wait_for_url("**/licenses?*state=active*")
    page.get_by_role("columnheader", name="Schlüssel").get_by_role("link").click()
    page.wait_for_url("**sort=key*")
    page.get_by_role("link", name="Weiter →").click()
    page.wait_for_url("**page=2*")
    filtered = page.url
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)

    rows.get_by_role("button", name="Bearbeiten", exact=True).click()
    page.wait_for_url("**/edit?next=**")
    expect(page.get_by_role("heading", name="Lizenz bearbeiten")).to_be_visible()
    page.get_by_label("Max. Geräte (Aktivierungen)").fill("4")
    page.get_by_role("button", name="Speichern").click()

    page.wait_for_url("**notice=saved*")
    assert _list_state(page.url) == _list_state(filtered)
    expect(page.locator("#action-message")).to_have_text("Gespeichert.")
    expect(page.get_by_role("status")).to_have_count(1)
    expect(page.locator("form.filters").get_by_label("Schlüssel oder Kunde")).to_have_value(customer)
    expect(page.locator("tbody tr")).to_have_count(1)  # the second page, as it was
    saved = shared_world.scalar(
        "SELECT count(*) FROM licenses WHERE customer_id = :c AND max_activations = 4", c=customer_id
    )
    assert saved == 1

    page.locator("tbody tr").get_by_role("button", name="Bearbeiten", exact=True).click()
    page.wait_for_url("**/edit?next=**")
    page.get_by_role("button", name="Abbrechen").click()
    page.wait_for_url(lambda url: "/edit" not in url)
    assert _list_state(page.url) == _list_state(filtered) and "notice=" not in page.url
    expect(page.locator("#action-message")).to_have_text("")
