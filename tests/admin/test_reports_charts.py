"""The figures behind the charts, counted in the database on both backends from rows with known
dates, and the pages that show them: the dashboard's charts, the leads chart, the device list."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.licensing.rules import EXPIRING_SOON_DAYS
from licenseserver.domain.reports import breakdowns, trends
from licenseserver.domain.reports.periods import monday_of
from tests.admin.conftest import count_queries
from tests.admin.support_reports import (
    DEVICE_AGE_MINUTES,
    add_devices,
    add_leads,
    add_licenses_in_every_state,
    add_sessions,
)
from tests.support.world import TestWorld

T = TypeVar("T")
ARIA_LABELS = re.compile(r'<svg [^>]*role="img" aria-label="([^"]*)"')
LISTED_DEVICE = re.compile(r"<td>(DEV-\d+-\d+)</td>")


def figures(world: TestWorld, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return run_in_orm_transaction(world.database_url, query)


def today() -> datetime:
    return datetime.now(UTC)


# ---- the figures ---------------------------------------------------------------------------


def test_licenses_are_counted_once_each_in_their_shown_state(world: TestWorld) -> None:
    add_licenses_in_every_state(world, today().date())
    counts = figures(world, breakdowns.licenses_by_state)
    assert counts == {"active": 5, "expiring": 2, "not_yet_valid": 1, "expired": 1, "inactive": 1}


def test_expiring_licenses_per_week_count_only_usable_ones_within_90_days(world: TestWorld) -> None:
    now = today().date()
    add_licenses_in_every_state(world, now)
    weeks = figures(world, trends.expiring_per_week)
    assert weeks[0].start == monday_of(now) and weeks[-1].start == monday_of(now + timedelta(days=90))
    assert [w.start for w in weeks] == [weeks[0].start + timedelta(weeks=i) for i in range(len(weeks))]
    by_week = {w.start: w.count for w in weeks if w.count}
    # Not counted: the inactive one, the one not valid yet, the expired one, the one in 120 days.
    assert by_week == {monday_of(now + timedelta(days=10)): 2, monday_of(now + timedelta(days=60)): 1}


def test_activations_per_week_count_every_device_activated_in_the_last_13_weeks(world: TestWorld) -> None:
    ids = add_licenses_in_every_state(world, today().date())
    add_devices(world, ids["open-1"], [0, 0, 20])
    add_devices(world, ids["open-2"], [3, 200], active=False)  # deactivated later: still counted when activated
    weeks = figures(world, trends.activations_per_week)
    assert len(weeks) == 13 and weeks[-1].start == monday_of(today().date())
    expected: dict[object, int] = {}
    for age in (0, 0, 20, 3):
        # add_devices activates each device ten minutes before `age` days ago: just after
        # midnight that is the day (and maybe the week) before.
        start = monday_of((today() - timedelta(days=age, minutes=DEVICE_AGE_MINUTES)).date())
        expected[start] = expected.get(start, 0) + 1
    assert {w.start: w.count for w in weeks if w.count} == expected


def test_sessions_per_day_count_starts_of_the_last_30_days(world: TestWorld) -> None:
    ids = add_licenses_in_every_state(world, today().date())
    add_sessions(world, ids["open-1"], [0, 0, 0, 5, 29, 40])
    days = figures(world, trends.sessions_per_day)
    assert len(days) == 30 and days[-1].start == today().date()
    counts = {(today().date() - d.start).days: d.count for d in days if d.count}
    assert counts == {0: 3, 5: 1, 29: 1}


def test_leads_are_counted_by_type_and_status(world: TestWorld) -> None:
    customer = world.customer("Lead Kunde GmbH", "kunde@lead.example")
    shapes = [("university", True), ("university", False), ("university", False), ("company", True), ("other", False)]
    add_leads(world, customer, shapes)
    counts = figures(world, breakdowns.leads_by_type_and_status)
    assert counts.customers == {"university": 1, "company": 1, "government": 0, "other": 0}
    assert counts.open == {"university": 2, "company": 0, "government": 0, "other": 1}
    assert counts.total == 5


# ---- the pages -----------------------------------------------------------------------------


def test_dashboard_shows_four_named_charts_with_the_counted_values(world: TestWorld, staff_panel: TestClient) -> None:
    ids = add_licenses_in_every_state(world, today().date())
    add_sessions(world, ids["open-1"], [0, 0, 0])
    html = staff_panel.get("/").text
    assert ARIA_LABELS.findall(html) == [
        "Lizenzen nach Status",
        "Ablaufende Lizenzen je Kalenderwoche, nächste 90 Tage",
        "Neue Aktivierungen je Kalenderwoche, letzte 13 Wochen",
        "Gestartete Sitzungen pro Tag, letzte 30 Tage",
    ]
    assert (
        "Lizenzen nach Status. Aktiv: 5; Läuft bald ab: 2; Noch nicht gültig: 1; Abgelaufen: 1; Deaktiviert: 1." in html
    )
    assert f"{today():%d.%m.}: 3" in html  # today's session starts
    assert "Keine Daten" in html  # no device was activated
    assert '<a href="/devices">Aktive Geräte</a>' in html
    # The figure's label names the licensing rule's window (EXPIRING_SOON_DAYS), not a number of its own.
    assert f'<a href="/licenses?state=expiring">Laufen in {EXPIRING_SOON_DAYS} Tagen ab</a>' in html


def test_dashboard_titles_name_each_window_in_english_too(world: TestWorld, staff_panel: TestClient) -> None:
    csrf = staff_panel.headers["x-csrf-token"]
    assert staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"}).status_code == 200
    html = staff_panel.get("/").text
    assert ARIA_LABELS.findall(html)[1:] == [
        f"Expiring licenses per calendar week, next {trends.EXPIRY_DAYS} days",
        f"New activations per calendar week, last {trends.ACTIVATION_WEEKS} weeks",
        f"Sessions started per day, last {trends.SESSION_DAYS} days",
    ]
    assert f'<a href="/licenses?state=expiring">Expire within {EXPIRING_SOON_DAYS} days</a>' in html


def test_dashboard_of_an_empty_installation_draws_no_data_charts(staff_panel: TestClient) -> None:
    html = staff_panel.get("/").text
    assert html.count(">Keine Daten</text>") == 4


def test_leads_page_shows_the_chart_by_type_and_status(world: TestWorld, staff_panel: TestClient) -> None:
    add_leads(world, world.customer(), [("government", True), ("government", False), ("government", False)])
    html = staff_panel.get("/leads/").text
    assert "Leads nach Typ und Status" in ARIA_LABELS.findall(html)
    assert "Behörde: Kunde geworden 1, Offen 2" in html


def test_device_list_needs_a_login(panel: TestClient) -> None:
    response = panel.get("/devices", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/devices"


def test_device_list_shows_active_devices_newest_first_with_license_and_short_hash(
    world: TestWorld, staff_panel: TestClient
) -> None:
    ids = add_licenses_in_every_state(world, today().date())
    add_devices(world, ids["open-1"], [2, 1])
    add_devices(world, ids["open-2"], [0], active=False)
    html = staff_panel.get("/devices").text
    first, second = f"DEV-{ids['open-1']}-1", f"DEV-{ids['open-1']}-0"
    assert LISTED_DEVICE.findall(html) == [first, second]  # the deactivated one is not listed
    key = world.scalar("SELECT license_key FROM licenses WHERE id = :i", i=ids["open-1"])
    assert f'<a href="/licenses/{ids["open-1"]}">{key}</a>' in html
    full_hash = f"{ids['open-1']:04d}0001" + "ab" * 30
    assert f'title="{full_hash}">{full_hash[:12]}…</td>' in html
    assert "ACME Corp" in html


def test_device_list_pages_with_a_constant_number_of_queries(world: TestWorld, staff_panel: TestClient) -> None:
    ids = add_licenses_in_every_state(world, today().date())
    add_devices(world, ids["open-1"], [1] * 3)
    staff_panel.get("/devices")  # warm up: first-use statements of the connection
    with_three = count_queries(staff_panel, "/devices")
    add_devices(world, ids["open-3"], [1] * 52)
    assert count_queries(staff_panel, "/devices") == with_three
    first, second = staff_panel.get("/devices").text, staff_panel.get("/devices?page=2").text
    assert len(LISTED_DEVICE.findall(first)) == 50 and len(LISTED_DEVICE.findall(second)) == 5
    assert 'href="/devices?page=2" rel="next"' in first and "von 55 Geräten" in second
    assert staff_panel.get("/devices?page=0").status_code == 400
