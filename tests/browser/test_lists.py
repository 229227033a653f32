"""The license list in Chromium: the bulk buttons wait for a ticked box, and a quick edit's save
says so in its row and in the page's one status message."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, open_from_menu
from tests.browser.test_flows import new_license
from tests.support.world import TestWorld


@pytest.mark.usefixtures("logged_in")
def test_bulk_buttons_wait_for_a_ticked_box(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    _, key = new_license(shared_world, "Buntspecht Bau GmbH")
    open_from_menu(page, "Lizenzen")
    bulk = page.locator("#bulk-form")
    buttons = [
        bulk.get_by_role("button", name=name, exact=True) for name in ("Aktivieren", "Deaktivieren", "Löschen …")
    ]
    for button in buttons:
        expect(button).to_be_disabled()
    box = page.get_by_label(f"Lizenz {key} auswählen")
    box.check()
    for button in buttons:
        expect(button).to_be_enabled()
    box.uncheck()
    expect(buttons[0]).to_be_disabled()
    page.get_by_label("Alle auswählen").check()  # "select all" ticks the rows: the buttons follow
    expect(buttons[0]).to_be_enabled()


@pytest.mark.usefixtures("logged_in")
def test_quick_edit_save_is_announced(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    lic_id, key = new_license(shared_world, "Zaunkönig Zimmerei", max_activations=3)
    open_from_menu(page, "Lizenzen")
    row = page.locator(f"#license-{lic_id}")
    row.get_by_role("button", name="Schnell bearbeiten").click()
    expect(row.get_by_label("Gültig bis")).to_be_focused()
    field = row.get_by_label("Max. Geräte")
    field.fill("7")
    expect(field).to_have_value("7")
    row.get_by_role("button", name="Speichern").click()

    expect(row).to_contain_text("0 / 7")
    expect(row).to_contain_text("Gespeichert.")
    expect(page.get_by_role("status")).to_have_text(f"Lizenz {key} gespeichert.")
    expect(page.get_by_role("status")).to_have_count(1)
    assert shared_world.scalar("SELECT max_activations FROM licenses WHERE id = :i", i=lic_id) == 7
