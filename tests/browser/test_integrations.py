"""API-Zugänge and Webhooks through the real pages in Chromium, reached from the header's menu on
a desktop and on a phone: staff make a token (shown once, then working on the management API)
and a webhook endpoint (its secret shown once), and renew the endpoint's secret.

The tests share one database and one pair of server processes (`shared_world`, `shared_servers`);
each names what it makes after its screen and looks only at that.
"""

from __future__ import annotations

import re

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, open_from_menu
from tests.browser.test_flows import confirm_next_dialog
from tests.support.world import TestWorld


def open_section(page: Page, name: str) -> None:
    """Administration from the menu, then one of its sub pages from the links at its top."""
    open_from_menu(page, "Administration")
    page.get_by_role("navigation", name="Bereiche der Administration").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


@pytest.mark.usefixtures("logged_in")
def test_create_a_token_and_a_webhook_endpoint_from_the_menu(
    page: Page, shared_servers: Servers, shared_world: TestWorld, screen: str
) -> None:
    open_section(page, "API-Zugänge")
    page.get_by_label("Name (wofür, z. B. der Shop)").fill(f"Webshop {screen}")
    page.get_by_label("Berechtigung").select_option(label="Schreiben")
    page.get_by_label("Läuft ab nach").fill("90")
    page.get_by_role("button", name="API-Zugang anlegen").click()
    shown = page.locator("#new-secret-value")
    expect(shown).to_be_visible()
    expect(page.locator("#new-secret")).to_contain_text("nur dieses eine Mal angezeigt")
    token = shown.inner_text()
    assert re.fullmatch(r"v2lm_[a-z0-9]{8}_[A-Za-z0-9_-]+", token), token
    row = page.get_by_role("row").filter(has_text=f"Webshop {screen}")
    expect(row).to_contain_text(token[: len("v2lm_") + 8] + "…")  # the prefix only
    expect(row).to_contain_text("Schreiben")
    assert shared_world.scalar("SELECT count(*) FROM api_tokens WHERE name = :n", n=f"Webshop {screen}") == 1
    answer = httpx.get(f"{shared_servers.api_url}/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    open_section(page, "API-Zugänge")  # the list again: the token is not shown a second time
    expect(page.locator("#new-secret-value")).to_have_count(0)
    assert token not in page.content()

    open_section(page, "Webhooks")
    page.get_by_role("button", name="Neuer Endpunkt").click()
    url = f"https://93.184.215.14/hooks/{screen}"
    page.get_by_label("URL (https://…)").fill(url)
    page.get_by_label("Beschreibung (optional)").fill(f"Shop {screen}")
    page.get_by_role("checkbox", name=re.compile(r"^license\.created")).check()
    page.get_by_role("checkbox", name=re.compile(r"^activation\.created")).check()
    page.get_by_role("button", name="Endpunkt anlegen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook-Endpunkt angelegt")
    secret = page.locator("#new-secret-value").inner_text()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Weiter zum Endpunkt").click()
    expect(page.locator("dl.facts")).to_contain_text(url)
    expect(page.get_by_text("Noch keine Zustellung.")).to_be_visible()

    confirm_next_dialog(page, "Neues Secret erzeugen?")
    page.get_by_role("button", name="Secret erneuern").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Neues Webhook-Secret")
    renewed = page.locator("#new-secret-value").inner_text()
    assert renewed.startswith("whsec_") and renewed != secret

    open_section(page, "Webhooks")
    row = page.get_by_role("row").filter(has_text=url)
    expect(row).to_contain_text("activation.created")
    expect(row).to_contain_text("aktiv")
    stored = shared_world.rows("SELECT url, event_types FROM webhook_endpoints WHERE url = :u", u=url)
    assert stored == [{"url": url, "event_types": "license.created activation.created"}]
