"""The dashboard's charts and the device list in Chromium: each chart found by its accessible
name (role img), a value drawn in it matching the seeded rows, and "Aktive Geräte" opening the
list of devices. Takes the screenshots docs/screenshots/dashboard.png and devices.png.

The rows are made once for the module, in a database of its own, and only read: the test runs on a
desktop screen and on a phone over the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from licenseserver.domain.reports.periods import monday_of
from tests.admin.support_reports import add_devices, add_licenses_in_every_state, add_sessions
from tests.browser.conftest import Servers, screenshot
from tests.support.world import TestWorld

CHARTS = (
    "Lizenzen nach Status",
    "Ablaufende Lizenzen je Kalenderwoche, nächste 90 Tage",
    "Neue Aktivierungen je Kalenderwoche, letzte 13 Wochen",
    "Gestartete Sitzungen pro Tag, letzte 30 Tage",
)
DEVICE_AGES = [40, 15, 8, 0, 0, 0]  # days since activation, oldest first (ids rise with time)


@dataclass(frozen=True)
class Seeded:
    today: date
    ids: dict[str, int]


@pytest.fixture(scope="module")
def seeded(shared_world: TestWorld) -> Seeded:
    today = datetime.now(UTC).date()
    ids = add_licenses_in_every_state(shared_world, today)
    add_devices(shared_world, ids["open-1"], DEVICE_AGES[:3])
    add_devices(shared_world, ids["soon-1"], [1])
    add_devices(shared_world, ids["open-1"], DEVICE_AGES[3:])
    add_sessions(shared_world, ids["open-2"], [0, 0, 0, 0, 1, 2, 2, 9, 16, 23])
    return Seeded(today, ids)


@pytest.mark.usefixtures("logged_in")
def test_dashboard_charts_show_the_seeded_figures_and_lead_to_the_devices(
    page: Page, shared_servers: Servers, shared_world: TestWorld, seeded: Seeded
) -> None:
    today, ids = seeded.today, seeded.ids

    for name in CHARTS:
        expect(page.get_by_role("img", name=name)).to_be_visible()
    states = page.get_by_role("img", name=CHARTS[0])
    # Five usable licenses without an end date soon: the first column's value label.
    expect(states.locator("text.value").first).to_have_text("5")
    expect(states.locator("text.category")).to_have_text(
        ["Aktiv", "Läuft bald ab", "Noch nicht gültig", "Abgelaufen", "Deaktiviert"]
    )
    sessions = page.get_by_role("img", name=CHARTS[3])
    expect(sessions.locator("text.value").last).to_have_text("4")  # today's starts, the newest point
    this_week = sum(monday_of(today - timedelta(days=age)) == monday_of(today) for age in [*DEVICE_AGES, 1])
    expect(page.get_by_role("img", name=CHARTS[2]).locator("text.value").last).to_have_text(str(this_week))
    page.get_by_role("img", name=CHARTS[0]).scroll_into_view_if_needed()
    screenshot(page, "dashboard")

    page.get_by_role("link", name="Aktive Geräte").click()
    expect(page).to_have_url(f"{shared_servers.admin_url}/devices")
    expect(page.get_by_role("heading", name="Aktive Geräte")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"DEV-{ids['soon-1']}-0")
    expect(row).to_be_visible()
    key = str(shared_world.scalar("SELECT license_key FROM licenses WHERE id = :i", i=ids["soon-1"]))
    expect(row.get_by_role("link", name=key)).to_have_attribute("href", f"/licenses/{ids['soon-1']}")
    expect(page.get_by_role("row")).to_have_count(1 + 7)  # the header and the seven devices
    screenshot(page, "devices")
