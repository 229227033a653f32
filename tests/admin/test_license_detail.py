"""The license page: data and customer, devices, sessions and resources, and its forms (which
post normally, redirect back on success and show the page again with the refusal otherwise)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.admin.pool_support import audit, history, license_id, new_license, pool, resource_state
from tests.api.helpers import activate, assert_error, heartbeat, live_session
from tests.conftest import make_client
from tests.support.world import TestWorld


def resource_rows(page_html: str) -> str:
    """The page's part listing the license's resources (before the allocation forms)."""
    start = page_html.index('id="ressourcen"')
    return page_html[start : page_html.index("Ressourcen zuweisen", start)]


def test_page_shows_license_customer_devices_sessions_and_resources(world: TestWorld, staff_panel: TestClient) -> None:
    customer = world.customer("Omega KG", "it@omega.example")
    with make_client(world) as api:
        key, token = live_session(world, api, "hw-live", customer_id=customer, max_activations=3)
        assert activate(api, key, "hw-other", "LAPTOP-7").status_code == 200
    lid = license_id(world, key)
    [rid] = pool(world, "domain", "omega.example")
    staff_panel.post("/api/resources/allocate", json={"license_id": lid, "resource_ids": [rid]})
    page = staff_panel.get(f"/licenses/{lid}")
    assert page.status_code == 200
    for text in (key, "Omega KG", "it@omega.example", "hw-live", "LAPTOP-7", "2 von 3 aktiv", "omega.example"):
        assert text in page.text, text
    session = world.scalar("SELECT id FROM sessions WHERE session_token = :t", t=token)
    assert f'action="/licenses/{lid}/sessions/{session}/end"' in page.text
    assert token not in page.text  # the session token is the client's secret
    for action in ("deactivate", "offline-file"):  # one of each per active device
        assert len(re.findall(rf'action="/licenses/{lid}/devices/\d+/{action}"', page.text)) == 2, action
    assert f'action="/licenses/{lid}/resources/{rid}/release"' in page.text


def test_page_needs_login_and_a_known_license(world: TestWorld, panel: TestClient) -> None:
    _, lid = new_license(world)
    response = panel.get(f"/licenses/{lid}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/login?next=/licenses/{lid}"


def test_unknown_license_page_is_404(staff_panel: TestClient) -> None:
    response = staff_panel.get("/licenses/999999")
    assert response.status_code == 404 and "Nicht gefunden" in response.text
    assert staff_panel.get("/licenses/1?sessions_page=0").status_code == 400


def test_sessions_are_paged(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    for i in range(25):
        world.execute(
            "INSERT INTO sessions (session_token, license_id, machine_id, hardware_hash, started_at,"
            " last_heartbeat, ended_at, end_reason) VALUES (:t, :l, :m, 'hw', :s, :s, :s, 'normal')",
            t=f"token-{i:02d}",
            l=lid,
            m=f"MACHINE-{i:02d}",
            s=f"2025-06-01 10:{i:02d}:00.000000",
        )
    first = staff_panel.get(f"/licenses/{lid}").text
    second = staff_panel.get(f"/licenses/{lid}?sessions_page=2").text
    assert "MACHINE-24" in first and "MACHINE-05" in first and "MACHINE-04" not in first
    assert "MACHINE-04" in second and "MACHINE-00" in second and "MACHINE-24" not in second
    assert "Seite 2 von 2 (25 Sitzungen)" in second


# ---- forms ---------------------------------------------------------------------------------


def test_register_device_form(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world, max_activations=1)
    data = {"hardware_hash": "hw-form", "machine_name": "PC-9", "app_version": ""}
    response = staff_panel.post(f"/licenses/{lid}/devices", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/licenses/{lid}?done=device_registered#geraete"
    row = world.rows("SELECT machine_name, app_version FROM activations WHERE hardware_hash = 'hw-form'")
    assert row == [{"machine_name": "PC-9", "app_version": None}]
    assert "Gerät registriert." in staff_panel.get(response.headers["location"]).text
    assert len(audit(world, "device_register")) == 1
    # The limit holds for staff: the page comes back with the reason, nothing written.
    before = world.snapshot()
    refused = staff_panel.post(f"/licenses/{lid}/devices", data={"hardware_hash": "hw-two"})
    assert refused.status_code == 409 and "Aktivierungsgrenze erreicht" in refused.text
    assert "hw-form" in refused.text  # the page itself, drawn again
    bad = staff_panel.post(f"/licenses/{lid}/devices", data={"hardware_hash": "", "app_version": "x.y"})
    assert bad.status_code == 400 and "Hardware-Hash" in bad.text
    assert world.snapshot() == before


def test_deactivate_device_form_ends_its_session(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        key, token = live_session(world, api)
        lid = license_id(world, key)
        device = world.scalar("SELECT id FROM activations")
        response = staff_panel.post(f"/licenses/{lid}/devices/{device}/deactivate", follow_redirects=False)
        assert response.headers["location"] == f"/licenses/{lid}?done=device_deactivated#geraete"
        assert_error(heartbeat(api, token, key), 404, "SESSION_NOT_FOUND")
    again = staff_panel.post(f"/licenses/{lid}/devices/{device}/deactivate")
    assert again.status_code == 409 and "bereits deaktiviert" in again.text
    assert staff_panel.post(f"/licenses/{lid}/devices/999999/deactivate").status_code == 404


def test_end_session_form(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        key, token = live_session(world, api)
        lid = license_id(world, key)
        sid = world.scalar("SELECT id FROM sessions")
        _, other = new_license(world)
        assert staff_panel.post(f"/licenses/{other}/sessions/{sid}/end").status_code == 404  # not this license's
        response = staff_panel.post(f"/licenses/{lid}/sessions/{sid}/end", follow_redirects=False)
        assert response.headers["location"] == f"/licenses/{lid}?done=session_ended#sitzungen"
        assert_error(heartbeat(api, token, key), 404, "SESSION_NOT_FOUND")
    assert world.scalar("SELECT end_reason FROM sessions") == "admin"
    assert staff_panel.post(f"/licenses/{lid}/sessions/{sid}/end").status_code == 409


def test_allocate_forms_by_type_and_by_choice(world: TestWorld, staff_panel: TestClient) -> None:
    servers = pool(world, "server", "SRV-001", "SRV-002", "SRV-003")
    phones = pool(world, "phone", "+49 30 111111", "+49 30 222222")
    _, lid = new_license(world)
    by_type = staff_panel.post(
        f"/licenses/{lid}/resources/allocate", data={"resource_type": "server", "count": "2"}, follow_redirects=False
    )
    assert by_type.headers["location"] == f"/licenses/{lid}?done=resources_allocated#ressourcen"
    assert [resource_state(world, i)[0] for i in servers] == ["allocated", "allocated", "available"]
    picked = staff_panel.post(
        f"/licenses/{lid}/resources/allocate",
        data={"resource_ids": [str(phones[1]), str(servers[2])], "resource_type": "server", "count": "1"},
        follow_redirects=False,
    )
    assert picked.status_code == 303
    assert resource_state(world, phones[1]) == ("allocated", lid)
    assert resource_state(world, phones[0]) == ("available", None)
    assert [e["after"]["resource_ids"] for e in audit(world, "resource_allocate")] == [
        servers[:2],
        sorted([phones[1], servers[2]]),
    ]


def test_allocate_form_refusals_show_nothing_half_done(world: TestWorld, staff_panel: TestClient) -> None:
    ids = pool(world, "domain", "free.example", "busy.example")
    _, lid = new_license(world)
    _, other = new_license(world)
    staff_panel.post("/api/resources/allocate", json={"license_id": other, "resource_ids": [ids[1]]})
    before = world.snapshot()
    refused = staff_panel.post(f"/licenses/{lid}/resources/allocate", data={"resource_ids": [str(i) for i in ids]})
    assert refused.status_code == 409 and "nicht frei" in refused.text
    # The first resource was taken before the refusal; the page drawn after shows it undone.
    assert "free.example" not in resource_rows(refused.text)
    too_many = staff_panel.post(f"/licenses/{lid}/resources/allocate", data={"resource_type": "domain", "count": "5"})
    assert too_many.status_code == 409 and "Nur 1 Ressourcen vom Typ Domain sind frei" in too_many.text
    for data in ({"resource_type": "car", "count": "1"}, {"resource_type": "domain", "count": "0"}, {}):
        assert staff_panel.post(f"/licenses/{lid}/resources/allocate", data=data).status_code == 400
    assert (
        staff_panel.post(
            "/licenses/999999/resources/allocate", data={"resource_type": "domain", "count": "1"}
        ).status_code
        == 404
    )
    assert world.snapshot() == before


def test_release_form(world: TestWorld, staff_panel: TestClient) -> None:
    [rid] = pool(world, "ipv4", "10.0.0.1")
    _, lid = new_license(world)
    _, other = new_license(world)
    staff_panel.post("/api/resources/allocate", json={"license_id": lid, "resource_ids": [rid]})
    assert staff_panel.post(f"/licenses/{other}/resources/{rid}/release").status_code == 404  # not that license's
    response = staff_panel.post(f"/licenses/{lid}/resources/{rid}/release", follow_redirects=False)
    assert response.headers["location"] == f"/licenses/{lid}?done=resource_released#ressourcen"
    assert resource_state(world, rid) == ("available", None)
    assert history(world, rid)[-1] == ("released", lid, "rac00n")
    assert audit(world, "resource_release")[0]["before"] == {"status": "allocated", "license_id": lid}


def test_forms_need_login_and_csrf(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    [rid] = pool(world, "domain", "a.example")
    posts = [
        (f"/licenses/{lid}/devices", {"hardware_hash": "hw"}),
        (f"/licenses/{lid}/devices/1/deactivate", {}),
        (f"/licenses/{lid}/sessions/1/end", {}),
        (f"/licenses/{lid}/resources/allocate", {"resource_type": "domain", "count": "1"}),
        (f"/licenses/{lid}/resources/{rid}/release", {}),
    ]
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    for path, data in posts:
        assert staff_panel.post(path, data=data).status_code == 403, path
        assert staff_panel.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403, path
    staff_panel.cookies.clear()
    for path, data in posts:
        response = staff_panel.post(path, data=data, follow_redirects=False)
        assert response.status_code == 303 and re.match(r"^/login\?next=", response.headers["location"])
    assert world.snapshot() == before
