"""The header's search box in Chromium: typing shows a live list of hits grouped by kind (an ARIA
combobox with a listbox); ArrowDown/ArrowUp move the highlight, Enter opens the highlighted hit,
Escape closes the list. On a phone the box is in the header's folded menu, opened first; the two
runs of a test (desktop and phone) search for words of their own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Servers, open_menu_if_collapsed
from tests.support.world import TestWorld


def add_lead(world: TestWorld, name: str) -> int:
    world.execute("INSERT INTO lead_institutions (name, institution_type) VALUES (:n, 'university')", n=name)
    return int(world.scalar("SELECT id FROM lead_institutions WHERE name = :n", n=name))


def type_into_search(page: Page, text: str) -> tuple[Locator, Locator]:
    """The box (once search.js has made it a combobox) and its list, after typing `text`."""
    open_menu_if_collapsed(page)
    box = page.get_by_role("combobox", name="Suche")
    expect(box).to_be_visible()
    box.fill(text)
    listbox = page.get_by_role("listbox", name="Suche")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    return box, listbox


@pytest.mark.usefixtures("logged_in")
def test_arrow_keys_and_enter_open_the_highlighted_hit(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    word = {"desktop": "Quasarwerk", "phone": "Pulsarwerk"}[screen]
    customer = shared_world.customer(f"{word} Optik GmbH", f"info@{word.lower()}.example")
    lead = add_lead(shared_world, f"{word} Forschungszentrum")
    box, listbox = type_into_search(page, word.lower())

    # Customers come first, leads after them; empty kinds are left out.
    expect(listbox.get_by_role("group")).to_have_count(2)
    options = listbox.get_by_role("option")
    expect(options.nth(0)).to_contain_text(f"{word} Optik GmbH")
    expect(options.nth(0)).to_contain_text("0 Lizenzen")
    expect(options.nth(1)).to_contain_text(f"{word} Forschungszentrum")
    expect(options.nth(2)).to_have_text("Alle 2 Treffer anzeigen")

    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", f"gs-customer-{customer}")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", f"gs-lead-{lead}")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(0)).to_have_attribute("aria-selected", "false")
    box.press("Enter")

    expect(page).to_have_url(f"{shared_servers.admin_url}/leads/edit/{lead}")
    expect(page.get_by_role("heading", name=f"{word} Forschungszentrum", level=1)).to_be_visible()


@pytest.mark.usefixtures("logged_in")
def test_escape_closes_the_list_and_arrow_up_wraps_to_all_hits(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    word = {"desktop": "heliodor", "phone": "peridot"}[screen]
    add_lead(shared_world, f"{word.title()} Sternwarte")
    box, listbox = type_into_search(page, word)
    expect(listbox.get_by_role("option").first).to_contain_text(f"{word.title()} Sternwarte")

    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_be_visible()  # on a phone Escape closed the list only, not the menu around the box
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".+"))
    expect(box).to_have_value(word)  # the text stays

    box.press("ArrowUp")  # opens the list again, on its last option
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-activedescendant", "gs-all")
    box.press("Enter")
    expect(page).to_have_url(f"{shared_servers.admin_url}/search?q={word}")
    expect(page.get_by_role("heading", name="Leads (1)")).to_be_visible()
