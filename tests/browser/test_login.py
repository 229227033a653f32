"""Staff log in through the real page in Chromium and see the dashboard, on a desktop screen and on
a phone; the header fits one row on a laptop screen.

The tests share one database and one pair of server processes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import Servers, log_in, screenshot

LAPTOP: ViewportSize = {"width": 1366, "height": 768}


def test_login_shows_dashboard(page: Page, shared_servers: Servers) -> None:
    page.goto(f"{shared_servers.admin_url}/")
    expect(page).to_have_url(f"{shared_servers.admin_url}/login?next=/")
    screenshot(page, "login")
    log_in(page, shared_servers)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Neue Aktivierungen")).to_be_visible()


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])
def test_header_fits_one_row_on_a_laptop_screen(page: Page, shared_servers: Servers) -> None:
    log_in(page, shared_servers)
    brand = page.get_by_role("link", name="V2 Lizenzserver").bounding_box()
    log_out = page.get_by_role("button", name="Abmelden").bounding_box()
    assert brand is not None and log_out is not None
    # Same row: the log-out button's middle lies within the brand's height.
    assert brand["y"] <= log_out["y"] + log_out["height"] / 2 <= brand["y"] + brand["height"] + 8


def test_wrong_password_stays_on_login(page: Page, shared_servers: Servers) -> None:
    log_in_page = f"{shared_servers.admin_url}/login"
    page.goto(log_in_page)
    page.get_by_label("Benutzername").fill("rac00n")
    page.get_by_label("Passwort").fill("not-the-password")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("Anmeldung fehlgeschlagen")
