"""Live sessions in the panel, and staff ending a session by the clients' own rule."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.admin.pool_support import audit, license_id
from tests.api.helpers import assert_error, heartbeat, live_session, start_session
from tests.conftest import make_client
from tests.support.world import TestWorld

END_JSON = "/api/sessions/{}/end"


def session_id(world: TestWorld, token: str) -> int:
    return int(world.scalar("SELECT id FROM sessions WHERE session_token = :t", t=token))


def test_live_sessions_page_lists_only_live_sessions(world: TestWorld, staff_panel: TestClient) -> None:
    alpha = world.customer("Alpha GmbH", "it@alpha.example")
    beta = world.customer("Beta AG", "it@beta.example")
    with make_client(world) as api:
        live_key, _ = live_session(world, api, "hw-live", customer_id=alpha)
        stale_key, stale_token = live_session(world, api, "hw-stale", customer_id=beta)
        ended_key, ended_token = live_session(world, api, "hw-ended", customer_id=beta)
        api.post("/api/license/session/end", json={"session_token": ended_token})
    world.age_session(stale_token, 600)  # silent longer than the 90 s timeout
    page = staff_panel.get("/sessions")
    assert page.status_code == 200
    assert live_key in page.text and "Alpha GmbH" in page.text and "DESKTOP-ABC123" in page.text
    assert stale_key not in page.text and ended_key not in page.text
    assert "Seite 1 von 1 · 1–1 von 1 Sitzungen" in page.text
    assert f'action="/sessions/{session_id(world, stale_token)}/end"' not in page.text


def test_live_sessions_page_needs_a_login(panel: TestClient) -> None:
    response = panel.get("/sessions", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/sessions"


def test_live_sessions_page_refuses_a_bad_page_number(staff_panel: TestClient) -> None:
    assert staff_panel.get("/sessions?page=0").status_code == 400
    assert staff_panel.get("/sessions?page=x").status_code == 400
    assert staff_panel.get("/sessions?page=2").status_code == 200  # past the end: an empty page


def test_staff_end_a_session_and_the_client_heartbeat_gets_404(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        key, token = live_session(world, api)
        sid = session_id(world, token)
        response = staff_panel.post(f"/sessions/{sid}/end", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/sessions?done=session_ended"
        assert_error(heartbeat(api, token, key), 404, "SESSION_NOT_FOUND")
        # The license is free again for a new session.
        assert start_session(api, key).status_code == 200
    row = world.rows("SELECT end_reason, ended_at FROM sessions WHERE id = :i", i=sid)[0]
    assert row["end_reason"] == "admin" and row["ended_at"] is not None
    [entry] = audit(world, "session_end")
    assert (entry["actor"], entry["entity_type"], entry["entity_id"]) == ("rac00n", "session", str(sid))
    assert entry["after"]["end_reason"] == "admin"
    assert "Sitzung beendet" in staff_panel.get("/sessions?done=session_ended").text


def test_end_session_json(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        key, token = live_session(world, api)
    sid = session_id(world, token)
    response = staff_panel.post(END_JSON.format(sid))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Session ended successfully"
    assert body["session_id"] == sid and body["license_id"] == license_id(world, key)
    assert body["end_reason"] == "admin" and body["duration_seconds"] >= 0
    assert_error(staff_panel.post(END_JSON.format(sid)), 409, "CONFLICT")


def test_ending_a_timed_out_session_records_the_timeout(world: TestWorld, staff_panel: TestClient) -> None:
    """The clients' rule: a session already silent past the timeout ended as a timeout."""
    with make_client(world) as api:
        _, token = live_session(world, api)
    world.age_session(token, 600)
    response = staff_panel.post(END_JSON.format(session_id(world, token)))
    assert response.status_code == 200
    assert response.json()["end_reason"] == "timeout"
    assert world.scalar("SELECT end_reason FROM sessions WHERE session_token = :t", t=token) == "timeout"


def test_end_unknown_session_is_404(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    assert_error(staff_panel.post(END_JSON.format(999_999)), 404, "SESSION_NOT_FOUND")
    assert_error(staff_panel.post(END_JSON.format("abc")), 400, "VALIDATION_ERROR")
    assert staff_panel.post("/sessions/999999/end").status_code == 404
    assert world.snapshot() == before


def test_end_session_needs_login_and_csrf(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        _, token = live_session(world, api)
    sid = session_id(world, token)
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    assert_error(staff_panel.post(END_JSON.format(sid)), 403, "CSRF_FAILED")
    assert staff_panel.post(f"/sessions/{sid}/end").status_code == 403
    staff_panel.cookies.clear()
    assert_error(staff_panel.post(END_JSON.format(sid)), 401, "NOT_AUTHENTICATED")
    response = staff_panel.post(f"/sessions/{sid}/end", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert world.snapshot() == before
