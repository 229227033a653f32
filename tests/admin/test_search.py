"""Global search: GET /api/global-search (the reference's shape) and the /search page."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from starlette.testclient import TestClient

from tests.admin.test_licenses import add_activation, add_license
from tests.support.world import TestWorld


def seed(world: TestWorld) -> dict[str, int]:
    acme = world.customer("ACME Corp", "admin@acme.com")
    other = world.customer("Other Ltd", "ops@other.example")
    acme_key = add_license(world, "ACME-0001-AAAA-BBBB", acme)
    off_key = add_license(world, "QQQQ-0002-AAAA-BBBB", other, is_active=False)
    with world.engine.begin() as conn:
        add_activation(conn, acme_key, "acme-hash-1", datetime.now(UTC))
        conn.execute(
            text(
                "INSERT INTO activations (license_id, hardware_hash, machine_name, activated_at, last_heartbeat)"
                " VALUES (:l, 'deadbeef', '', :n, :n)"
            ),
            {"l": off_key, "n": datetime.now(UTC)},
        )
    device = int(world.scalar("SELECT id FROM activations WHERE hardware_hash = 'acme-hash-1'"))
    nameless = int(world.scalar("SELECT id FROM activations WHERE hardware_hash = 'deadbeef'"))
    return {
        "acme": acme,
        "other": other,
        "acme_key": acme_key,
        "off_key": off_key,
        "device": device,
        "nameless": nameless,
    }


def test_logged_out(world: TestWorld, panel: TestClient) -> None:
    response = panel.get("/api/global-search?q=acme")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    page = panel.get("/search?q=acme", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/search%3Fq%3Dacme"


def test_results_have_the_reference_shape(world: TestWorld, staff_panel: TestClient) -> None:
    ids = seed(world)
    response = staff_panel.get("/api/global-search?q=acme")
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "type": "customer",
                "id": ids["acme"],
                "title": "ACME Corp",
                "subtitle": "admin@acme.com",
                "url": f"/customers/{ids['acme']}/edit",
            },
            {
                "type": "license",
                "id": ids["acme_key"],
                "title": "ACME-0001-AAAA-BBBB",
                "subtitle": "ACME Corp - Active",
                "url": f"/licenses/{ids['acme_key']}",
            },
            {
                "type": "device",
                "id": ids["device"],
                "title": "PC-acme-hash-1",  # found by the start of its hash
                "subtitle": "ACME-0001-AAAA-BBBB",
                "url": f"/licenses/{ids['acme_key']}",
            },
        ],
        "total": 3,
    }
    inactive = staff_panel.get("/api/global-search?q=qqqq&type=license").json()
    assert inactive["results"][0]["subtitle"] == "Other Ltd - Inactive" and inactive["total"] == 1
    by_name = staff_panel.get("/api/global-search?q=pc-ACME&type=device").json()  # machine name prefix, any case
    assert [r["id"] for r in by_name["results"]] == [ids["device"]]
    assert staff_panel.get("/api/global-search?q=hash-1&type=device").json()["total"] == 0  # beginnings only
    device = staff_panel.get("/api/global-search?q=DEADBEEF&type=device").json()  # hash prefix, any case
    assert device["results"] == [
        {
            "type": "device",
            "id": ids["nameless"],
            "title": "deadbeef",  # no machine name: the hardware hash
            "subtitle": "QQQQ-0002-AAAA-BBBB",
            "url": f"/licenses/{ids['off_key']}",
        }
    ]


def test_type_filter_limit_and_total(world: TestWorld, staff_panel: TestClient) -> None:
    seed(world)
    with world.engine.begin() as conn:
        rows = [{"n": f"Acme Branch {i:02d}", "e": f"b{i}@acme.com"} for i in range(30)]
        conn.execute(text("INSERT INTO customers (name, email) VALUES (:n, :e)"), rows)
    only_customers = staff_panel.get("/api/global-search?q=acme&type=customer&limit=5").json()
    assert [r["type"] for r in only_customers["results"]] == ["customer"] * 5
    assert only_customers["total"] == 31  # counted beyond the limit
    everything = staff_panel.get("/api/global-search?q=acme&limit=100").json()
    assert len(everything["results"]) == 33 and everything["total"] == 33
    assert staff_panel.get("/api/global-search?q=nothing-matches").json() == {"results": [], "total": 0}
    assert staff_panel.get("/api/global-search?q=%25").json()["total"] == 0  # wildcards are literal


def test_bad_parameters(world: TestWorld, staff_panel: TestClient) -> None:
    for query in (
        "",
        "q=",
        "q=" + "x" * 101,
        "q=a&type=invoice",
        "q=a&limit=0",
        "q=a&limit=101",
        "q=a&limit=x",
        "q=%00",
    ):
        response = staff_panel.get(f"/api/global-search?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert staff_panel.get("/search?q=" + "x" * 101).status_code == 400


def test_search_page_groups_results_by_type(world: TestWorld, staff_panel: TestClient) -> None:
    ids = seed(world)
    page = staff_panel.get("/search?q=acme")
    assert page.status_code == 200
    assert "3 Treffer" in page.text
    assert "Kunden (1)" in page.text and "Lizenzen (1)" in page.text and "Geräte (1)" in page.text
    assert f'href="/customers/{ids["acme"]}/edit"' in page.text
    assert f'href="/licenses/{ids["acme_key"]}"' in page.text
    assert page.text.index("Kunden (1)") < page.text.index("Lizenzen (1)") < page.text.index("Geräte (1)")
    assert 'value="acme"' in page.text  # the header's search box keeps the query
    assert "ACME Corp – aktiv" in page.text and "Active" not in page.text  # German on the page
    assert "Other Ltd – inaktiv" in staff_panel.get("/search?q=qqqq").text
    empty = staff_panel.get("/search")
    assert empty.status_code == 200 and "Treffer" not in empty.text
