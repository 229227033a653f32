"""The resource pool: list, add many, quarantine and release, history, and the reference's
allocation and availability endpoints (all-or-nothing, each change in the history)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.testclient import TestClient

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.licensing.resource_allocation import release_resources_of_license
from tests.admin.conftest import count_queries, make_staff
from tests.admin.pool_support import (
    ALLOCATE,
    AdminServer,
    audit,
    history,
    new_license,
    pool,
    race,
    resource_state,
)
from tests.api.helpers import ISO_UTC, assert_error
from tests.support.world import TestWorld

CHECK = "/api/resources/check-availability"


def allocate(client: TestClient, lid: int, ids: list[int], **extra: object) -> dict[str, object]:
    response = client.post(ALLOCATE, json={"license_id": lid, "resource_ids": ids, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


# ---- pool page -----------------------------------------------------------------------------


def test_pool_page_filters_by_type_status_and_text(world: TestWorld, staff_panel: TestClient) -> None:
    domains = pool(world, "domain", "alpha.example", "beta.example")
    pool(world, "phone", "+49 30 1234567")
    _, lid = new_license(world)
    allocate(staff_panel, lid, [domains[0]])
    everything = staff_panel.get("/resources")
    assert everything.status_code == 200
    assert all(x in everything.text for x in ("alpha.example", "beta.example", "+49 30 1234567"))
    phones = staff_panel.get("/resources?type=phone").text
    assert "+49 30 1234567" in phones and "alpha.example" not in phones
    allocated = staff_panel.get("/resources?status=allocated").text
    assert "alpha.example" in allocated and "beta.example" not in allocated
    found = staff_panel.get("/resources?q=BETA").text
    assert "beta.example" in found and "alpha.example" not in found
    assert "alpha.example" not in staff_panel.get("/resources?q=%25").text  # LIKE wildcards are literal


def test_pool_page_pages_in_the_database(world: TestWorld, staff_panel: TestClient) -> None:
    pool(world, "server", *(f"SRV-{i:03d}" for i in range(60)))
    first = staff_panel.get("/resources").text
    second = staff_panel.get("/resources?page=2").text
    assert "SRV-049" in first and "SRV-050" not in first
    assert "SRV-050" in second and "SRV-059" in second and "SRV-000" not in second
    assert "Seite 2 von 2 · 51–60 von 60 Ressourcen" in second


def test_pool_page_refuses_bad_filters(staff_panel: TestClient) -> None:
    for query in ("type=car", "status=lost", "page=0", "page=x", "q=" + "x" * 256):
        assert staff_panel.get(f"/resources?{query}").status_code == 400, query


def test_pool_pages_need_a_login(world: TestWorld, panel: TestClient) -> None:
    [rid] = pool(world, "domain", "alpha.example")
    for path in ("/resources", f"/resources/{rid}"):
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


# ---- add many ------------------------------------------------------------------------------


def test_add_many_at_once(world: TestWorld, staff_panel: TestClient) -> None:
    text = "10.0.0.1\n\n  10.0.0.2  \r\n10.0.0.3\n"
    response = staff_panel.post(
        "/resources/add", data={"resource_type": "ipv4", "identifiers": text}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/resources?type=ipv4&added=3"
    rows = world.rows("SELECT id, identifier, status FROM resources ORDER BY id")
    assert [(r["identifier"], r["status"]) for r in rows] == [(f"10.0.0.{i}", "available") for i in (1, 2, 3)]
    assert history(world, rows[0]["id"]) == [("created", None, "rac00n")]
    [entry] = audit(world, "resource_create")
    assert entry["after"]["ids"] == [r["id"] for r in rows] and entry["after"]["resource_type"] == "ipv4"
    assert "3 Ressourcen angelegt" in staff_panel.get(response.headers["location"]).text


def test_add_many_is_all_or_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    pool(world, "domain", "taken.example")
    before = world.snapshot()
    cases = [
        ({"resource_type": "domain", "identifiers": "good.example\nnot a domain"}, 400, "not a domain"),
        ({"resource_type": "domain", "identifiers": "new.example\ntaken.example"}, 409, "taken.example"),
        ({"resource_type": "domain", "identifiers": "twice.example\ntwice.example"}, 400, ""),
        ({"resource_type": "domain", "identifiers": "\n \n"}, 400, ""),
        ({"resource_type": "car", "identifiers": "x"}, 400, ""),
        ({"resource_type": "domain"}, 400, ""),
        ({"resource_type": "domain", "identifiers": "\n".join(f"d{i}.example" for i in range(1001))}, 400, ""),
    ]
    for data, status, shown in cases:
        response = staff_panel.post("/resources/add", data=data)
        assert response.status_code == status, (data, response.text)
        assert 'class="notice error"' in response.text and shown in response.text
    # The refused text is offered again for correction.
    assert "good.example" in staff_panel.post("/resources/add", data=cases[0][0]).text
    assert world.snapshot() == before


def test_add_needs_login_and_csrf(staff_panel: TestClient, world: TestWorld) -> None:
    del staff_panel.headers["X-CSRF-Token"]
    data = {"resource_type": "domain", "identifiers": "a.example"}
    assert staff_panel.post("/resources/add", data=data).status_code == 403
    staff_panel.cookies.clear()
    response = staff_panel.post("/resources/add", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert world.scalar("SELECT COUNT(*) FROM resources") == 0


# ---- allocate ------------------------------------------------------------------------------


def test_allocate_answers_the_reference_shape_with_history_and_audit(world: TestWorld, staff_panel: TestClient) -> None:
    ids = pool(world, "domain", "a.example", "b.example", "c.example")
    _, lid = new_license(world)
    body = allocate(staff_panel, lid, ids[:2], resource_type="domain")
    assert body == {"success": True, "allocated": 2, "message": "2 resources allocated successfully"}
    assert resource_state(world, ids[0]) == ("allocated", lid)
    assert resource_state(world, ids[2]) == ("available", None)
    assert history(world, ids[1]) == [("created", None, "setup"), ("allocated", lid, "rac00n")]
    [entry] = audit(world, "resource_allocate")
    assert (entry["entity_type"], entry["entity_id"], entry["after"]) == (
        "license",
        str(lid),
        {"resource_ids": ids[:2]},
    )
    listed = staff_panel.get(f"/api/license/{lid}/resources")
    assert listed.status_code == 200
    resources = listed.json()["resources"]
    assert [{k: r[k] for k in ("id", "type", "identifier", "status")} for r in resources] == [
        {"id": ids[0], "type": "domain", "identifier": "a.example", "status": "allocated"},
        {"id": ids[1], "type": "domain", "identifier": "b.example", "status": "allocated"},
    ]
    assert all(set(r) == {"id", "type", "identifier", "status", "allocated_at"} for r in resources)
    assert ISO_UTC.match(resources[0]["allocated_at"])


def test_allocation_is_all_or_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    ids = pool(world, "server", "SRV-001", "SRV-002", "SRV-003")
    _, first = new_license(world)
    _, second = new_license(world)
    allocate(staff_panel, first, [ids[1]])
    quarantined = pool(world, "server", "SRV-004")[0]
    staff_panel.post(f"/api/resources/{quarantined}/quarantine")
    before = world.snapshot()
    body = assert_error(
        staff_panel.post(ALLOCATE, json={"license_id": second, "resource_ids": ids}), 409, "RESOURCE_NOT_AVAILABLE"
    )
    assert str(ids[1]) in body["error"]
    assert_error(
        staff_panel.post(ALLOCATE, json={"license_id": second, "resource_ids": [ids[0], quarantined]}),
        409,
        "RESOURCE_NOT_AVAILABLE",
    )
    assert world.snapshot() == before


def test_allocate_refusals(world: TestWorld, staff_panel: TestClient) -> None:
    [domain] = pool(world, "domain", "a.example")
    [phone] = pool(world, "phone", "+49 30 1234567")
    _, lid = new_license(world)
    before = world.snapshot()
    assert_error(
        staff_panel.post(ALLOCATE, json={"license_id": 999_999, "resource_ids": [domain]}), 404, "LICENSE_NOT_FOUND"
    )
    assert_error(
        staff_panel.post(ALLOCATE, json={"license_id": lid, "resource_ids": [domain, 999_999]}),
        404,
        "RESOURCE_NOT_FOUND",
    )
    bad_bodies = [
        {"license_id": lid, "resource_ids": [domain, phone], "resource_type": "domain"},
        {"license_id": lid, "resource_ids": [domain, domain]},
        {"license_id": lid, "resource_ids": []},
        {"license_id": lid},
        {"resource_ids": [domain]},
        {"license_id": "x", "resource_ids": [domain]},
        {"license_id": lid, "resource_ids": ["x"]},
        {"license_id": lid, "resource_ids": [0]},
        {"license_id": lid, "resource_ids": [domain], "resource_type": "car"},
        {"license_id": lid, "resource_ids": [domain], "extra": 1},
        {"license_id": lid, "resource_ids": list(range(1, 1002))},
        [lid],
    ]
    for body in bad_bodies:
        assert_error(staff_panel.post(ALLOCATE, json=body), 400, "VALIDATION_ERROR")
    assert_error(
        staff_panel.post(ALLOCATE, content=b"{oops", headers={"content-type": "application/json"}),
        400,
        "VALIDATION_ERROR",
    )
    assert world.snapshot() == before


def test_allocate_needs_login_and_csrf(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "domain", "a.example")
    _, lid = new_license(world)
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    assert_error(staff_panel.post(ALLOCATE, json={"license_id": lid, "resource_ids": [rid]}), 403, "CSRF_FAILED")
    staff_panel.cookies.clear()
    assert_error(staff_panel.post(ALLOCATE, json={"license_id": lid, "resource_ids": [rid]}), 401, "NOT_AUTHENTICATED")
    assert_error(staff_panel.get(f"/api/license/{lid}/resources"), 401, "NOT_AUTHENTICATED")
    assert world.snapshot() == before


def test_license_resources_of_an_unknown_license_is_404(staff_panel: TestClient) -> None:
    assert_error(staff_panel.get("/api/license/999999/resources"), 404, "LICENSE_NOT_FOUND")


# ---- availability --------------------------------------------------------------------------


def test_check_availability(world: TestWorld, staff_panel: TestClient) -> None:
    ids = pool(world, "server", "SRV-001", "SRV-002", "SRV-003")
    pool(world, "domain", "a.example")
    _, lid = new_license(world)
    allocate(staff_panel, lid, [ids[0]])
    two = staff_panel.get(f"{CHECK}?type=server&count=2")
    assert two.status_code == 200
    assert two.json() == {
        "available": True,
        "count": 2,
        "resources": [
            {"id": ids[1], "type": "server", "identifier": "SRV-002"},
            {"id": ids[2], "type": "server", "identifier": "SRV-003"},
        ],
    }
    five = staff_panel.get(f"{CHECK}?type=server&count=5").json()
    assert five["available"] is False and five["count"] == 2 and len(five["resources"]) == 2
    one = staff_panel.get(f"{CHECK}?type=server").json()
    assert one["available"] is True and len(one["resources"]) == 1
    assert staff_panel.get(f"{CHECK}?type=phone&count=1").json() == {"available": False, "count": 0, "resources": []}


def test_check_availability_refusals(panel: TestClient, world: TestWorld) -> None:
    assert_error(panel.get(f"{CHECK}?type=server&count=1"), 401, "NOT_AUTHENTICATED")


def test_check_availability_bad_input(staff_panel: TestClient) -> None:
    for query in ("", "type=car", "type=server&count=0", "type=server&count=x", "type=server&count=1001"):
        assert_error(staff_panel.get(f"{CHECK}?{query}"), 400, "VALIDATION_ERROR")


# ---- release and quarantine ----------------------------------------------------------------


def test_release_and_quarantine_json(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "phone", "+49 30 1234567")
    _, lid = new_license(world)
    allocate(staff_panel, lid, [rid])
    quarantine = staff_panel.post(f"/api/resources/{rid}/quarantine")
    assert quarantine.json() == {"success": True, "message": "Resource quarantined successfully"}
    assert resource_state(world, rid) == ("quarantine", None)
    assert_error(staff_panel.post(f"/api/resources/{rid}/quarantine"), 409, "CONFLICT")
    release = staff_panel.post(f"/api/resources/{rid}/release")
    assert release.json() == {"success": True, "message": "Resource released successfully"}
    assert resource_state(world, rid) == ("available", None)
    assert_error(staff_panel.post(f"/api/resources/{rid}/release"), 409, "CONFLICT")
    assert history(world, rid) == [
        ("created", None, "setup"),
        ("allocated", lid, "rac00n"),
        ("quarantined", lid, "rac00n"),
        ("released", None, "rac00n"),
    ]
    entries = audit(world)
    assert [e["action"] for e in entries] == ["resource_allocate", "resource_quarantine", "resource_release"]
    assert entries[1]["before"] == {"status": "allocated", "license_id": lid}
    assert entries[1]["after"] == {"status": "quarantine", "license_id": None}


def test_release_and_quarantine_refusals(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "domain", "a.example")
    before = world.snapshot()
    for action in ("release", "quarantine"):
        assert_error(staff_panel.post(f"/api/resources/999999/{action}"), 404, "RESOURCE_NOT_FOUND")
        assert_error(staff_panel.post(f"/api/resources/x/{action}"), 400, "VALIDATION_ERROR")
        assert staff_panel.post(f"/resources/999999/{action}").status_code == 404
    assert_error(staff_panel.post(f"/api/resources/{rid}/release"), 409, "CONFLICT")
    del staff_panel.headers["X-CSRF-Token"]
    assert_error(staff_panel.post(f"/api/resources/{rid}/quarantine"), 403, "CSRF_FAILED")
    assert staff_panel.post(f"/resources/{rid}/quarantine").status_code == 403
    staff_panel.cookies.clear()
    assert_error(staff_panel.post(f"/api/resources/{rid}/quarantine"), 401, "NOT_AUTHENTICATED")
    assert world.snapshot() == before


def test_pool_buttons_return_to_the_list(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "domain", "a.example")
    back = "/resources?type=domain&page=1"
    response = staff_panel.post(f"/resources/{rid}/quarantine", data={"back": back}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == back + "&notice=quarantined"
    assert "Ressource in Quarantäne genommen." in staff_panel.get(response.headers["location"]).text
    response = staff_panel.post(f"/resources/{rid}/release", data={"back": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == f"/resources/{rid}?notice=released"
    assert "Ressource freigegeben." in staff_panel.get(response.headers["location"]).text
    assert resource_state(world, rid) == ("available", None)


# ---- history page --------------------------------------------------------------------------


def test_resource_history_page(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "server", "SRV-001")
    key, lid = new_license(world)
    allocate(staff_panel, lid, [rid])
    page = staff_panel.get(f"/resources/{rid}")
    assert page.status_code == 200
    assert "SRV-001" in page.text and "Verlauf" in page.text and key in page.text
    assert "Angelegt" in page.text and "Zugewiesen" in page.text and "rac00n" in page.text
    assert staff_panel.get("/resources/999999").status_code == 404
    assert staff_panel.get("/resources/abc").status_code == 400


# ---- release when a license goes -----------------------------------------------------------


def test_release_resources_of_license_returns_them_to_the_pool(world: TestWorld, staff_panel: TestClient) -> None:
    ids = pool(world, "ipv4", "10.0.0.1", "10.0.0.2", "10.0.0.3")
    _, lid = new_license(world)
    _, other = new_license(world)
    allocate(staff_panel, lid, ids[:2])
    allocate(staff_panel, other, [ids[2]])
    released = run_in_orm_transaction(
        world.database_url, lambda session: release_resources_of_license(session, lid, "deleter")
    )
    assert released == 2
    assert [resource_state(world, i) for i in ids] == [("available", None), ("available", None), ("allocated", other)]
    assert history(world, ids[0])[-1] == ("released", lid, "deleter")
    nothing = run_in_orm_transaction(world.database_url, lambda s: release_resources_of_license(s, 999_999, "x"))
    assert nothing == 0


# ---- parallel allocation on a real server --------------------------------------------------


def test_parallel_allocations_never_share_a_resource(pg_world: TestWorld) -> None:
    make_staff(pg_world)
    licenses = [new_license(pg_world)[1] for _ in range(10)]
    contested = pool(pg_world, "server", "SRV-A", "SRV-B", "SRV-C")
    chain = pool(pg_world, "domain", *(f"d{i}.example" for i in range(11)))
    server = AdminServer(pg_world)
    try:
        # One after the other: the log-in throttle lets at most 5 password checks run at once, and
        # a successful one gives its attempt back.
        clients = [server.logged_in_client() for _ in range(10)]
        # Ten licenses ask for the same three resources at once: exactly one gets all three.
        statuses = race(clients, [{"license_id": lid, "resource_ids": contested} for lid in licenses])
        assert sorted(statuses) == [200] + [409] * 9, statuses
        winner = licenses[statuses.index(200)]
        owners = pg_world.rows("SELECT status, license_id FROM resources WHERE resource_type = 'server'")
        assert owners == [{"status": "allocated", "license_id": winner}] * 3
        allocated = pg_world.scalar("SELECT COUNT(*) FROM resource_history WHERE action = 'allocated'")
        assert allocated == 3
        # Overlapping pairs (d0+d1, d1+d2, ...): every winner holds both, no resource twice.
        pairs = [{"license_id": lid, "resource_ids": chain[i : i + 2]} for i, lid in enumerate(licenses)]
        statuses = race(clients, pairs)
        assert set(statuses) <= {200, 409} and 200 in statuses
        for status, body in zip(statuses, pairs, strict=True):
            held = pg_world.scalar(
                "SELECT COUNT(*) FROM resources WHERE license_id = :l AND resource_type = 'domain'",
                l=body["license_id"],
            )
            assert held == (2 if status == 200 else 0)
        per_resource = pg_world.rows(
            "SELECT resource_id, COUNT(*) AS n FROM resource_history WHERE action = 'allocated'"
            " GROUP BY resource_id HAVING COUNT(*) > 1"
        )
        assert per_resource == []
        assert len(audit(pg_world, "resource_allocate")) == statuses.count(200) + 1
    finally:
        for client in clients if "clients" in locals() else []:
            client.close()
        server.stop()


def test_list_pages_run_a_constant_number_of_queries(world: TestWorld, staff_panel: TestClient) -> None:
    """No N+1: the pool, the live sessions and the license page cost the same with more rows."""
    _, lid = new_license(world, max_activations=50)
    paths = ("/resources", "/sessions", f"/licenses/{lid}")

    def grow(n: int, tag: str) -> None:
        ids = pool(world, "server", *(f"SRV-{tag}-{i}" for i in range(n)))
        staff_panel.post(ALLOCATE, json={"license_id": lid, "resource_ids": ids[: n // 2]})
        for i in range(n):
            staff_panel.post(f"/api/license/{lid}/register-device", json={"hardware_hash": f"hw-{tag}-{i}"})
            _, other = new_license(world)
            world.execute(
                "INSERT INTO sessions (session_token, license_id, hardware_hash, started_at, last_heartbeat)"
                " VALUES (:t, :l, 'hw', :now, :now)",
                t=f"{tag}-{i}",
                l=other,
                now=datetime.now(UTC),
            )

    grow(2, "a")
    few = [count_queries(staff_panel, path) for path in paths]
    grow(20, "b")
    assert [count_queries(staff_panel, path) for path in paths] == few
    assert "1–22 von 22 Sitzungen" in staff_panel.get("/sessions").text
