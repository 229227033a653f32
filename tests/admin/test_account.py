"""The own account: TOTP enrolment (QR code, signed secret, replay refused), log-in with the second
factor, switching it off, and the password change."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pyotp
from starlette.testclient import TestClient

from licenseserver.domain.staff.account import sign_enrolment
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of, log_in, make_staff
from tests.support.world import TestWorld

SECRET_TEXT = re.compile(r'<code class="mono totp-secret">([A-Z2-7 ]+)</code>')
ENROLMENT_FIELD = re.compile(r'name="enrolment" value="([^"]+)"')
PANEL_SECRET_KEY = "test-secret-key-for-the-panel"  # the `panel` fixture's
NEW_PASSWORD = "a-new-password-2025"
RECOVERY_CODE = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>")


def post(panel: TestClient, path: str, data: dict[str, str]) -> Any:
    return panel.post(path, data=data, follow_redirects=False)


def start_enrolment(panel: TestClient) -> tuple[str, str]:
    page = panel.get("/account/totp")
    assert page.status_code == 200
    secret_match, token_match = SECRET_TEXT.search(page.text), ENROLMENT_FIELD.search(page.text)
    assert secret_match and token_match
    return secret_match.group(1).replace(" ", ""), token_match.group(1)


def enrol_with_recovery_codes(panel: TestClient) -> tuple[str, str, list[str]]:
    """Switch TOTP on the way a person does; returns the secret, the code used and the recovery
    codes the answer shows (the account page itself, with the codes this once)."""
    secret, token = start_enrolment(panel)
    code = pyotp.TOTP(secret).now()
    response = post(panel, "/account/totp", {"enrolment": token, "code": code})
    assert response.status_code == 200, response.text
    assert "Die Zwei-Faktor-Anmeldung ist eingerichtet." in response.text
    return secret, code, RECOVERY_CODE.findall(response.text)


def enrol(panel: TestClient) -> tuple[str, str]:
    secret, code, _codes = enrol_with_recovery_codes(panel)
    return secret, code


def attempt_login(client: TestClient, password: str = STAFF_PASSWORD, totp: str | None = None) -> Any:
    csrf = csrf_of(client.get("/login").text)
    data = {"username": STAFF_USERNAME, "password": password, "csrf_token": csrf}
    if totp is not None:
        data["totp"] = totp
    return client.post("/login", data=data, follow_redirects=False)


def log_out(panel: TestClient) -> None:
    assert panel.post("/logout", follow_redirects=False).status_code == 303
    del panel.headers["X-CSRF-Token"]


def audit(world: TestWorld, action: str) -> list[dict[str, Any]]:
    return world.rows(
        "SELECT actor, entity_type, entity_id, before, after FROM audit_log WHERE action = :a ORDER BY id", a=action
    )


def totp_secret_stored(world: TestWorld) -> Any:
    return world.scalar("SELECT totp_secret_encrypted FROM admin_users WHERE username = :u", u=STAFF_USERNAME)


# --- access rules ---------------------------------------------------------------------------

ACTIONS = (
    (
        "/account/password",
        {"current_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
    ),
    ("/account/totp", {"enrolment": "x", "code": "123456"}),
    ("/account/totp/disable", {"password": STAFF_PASSWORD}),
)


def test_logged_out_redirects_to_login(world: TestWorld, panel: TestClient) -> None:
    before = world.snapshot()
    for path in ("/account", "/account/totp"):
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    for path, data in ACTIONS:
        assert post(panel, path, data).status_code == 303, path
    assert world.snapshot() == before


def test_actions_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    for path, data in ACTIONS:
        response = post(staff_panel, path, data)
        assert response.status_code == 403, path
        assert "CSRF" in response.text
    assert world.snapshot() == before


# --- TOTP -------------------------------------------------------------------------------------


def test_account_page_shows_totp_off(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/account")
    assert page.status_code == 200
    assert "ausgeschaltet" in page.text and 'href="/account/totp"' in page.text
    assert "Passwort ändern" in page.text


def test_enrolment_page_draws_the_qr_code_locally_and_stores_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    page = staff_panel.get("/account/totp")
    assert page.status_code == 200
    assert '<svg width="' in page.text and 'class="totp-qr-code"' in page.text
    assert "style=" not in page.text and "<script" not in page.text.split("</head>", 1)[1]
    assert "http" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")
    secret, token = start_enrolment(staff_panel)
    assert len(secret) >= 16 and token.startswith(secret + ".")
    assert totp_secret_stored(world) is None
    del before["admin_sessions"]  # only the session's last-seen time moved
    after = world.snapshot()
    del after["admin_sessions"]
    assert after == before


def test_totp_enrolment_then_login_requires_the_code_and_refuses_replays(
    world: TestWorld, staff_panel: TestClient
) -> None:
    secret, enrol_code = enrol(staff_panel)
    stored = totp_secret_stored(world)
    assert stored and secret not in stored  # kept encrypted
    assert [
        (r["entity_type"], json.loads(r["before"]), json.loads(r["after"])) for r in audit(world, "totp_enabled")
    ] == [("admin_user", {"totp_enabled": False}, {"totp_enabled": True})]
    assert secret not in str(world.rows("SELECT * FROM audit_log"))
    assert "eingeschaltet" in staff_panel.get("/account").text
    log_out(staff_panel)

    without = attempt_login(staff_panel)
    assert without.status_code == 401
    assert "Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch." in without.text  # as any failure
    assert 'name="totp"' in without.text
    assert attempt_login(staff_panel, totp="000000" if enrol_code != "000000" else "111111").status_code == 401
    assert attempt_login(staff_panel, totp=enrol_code).status_code == 401  # the enrolment's code, replayed

    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the next time step: within the drift window
    success = attempt_login(staff_panel, totp=next_code)
    assert success.status_code == 303
    staff_panel.headers["X-CSRF-Token"] = csrf_of(staff_panel.get("/").text)
    log_out(staff_panel)

    replay = attempt_login(staff_panel, totp=next_code)
    assert replay.status_code == 401  # the same code on a new log-in
    assert world.scalar("SELECT COUNT(*) FROM admin_sessions") == 0


def test_wrong_enrolment_code_is_refused_and_the_form_kept(world: TestWorld, staff_panel: TestClient) -> None:
    secret, token = start_enrolment(staff_panel)
    before = world.snapshot()
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    for code in (wrong, "", "12345", "abcdef", "1234567"):
        response = post(staff_panel, "/account/totp", {"enrolment": token, "code": code})
        assert response.status_code == 400, code
        assert "Der Code ist falsch" in response.text
        assert f'value="{token}"' in response.text  # the same secret: the scanned QR stays valid
    assert world.snapshot() == before


def test_forged_or_expired_enrolment_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    secret, token = start_enrolment(staff_panel)
    admin_id = world.scalar("SELECT id FROM admin_users WHERE username = :u", u=STAFF_USERNAME)
    own_secret = pyotp.random_base32()
    expired = sign_enrolment(PANEL_SECRET_KEY, admin_id, secret, int(time.time()) - 16 * 60)
    forged = f"{own_secret}.{token.split('.', 1)[1]}"  # a secret of the caller's choosing
    other_admin = sign_enrolment(PANEL_SECRET_KEY, admin_id + 1, secret)
    wrong_key = sign_enrolment("another-secret-key", admin_id, secret)
    before = world.snapshot()
    cases = [(expired, secret), (forged, own_secret), (other_admin, secret), (wrong_key, secret), ("", secret)]
    for bad_token, code_secret in cases:
        response = post(staff_panel, "/account/totp", {"enrolment": bad_token, "code": pyotp.TOTP(code_secret).now()})
        assert response.status_code == 400, bad_token
        assert "abgelaufen oder ungültig" in response.text
    assert world.snapshot() == before


def test_enrolling_twice_is_a_conflict(world: TestWorld, staff_panel: TestClient) -> None:
    _secret, token_before = start_enrolment(staff_panel)
    enrol(staff_panel)
    response = staff_panel.get("/account/totp", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    before = world.snapshot()
    secret = token_before.split(".", 1)[0]
    response = post(staff_panel, "/account/totp", {"enrolment": token_before, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 409
    assert world.snapshot() == before


def test_disable_totp_needs_the_password(world: TestWorld, staff_panel: TestClient) -> None:
    enrol(staff_panel)
    before = world.snapshot()
    for password in ("wrong-password", "", "x" * 2000):
        response = post(staff_panel, "/account/totp/disable", {"password": password})
        assert response.status_code == 400
        assert "aktuelle Passwort ist falsch" in response.text
    assert world.snapshot() == before
    response = post(staff_panel, "/account/totp/disable", {"password": STAFF_PASSWORD})
    assert response.status_code == 303 and response.headers["location"] == "/account?saved=totp_disabled"
    assert totp_secret_stored(world) is None
    assert [json.loads(r["after"]) for r in audit(world, "totp_disabled")] == [{"totp_enabled": False}]
    before = world.snapshot()
    assert post(staff_panel, "/account/totp/disable", {"password": STAFF_PASSWORD}).status_code == 409
    assert world.snapshot() == before
    log_out(staff_panel)
    assert attempt_login(staff_panel).status_code == 303  # the password alone again


def test_totp_can_be_set_up_again_after_disabling(world: TestWorld, staff_panel: TestClient) -> None:
    enrol(staff_panel)
    assert post(staff_panel, "/account/totp/disable", {"password": STAFF_PASSWORD}).status_code == 303
    enrol(staff_panel)  # within the same 30 s: its first code is no "replay" of the old secret's
    assert totp_secret_stored(world) is not None


# --- password ---------------------------------------------------------------------------------


def use_session(client: TestClient, cookie: str) -> None:
    client.cookies.clear()
    client.cookies.set("ls_admin", cookie)


def test_change_password(world: TestWorld, staff_panel: TestClient) -> None:
    first_browser = staff_panel.cookies["ls_admin"]
    staff_panel.cookies.clear()
    staff_panel.headers["X-CSRF-Token"] = log_in(staff_panel)  # a second log-in of the same admin
    second_browser = staff_panel.cookies["ls_admin"]
    response = post(
        staff_panel,
        "/account/password",
        {"current_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
    )
    assert response.status_code == 303 and response.headers["location"] == "/account?saved=password"
    assert "Passwort wurde geändert" in staff_panel.get("/account?saved=password").text  # this one stays in
    use_session(staff_panel, first_browser)
    assert staff_panel.get("/account", follow_redirects=False).status_code == 303  # the other is logged out
    use_session(staff_panel, second_browser)
    assert len(audit(world, "password_changed")) == 1
    log_entries = str(world.rows("SELECT * FROM audit_log"))
    assert NEW_PASSWORD not in log_entries and STAFF_PASSWORD not in log_entries
    log_out(staff_panel)
    assert attempt_login(staff_panel).status_code == 401
    assert attempt_login(staff_panel, password=NEW_PASSWORD).status_code == 303


def test_bad_password_changes_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    cases = [
        (
            {"current_password": "wrong-password", "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
            "falsch",
        ),
        ({"current_password": STAFF_PASSWORD, "new_password": "short", "new_password_repeat": "short"}, "10 bis"),
        ({"current_password": STAFF_PASSWORD, "new_password": "x" * 1025, "new_password_repeat": "x" * 1025}, "10 bis"),
        (
            {"current_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD, "new_password_repeat": "different-1234"},
            "nicht überein",
        ),
        ({"current_password": STAFF_PASSWORD}, "10 bis"),
    ]
    for data, reason in cases:
        response = post(staff_panel, "/account/password", data)
        assert response.status_code == 400, data
        assert reason in response.text
    assert world.snapshot() == before


def test_password_guesses_on_the_account_page_are_throttled(world: TestWorld, staff_panel: TestClient) -> None:
    guess = {"current_password": "guess-guess-1", "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD}
    statuses = [post(staff_panel, "/account/password", guess).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]  # the log-in limit (5 per minute) also guards this form
    right = {**guess, "current_password": STAFF_PASSWORD}
    assert post(staff_panel, "/account/password", right).status_code == 429


def test_other_admin_unaffected(world: TestWorld, staff_panel: TestClient) -> None:
    make_staff(world, "w@rh@mm3r", "Warhammer123!")
    enrol(staff_panel)
    assert world.scalar("SELECT totp_secret_encrypted FROM admin_users WHERE username = 'w@rh@mm3r'") is None
