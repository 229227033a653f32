"""The audit log page: newest first, filters, paging, pretty JSON, bad filters refused."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from licenseserver.kit.paging import MAX_PAGE
from tests.support.world import TestWorld

ROW = re.compile(r"<tr>\s*<td><time[^>]*>.*?</tr>", re.S)
# The action code rides along as data-action; the cell shows its German name.
ACTION_CELL = re.compile(r'<td class="audit-action" data-action="([a-z0-9_]+)">')
INSERT = text(
    "INSERT INTO audit_log (created_at, actor, address, action, entity_type, entity_id, before, after)"
    " VALUES (:created_at, :actor, :address, :action, :entity_type, :entity_id, :before, :after)"
)


def add_entries(world: TestWorld, *entries: dict[str, Any]) -> None:
    defaults = {"address": "10.0.0.1", "entity_id": None, "before": None, "after": None}
    with world.engine.begin() as conn:
        conn.execute(INSERT, [{**defaults, **entry} for entry in entries])


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 6, day, hour, tzinfo=UTC)


def shown_actions(page: str) -> list[str]:
    return [match.group(1) for row in ROW.findall(page) for match in [ACTION_CELL.search(row)] if match]


def seed_log(world: TestWorld) -> None:
    add_entries(
        world,
        {
            "created_at": at(1),
            "actor": "alice",
            "action": "license_created",
            "entity_type": "license",
            "entity_id": "7",
        },
        {"created_at": at(2), "actor": "bob", "action": "license_updated", "entity_type": "license", "entity_id": "7"},
        {
            "created_at": at(3),
            "actor": "alice",
            "action": "customer_created",
            "entity_type": "customer",
            "entity_id": "3",
        },
        {
            "created_at": at(4, 23),
            "actor": "bob",
            "action": "license_updated",
            "entity_type": "license",
            "entity_id": "8",
        },
    )


def test_logged_out_redirects_to_login(world: TestWorld, panel: TestClient) -> None:
    response = panel.get("/audit?actor=alice", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/audit%3Factor%3Dalice"


def test_newest_first_with_local_times(world: TestWorld, staff_panel: TestClient) -> None:
    seed_log(world)
    page = staff_panel.get("/audit")
    assert page.status_code == 200
    assert "Audit-Log" in page.text
    # The staff log-in of the fixture happened "now", after every seeded entry.
    assert shown_actions(page.text) == [
        "login",
        "license_updated",
        "customer_created",
        "license_updated",
        "license_created",
    ]
    assert "01.06.2025 14:00" in page.text  # 12:00 UTC shown in Europe/Berlin (summer time)
    assert "10.0.0.1" in page.text
    assert "style=" not in page.text


def test_filters(world: TestWorld, staff_panel: TestClient) -> None:
    seed_log(world)
    cases = {
        "actor=alice": ["customer_created", "license_created"],
        "action=license_updated": ["license_updated", "license_updated"],
        "entity_type=license&entity_id=7": ["license_updated", "license_created"],
        "entity_type=customer": ["customer_created"],
        "date_from=2025-06-02&date_to=2025-06-03": ["customer_created", "license_updated"],
        "date_to=2025-06-04": ["license_updated", "customer_created", "license_updated", "license_created"],
        "date_from=2025-06-04&date_to=2025-06-04": ["license_updated"],  # 23:00 UTC is still the 4th
        "from=2025-06-02&to=2025-06-02": ["license_updated"],
        "actor=bob&action=license_updated&entity_id=8": ["license_updated"],
        "actor=nobody": [],
        "actor=&action=&date_from=&page=": None,  # empty fields mean "any"
    }
    for query, expected in cases.items():
        page = staff_panel.get(f"/audit?{query}")
        assert page.status_code == 200, query
        if expected is None:
            assert len(shown_actions(page.text)) == 5
        else:
            assert shown_actions(page.text) == expected, query
    assert 'value="alice"' in staff_panel.get("/audit?actor=alice").text  # the filter stays filled in


def test_before_and_after_as_pretty_json(world: TestWorld, staff_panel: TestClient) -> None:
    add_entries(
        world,
        {
            "created_at": at(5),
            "actor": "alice",
            "action": "license_updated",
            "entity_type": "license",
            "entity_id": "7",
            "before": '{"max_activations": 1, "note": "<b>x</b>"}',
            "after": '{"max_activations": 5, "note": "Grüße"}',
        },
        {
            "created_at": at(6),
            "actor": "<script>alert(1)</script>",
            "action": "x",
            "entity_type": "legacy",
            "before": "not json",
        },
    )
    page = staff_panel.get("/audit?entity_type=license")
    assert '{\n  "max_activations": 1,\n  "note": "<b>x</b>"\n}' in html.unescape(page.text)
    assert '"note": "Grüße"' in html.unescape(page.text)
    assert "<b>x</b>" not in page.text  # escaped, never markup
    page = staff_panel.get("/audit?entity_type=legacy")
    assert "not json" in page.text
    assert "<script>alert(1)</script>" not in page.text


def test_entity_links_to_its_history(world: TestWorld, staff_panel: TestClient) -> None:
    seed_log(world)
    page = staff_panel.get("/audit")
    assert 'href="/audit?entity_type=license&amp;entity_id=7"' in page.text


def test_paging_fifty_per_page(world: TestWorld, staff_panel: TestClient) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    add_entries(
        world,
        *[
            {
                "created_at": start + timedelta(minutes=i),
                "actor": "bulk",
                "action": f"a{i:03d}",
                "entity_type": "test",
            }
            for i in range(120)
        ],
    )
    first = staff_panel.get("/audit?actor=bulk")
    assert len(ROW.findall(first.text)) == 50
    assert "a119" in first.text and "a070" in first.text and "a069" not in first.text
    assert 'href="/audit?actor=bulk&amp;page=2"' in first.text and 'rel="prev"' not in first.text
    third = staff_panel.get("/audit?actor=bulk&page=3")
    assert len(ROW.findall(third.text)) == 20
    assert "a019" in third.text and "a000" in third.text
    assert 'rel="next"' not in third.text
    assert 'href="/audit?actor=bulk&amp;page=2"' in third.text
    assert "Keine Einträge" in staff_panel.get("/audit?actor=bulk&page=4").text


def test_bad_filters_are_400(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for query in (
        "page=0",
        "page=-1",
        "page=abc",
        f"page={MAX_PAGE + 1}",
        "date_from=2025-13-01",
        "date_to=yesterday",
        "date_from=2025-06-05&date_to=2025-06-01",
        "actor=" + "x" * 101,
        "action=" + "x" * 51,
        "entity_type=" + "x" * 51,
        "entity_id=" + "x" * 65,
        "actor=a%00b",
    ):
        response = staff_panel.get(f"/audit?{query}")
        assert response.status_code == 400, query
        assert "Ungültige Eingabe" in response.text
    assert world.snapshot() == before
