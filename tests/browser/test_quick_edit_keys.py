"""The quick edit of a license row from the keyboard: Escape cancels it like "Abbrechen"."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, open_from_menu
from tests.browser.test_flows import new_license
from tests.support.world import TestWorld


@pytest.mark.usefixtures("logged_in")
def test_escape_closes_the_quick_edit_without_saving(
    page: Page, shared_servers: Servers, shared_world: TestWorld
) -> None:
    lic_id, key = new_license(shared_world, "Eisvogel Elektro GmbH", max_activations=3)
    open_from_menu(page, "Lizenzen")
    row = page.locator(f"#license-{lic_id}")  # the newest license: on the first page
    expect(row).to_contain_text("0 / 3")
    row.get_by_role("button", name="Schnell bearbeiten").click()

    # htmx focuses the first field once the swap settles: keys before that go elsewhere.
    expect(row.get_by_label("Gültig bis")).to_be_focused()
    field = row.get_by_label("Max. Geräte")
    field.fill("9")  # typed, never saved
    expect(field).to_be_focused()
    page.keyboard.press("Escape")

    quick_edit = row.get_by_role("button", name="Schnell bearbeiten")
    expect(quick_edit).to_be_visible()
    expect(row.get_by_label("Max. Geräte")).to_have_count(0)
    expect(row.get_by_role("cell", name="0 / 3")).to_be_visible()
    expect(row).to_contain_text(key)
    expect(quick_edit).to_be_focused()  # the keyboard user is back where they started
    assert page.url == f"{shared_servers.admin_url}/licenses"
    assert shared_world.scalar("SELECT max_activations FROM licenses WHERE id = :i", i=lic_id) == 3
