"""Global search: a kind's count stops at 1,000 matches ("mehr als 1.000"), exact up to there, in
the JSON answer, on the /search page and in the header box's list, in German and English."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from licenseserver.domain.search.hits import COUNT_CAP
from tests.support.world import TestWorld


def add_leads(world: TestWorld, word: str, first: int, count: int) -> None:
    rows = [{"n": f"Akademie {word} {i:04d}"} for i in range(first, first + count)]
    with world.engine.begin() as conn:
        conn.execute(text("INSERT INTO lead_institutions (name, institution_type) VALUES (:n, 'university')"), rows)


def add_customers(world: TestWorld, word: str, count: int) -> None:
    rows = [{"n": f"{word} Handel {i:04d}", "e": f"k{i}@handel.example"} for i in range(count)]
    with world.engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (name, email) VALUES (:n, :e)"), rows)


def test_a_count_is_exact_up_to_the_cap_and_says_more_beyond_it(world: TestWorld, staff_panel: TestClient) -> None:
    assert COUNT_CAP == 1000
    add_leads(world, "Polarlicht", 0, COUNT_CAP)
    exact = staff_panel.get("/api/global-search?q=polarlicht&limit=5").json()
    assert exact["total"] == 1000 and "capped" not in exact
    assert {"type": "lead", "total": 1000} in exact["groups"]
    page = staff_panel.get("/search?q=polarlicht").text
    assert "Leads (1.000)" in page and "Die ersten 10 von 1.000 Treffern, weitere 990." in page
    assert "1.000 Treffer für „polarlicht“." in page and "Mehr als" not in page

    add_leads(world, "Polarlicht", COUNT_CAP, 1)  # one more than the cap
    capped = staff_panel.get("/api/global-search?q=polarlicht&limit=5").json()
    assert capped["total"] == 1000 and capped["capped"] is True
    assert {"type": "lead", "total": 1000, "capped": True} in capped["groups"]
    assert {"type": "customer", "total": 0} in capped["groups"]  # the other kinds stay as they were
    assert [r["title"] for r in capped["results"]] == [f"Akademie Polarlicht {i:04d}" for i in range(5)]

    page = staff_panel.get("/search?q=polarlicht").text
    assert "Leads (mehr als 1.000)" in page and "Leads (1.000)" not in page
    assert "Die ersten 10 von mehr als 1.000 Treffern." in page and "weitere 990" not in page
    assert "Mehr als 1.000 Treffer für „polarlicht“." in page

    live = staff_panel.get("/search/live?q=polarlicht").text
    assert "Leads (mehr als 1.000)" in live and "mehr als 995 weitere – alle anzeigen" in live
    assert "Alle Treffer anzeigen (mehr als 1.000)" in live
    assert 'data-summary="Mehr als 1.000 Treffer für „polarlicht“"' in live


def test_customers_are_counted_up_to_the_cap_too(world: TestWorld, staff_panel: TestClient) -> None:
    add_customers(world, "Nordwind", COUNT_CAP + 1)
    answer = staff_panel.get("/api/global-search?q=nordwind&type=customer&limit=3").json()
    assert [r["title"] for r in answer["results"]] == [
        "Nordwind Handel 0000",
        "Nordwind Handel 0001",
        "Nordwind Handel 0002",
    ]
    assert answer["groups"] == [{"type": "customer", "total": 1000, "capped": True}]
    world.execute("DELETE FROM customers WHERE name = 'Nordwind Handel 0000'")
    exact = staff_panel.get("/api/global-search?q=nordwind&type=customer&limit=3").json()
    assert (
        exact["groups"] == [{"type": "customer", "total": 1000}]
        and exact["results"][0]["title"] == "Nordwind Handel 0001"
    )


def test_an_english_account_reads_the_capped_count_in_english(world: TestWorld, staff_panel: TestClient) -> None:
    add_leads(world, "Polarlicht", 0, COUNT_CAP + 1)
    world.execute("UPDATE admin_users SET language = 'en'")
    page = staff_panel.get("/search?q=polarlicht").text
    assert "Leads (more than 1,000)" in page and "The first 10 of more than 1,000 results." in page
    assert "More than 1,000 results for “polarlicht”." in page and "mehr als" not in page.lower()
    live = staff_panel.get("/search/live?q=polarlicht").text
    assert "over 995 more – show all" in live and "Show all results (more than 1,000)" in live
