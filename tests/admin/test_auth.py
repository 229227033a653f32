"""Log-in, log-out, sessions and the security rules every panel response follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.domain.installation import ensure_first_admin
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of, log_in, make_staff
from tests.support.world import TestWorld


def test_pages_redirect_to_login_when_logged_out(panel: TestClient) -> None:
    response = panel.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"


def test_login_then_dashboard_then_logout(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    csrf = log_in(panel)
    page = panel.get("/")
    assert page.status_code == 200
    assert "Dashboard" in page.text and "Abmelden" in page.text
    assert panel.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert panel.get("/", follow_redirects=False).status_code == 303
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0
    actions = [r["action"] for r in world.rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login", "logout"]


def test_wrong_password_is_refused_and_audited(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    form = panel.get("/login")
    response = panel.post(
        "/login", data={"username": STAFF_USERNAME, "password": "wrong-password", "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 401
    assert "Anmeldung fehlgeschlagen" in response.text
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0
    entry = world.rows("SELECT actor, action FROM audit_log")
    assert entry == [{"actor": STAFF_USERNAME, "action": "login_failed"}]
    assert STAFF_PASSWORD not in str(world.rows("SELECT * FROM audit_log"))


def test_login_without_csrf_is_refused(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    panel.get("/login")
    response = panel.post("/login", data={"username": STAFF_USERNAME, "password": STAFF_PASSWORD})
    assert response.status_code == 403
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0


@pytest.mark.usefixtures("inside_one_minute")  # the burst is counted exactly
def test_login_is_throttled_before_the_password_is_checked(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    csrf = csrf_of(panel.get("/login").text)
    statuses = [
        panel.post(
            "/login", data={"username": STAFF_USERNAME, "password": "nope-nope-nope", "csrf_token": csrf}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    # Even the right password is refused while the throttle holds.
    right = panel.post("/login", data={"username": STAFF_USERNAME, "password": STAFF_PASSWORD, "csrf_token": csrf})
    assert right.status_code == 429


def test_security_headers_on_every_response(panel: TestClient) -> None:
    for path in ("/login", "/", "/static/app.css", "/no-such-page"):
        headers = panel.get(path, follow_redirects=False).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"


def test_session_cookie_flags(world: TestWorld, panel: TestClient) -> None:
    make_staff(world)
    form = panel.get("/login")
    response = panel.post(
        "/login",
        data={"username": STAFF_USERNAME, "password": STAFF_PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_logout_without_csrf_is_refused(staff_panel: TestClient) -> None:
    del staff_panel.headers["X-CSRF-Token"]
    assert staff_panel.post("/logout").status_code == 403
    assert staff_panel.get("/", follow_redirects=False).status_code == 200


def test_idle_and_absolute_timeouts_end_the_session(world: TestWorld, staff_panel: TestClient) -> None:
    assert staff_panel.get("/", follow_redirects=False).status_code == 200
    world.execute("UPDATE admin_sessions SET last_seen_at = :t", t=datetime.now(UTC) - timedelta(minutes=31))
    assert staff_panel.get("/", follow_redirects=False).status_code == 303
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0

    staff_panel.headers["X-CSRF-Token"] = log_in(staff_panel)
    world.execute("UPDATE admin_sessions SET created_at = :t", t=datetime.now(UTC) - timedelta(hours=13))
    assert staff_panel.get("/", follow_redirects=False).status_code == 303


def test_first_admin_from_the_environment_only_while_there_is_none(world: TestWorld) -> None:
    ensure_first_admin(world.database_url, "erster", "ein-gutes-passwort")
    ensure_first_admin(world.database_url, "zweiter", "noch-ein-passwort")
    assert [r["username"] for r in world.rows("SELECT username FROM admin_users")] == ["erster"]


def test_hsts_and_secure_cookie_only_over_https(world: TestWorld) -> None:
    make_staff(world)
    app = create_admin_app(world.settings(secret_key="k" * 32, trusted_proxies=["127.0.0.1/32"]))
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as https_client:
        assert "strict-transport-security" in https_client.get("/login").headers
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as http_client:
        response = http_client.get("/login")
        assert "strict-transport-security" not in response.headers
        assert "Secure" not in response.headers["set-cookie"]
        # An untrusted peer cannot claim HTTPS with a header.
        spoofed = http_client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in spoofed.headers
