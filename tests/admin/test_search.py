"""Global search: GET /api/global-search (the reference's shape, plus leads, lead contacts and
resources), the /search page and the header box's live list (/search/live)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import text
from starlette.testclient import TestClient

from tests.admin.conftest import count_queries
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
                "license_count": 1,  # beyond the reference: the customer's licenses
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
        "groups": [  # beyond the reference: each kind's count
            {"type": "customer", "total": 1},
            {"type": "license", "total": 1},
            {"type": "device", "total": 1},
            {"type": "lead", "total": 0},
            {"type": "lead_contact", "total": 0},
            {"type": "resource", "total": 0},
        ],
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
    assert staff_panel.get("/api/global-search?q=nothing-matches").json()["results"] == []
    assert staff_panel.get("/api/global-search?q=nothing-matches").json()["total"] == 0
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
        "q=a%00b",
    ):
        response = staff_panel.get(f"/api/global-search?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "VALIDATION_ERROR"
    for path in ("/search", "/search/live"):
        assert staff_panel.get(f"{path}?q=" + "x" * 101).status_code == 400, path
        assert staff_panel.get(f"{path}?q=%00").status_code == 400, path


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
    assert "admin@acme.com – 1 Lizenz<" in page.text  # the customer's license count
    assert "Other Ltd – inaktiv" in staff_panel.get("/search?q=qqqq").text
    empty = staff_panel.get("/search")
    assert empty.status_code == 200 and "Treffer" not in empty.text


def test_kinds_with_hits_come_first_and_the_empty_ones_in_one_line(world: TestWorld, staff_panel: TestClient) -> None:
    """On a phone the hits must not sit below a screen of "Keine Treffer": a search that finds
    only resources (the last kind) shows them first, then names the kinds without hits."""
    world.customer("ACME Corp", "admin@acme.com")
    for number in range(8):
        add_resource(world, "ipv4", f"10.0.0.{number}")
    page = staff_panel.get("/search?q=10.")
    assert page.status_code == 200
    sections = re.findall(r'<section class="search-group" aria-labelledby="group-(\w+)">', page.text)
    assert sections == ["resource"]
    assert "8 Treffer" in page.text and "Ressourcen (8)" in page.text
    line = "Keine Treffer bei: Kunden, Lizenzen, Geräte, Leads, Lead-Kontakte."
    assert line in page.text and page.text.index("Ressourcen (8)") < page.text.index(line)
    assert "Keine Treffer.<" not in page.text
    # Several kinds with hits keep their usual order, before the line of empty kinds.
    add_resource(world, "domain", "acme.example")
    mixed = staff_panel.get("/search?q=acme")
    sections = re.findall(r'<section class="search-group" aria-labelledby="group-(\w+)">', mixed.text)
    assert sections == ["customer", "resource"]
    assert "Keine Treffer bei: Lizenzen, Geräte, Leads, Lead-Kontakte." in mixed.text
    assert mixed.text.index("group-resource") < mixed.text.index("Keine Treffer bei:")
    nothing = staff_panel.get("/search?q=nichts-passt")
    assert "0 Treffer" in nothing.text and "search-group" not in nothing.text.split("</form>", 1)[-1]
    assert "Keine Treffer bei: Kunden, Lizenzen, Geräte, Leads, Lead-Kontakte, Ressourcen." in nothing.text
    staff_panel.post("/account/language", data={"language": "en"})
    english = staff_panel.get("/search?q=10.")
    assert "No results in: Customers, Licenses, Devices, Leads, Lead contacts." in english.text, english.text[-900:]


def add_lead(world: TestWorld, name: str, kind: str = "university") -> int:
    world.execute("INSERT INTO lead_institutions (name, institution_type) VALUES (:n, :t)", n=name, t=kind)
    return int(world.scalar("SELECT id FROM lead_institutions WHERE name = :n", n=name))


def add_contact(world: TestWorld, institution: int, first: str, last: str, *details: tuple[str, str]) -> int:
    world.execute(
        "INSERT INTO lead_contacts (institution_id, first_name, last_name) VALUES (:i, :f, :l)",
        i=institution,
        f=first,
        l=last,
    )
    contact = int(world.scalar("SELECT max(id) FROM lead_contacts WHERE last_name = :l", l=last))
    for kind, value in details:
        world.execute(
            "INSERT INTO lead_contact_details (contact_id, detail_type, value) VALUES (:c, :t, :v)",
            c=contact,
            t=kind,
            v=value,
        )
    return contact


def add_resource(world: TestWorld, kind: str, identifier: str, license_id: int | None = None) -> int:
    status = "allocated" if license_id else "available"
    world.execute(
        "INSERT INTO resources (resource_type, identifier, status, license_id) VALUES (:t, :i, :s, :l)",
        t=kind,
        i=identifier,
        s=status,
        l=license_id,
    )
    return int(world.scalar("SELECT id FROM resources WHERE identifier = :i", i=identifier))


def hits(panel: TestClient, q: str, kind: str) -> list[dict[str, object]]:
    response = panel.get("/api/global-search", params={"q": q, "type": kind})
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_leads_are_found_by_institution_contact_name_and_contact_detail(
    world: TestWorld, staff_panel: TestClient
) -> None:
    lead = add_lead(world, "Fachhochschule Quellental")
    greta = add_contact(
        world, lead, "Greta", "Wendeborn", ("email", "g.wendeborn@fh-quelle.example"), ("phone", "+49 2331 987654")
    )
    add_contact(world, lead, "Jonas", "Brandt")
    other = add_lead(world, "Stadtwerke Auental", "company")

    assert hits(staff_panel, "quellental", "lead") == [
        {
            "type": "lead",
            "id": lead,
            "title": "Fachhochschule Quellental",
            "subtitle": "Lead - university",
            "url": f"/leads/edit/{lead}",
        }
    ]
    assert [h["id"] for h in hits(staff_panel, "tal", "lead")] == [lead, other]  # any part, by name
    by_name = hits(staff_panel, "greta wende", "lead_contact")  # every word, first or last name
    assert by_name == [
        {
            "type": "lead_contact",
            "id": greta,
            "title": "Greta Wendeborn",
            "subtitle": "Fachhochschule Quellental",
            "url": f"/leads/edit/{lead}#contact-{greta}",
        }
    ]
    by_mail = hits(staff_panel, "G.WENDEBORN@fh", "lead_contact")  # part of an e-mail, any case
    assert [(h["id"], h["subtitle"]) for h in by_mail] == [
        (greta, "Fachhochschule Quellental - g.wendeborn@fh-quelle.example")
    ]
    assert [h["id"] for h in hits(staff_panel, "987654", "lead_contact")] == [greta]  # a phone number
    assert hits(staff_panel, "greta brandt", "lead_contact") == []  # both words in one contact
    page = staff_panel.get("/search", params={"q": "wendeborn"})
    assert "Lead-Kontakte (1)" in page.text and "Leads (0)" not in page.text  # empty kinds: one line
    assert "Keine Treffer bei: Kunden, Lizenzen, Geräte, Leads, Ressourcen." in page.text
    assert f'href="/leads/edit/{lead}#contact-{greta}"' in page.text
    assert "Fachhochschule Quellental – g.wendeborn@fh-quelle.example" in page.text


def test_resources_are_found_by_their_identifier_exact_first(world: TestWorld, staff_panel: TestClient) -> None:
    ids = seed(world)
    wanted = add_resource(world, "ipv4", "192.0.2.11", ids["acme_key"])
    longer = add_resource(world, "ipv4", "192.0.2.110")
    shorter = add_resource(world, "ipv4", "192.0.2.1")
    domain = add_resource(world, "domain", "Kunde-7.example")

    found = hits(staff_panel, "192.0.2.11", "resource")
    assert found == [
        {
            "type": "resource",
            "id": wanted,
            "title": "192.0.2.11",
            "subtitle": "ipv4 - allocated - ACME-0001-AAAA-BBBB",
            "url": f"/resources/{wanted}",
        },
        {
            "type": "resource",
            "id": longer,
            "title": "192.0.2.110",
            "subtitle": "ipv4 - available",
            "url": f"/resources/{longer}",
        },
    ]
    assert [h["id"] for h in hits(staff_panel, "192.0.2.1", "resource")] == [shorter, wanted, longer]
    assert [h["id"] for h in hits(staff_panel, "kunde-7.EX", "resource")] == [domain]  # any case
    assert hits(staff_panel, "0.2.11", "resource") == []  # beginnings only
    everything = staff_panel.get("/api/global-search?q=192.0.2.11").json()  # without a type filter
    assert [r["type"] for r in everything["results"]] == ["resource", "resource"] and everything["total"] == 2
    page = staff_panel.get("/search?q=192.0.2.11")
    assert "Ressourcen (2)" in page.text and f'href="/resources/{wanted}"' in page.text
    assert "IPv4-Adresse – zugewiesen (ACME-0001-AAAA-BBBB)" in page.text


def test_a_customer_hit_carries_its_license_count(world: TestWorld, staff_panel: TestClient) -> None:
    busy = world.customer("Orgelbau Kessler", "info@orgelbau-kessler.example")
    idle = world.customer("Orgelbau Lindner", "info@lindner.example")
    for n in range(3):
        add_license(world, f"ORGL-000{n}-AAAA-BBBB", busy)
    found = {h["id"]: h["license_count"] for h in hits(staff_panel, "orgelbau", "customer")}
    assert found == {busy: 3, idle: 0}
    page = staff_panel.get("/search?q=orgelbau").text
    assert "info@orgelbau-kessler.example – 3 Lizenzen" in page and "info@lindner.example – 0 Lizenzen" in page


def test_groups_are_limited_and_count_the_rest(world: TestWorld, staff_panel: TestClient) -> None:
    for i in range(12):
        add_lead(world, f"Akademie Nordlicht {i:02d}")
    answer = staff_panel.get("/api/global-search?q=nordlicht&limit=5").json()
    assert [r["title"] for r in answer["results"]] == [f"Akademie Nordlicht {i:02d}" for i in range(5)]
    assert answer["total"] == 12 and {"type": "lead", "total": 12} in answer["groups"]

    page = staff_panel.get("/search?q=nordlicht").text  # 10 a kind on the page
    assert "Leads (12)" in page and page.count('href="/leads/edit/') == 10
    assert "Die ersten 10 von 12 Treffern, weitere 2." in page
    assert 'href="/leads/?q=nordlicht">Alle in der Liste anzeigen' in page

    live = staff_panel.get("/search/live?q=nordlicht")  # 5 a kind in the box's list
    assert live.status_code == 200 and "<html" not in live.text
    assert live.text.count('role="option"') == 5 + 2  # the hits, "weitere 7", "alle anzeigen"
    assert "Leads (12)" in live.text and "weitere 7 – alle anzeigen" in live.text
    assert 'data-href="/leads/?q=nordlicht"' in live.text and 'data-href="/search?q=nordlicht"' in live.text
    assert 'data-summary="12 Treffer für „nordlicht“"' in live.text


def test_live_list_without_text_or_hits(world: TestWorld, staff_panel: TestClient) -> None:
    assert 'role="option"' not in staff_panel.get("/search/live?q=%20").text
    nothing = staff_panel.get("/search/live?q=nichts-passt").text
    assert 'aria-disabled="true"' in nothing and "Keine Treffer für „nichts-passt“" in nothing
    assert 'role="group"' not in nothing  # empty kinds are left out of the box's list


def test_live_list_logged_out(world: TestWorld, panel: TestClient) -> None:
    response = panel.get("/search/live?q=acme", follow_redirects=False)
    assert response.status_code in (303, 401)
    assert "Treffer" not in response.text


def test_search_sends_a_bounded_number_of_statements(world: TestWorld, staff_panel: TestClient) -> None:
    seed(world)
    few = count_queries(staff_panel, "/api/global-search?q=acme&limit=1")
    for i in range(5):
        add_lead(world, f"Acme Akademie {i}")
        add_resource(world, "domain", f"acme-{i}.example")
    more = count_queries(staff_panel, "/api/global-search?q=acme&limit=1")
    # Session check and refresh, the customers' match probe, one statement per kind, and a
    # COUNT for each kind with more hits than it shows (leads and resources now); SQLite's
    # write transaction starts with a BEGIN IMMEDIATE of its own.
    assert few == 2 + 1 + 6 + (1 if world.backend == "sqlite" else 0)
    assert more == few + 2
