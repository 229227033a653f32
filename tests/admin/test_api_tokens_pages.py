"""Lizenzserver Administration → API-Zugänge: a token made in the panel is shown whole once, listed
by its prefix only, works on the management API's check until it is revoked, and every change is
in the audit log without the secret; on both databases."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from licenseserver.db.sql import Connection
from licenseserver.domain.installation import run_in_transaction
from licenseserver.domain.tokens.auth import TokenIdentity, authenticate
from licenseserver.domain.tokens.format import token_key
from tests.admin.conftest import STAFF_USERNAME
from tests.admin.pool_support import audit
from tests.admin.test_i18n import ENGLISH_PATTERN, visible_text
from tests.support.world import TestWorld

PAGE = "/administration/api-tokens"
PANEL_SECRET = "test-secret-key-for-the-panel"  # the panel fixture's SECRET_KEY: the API derives the same key
TOKEN = re.compile(r'id="new-secret-value">(v2lm_[a-z0-9]{8}_[A-Za-z0-9_-]+)</code>')


def create(panel: TestClient, name: str = "Webshop", scope: str = "write", expires_days: str = "") -> str:
    """Make a token through the form; the whole token the answer shows."""
    answer = panel.post(PAGE, data={"name": name, "scope": scope, "expires_days": expires_days})
    assert answer.status_code == 200, answer.text
    match = TOKEN.search(answer.text)
    assert match, "the new token is not on the page"
    assert "nur dieses eine Mal angezeigt" in answer.text
    return match.group(1)


def check(world: TestWorld, token: str) -> TokenIdentity | None:
    """The management API's own check of a presented token."""

    async def work(conn: Connection) -> TokenIdentity | None:
        return await authenticate(conn, token_key(PANEL_SECRET), token)

    return run_in_transaction(world.settings(), work)


def token_id(world: TestWorld, name: str) -> int:
    return int(world.scalar("SELECT id FROM api_tokens WHERE name = :n", n=name))


# --- access rules ---------------------------------------------------------------------------


def test_logged_out_pages_and_actions_redirect_to_login(world: TestWorld, staff_panel: TestClient) -> None:
    create(staff_panel)
    tid = token_id(world, "Webshop")
    staff_panel.cookies.clear()
    before = world.snapshot()
    revoke = f"{PAGE}/{tid}/revoke"
    for method, path in (("GET", PAGE), ("POST", PAGE), ("GET", revoke), ("POST", revoke)):
        answer = staff_panel.request(method, path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert world.snapshot() == before


def test_actions_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    create(staff_panel)
    tid = token_id(world, "Webshop")
    staff_panel.headers.pop("X-CSRF-Token")
    before = world.snapshot()
    assert staff_panel.post(PAGE, data={"name": "Zweiter", "scope": "read"}).status_code == 403
    assert staff_panel.post(f"{PAGE}/{tid}/revoke").status_code == 403
    assert world.snapshot() == before


# --- creating -------------------------------------------------------------------------------


def test_the_token_is_shown_once_and_the_list_shows_only_its_prefix(world: TestWorld, staff_panel: TestClient) -> None:
    token = create(staff_panel, "Webshop", "write")
    row = world.rows("SELECT name, scope, prefix, token_hash, created_by, expires_at FROM api_tokens")[0]
    assert row["name"] == "Webshop" and row["scope"] == "write" and row["created_by"] == STAFF_USERNAME
    assert token.startswith(row["prefix"] + "_") and row["expires_at"] is None
    assert token not in row["token_hash"]  # stored hashed
    listed = staff_panel.get(PAGE)
    assert listed.status_code == 200
    assert token not in listed.text and token.split("_", 2)[2] not in listed.text
    assert f"{row['prefix']}…" in listed.text
    assert "Schreiben" in listed.text and "Webshop" in listed.text
    [entry] = audit(world, "create")
    assert entry["actor"] == STAFF_USERNAME and entry["entity_type"] == "api_token"
    assert entry["after"]["prefix"] == row["prefix"] and entry["after"]["scope"] == "write"
    assert token not in str(world.rows("SELECT * FROM audit_log"))
    identity = check(world, token)
    assert identity is not None and identity.name == "Webshop" and identity.can_write


def test_an_expiry_in_days_is_set_by_the_database_clock_and_shown_as_a_german_date(
    world: TestWorld, staff_panel: TestClient
) -> None:
    create(staff_panel, "CRM", "read", "30")
    expires = world.scalar("SELECT expires_at FROM api_tokens WHERE name = 'CRM'")
    expires = datetime.fromisoformat(expires) if isinstance(expires, str) else expires
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    page = staff_panel.get(PAGE).text
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", page)  # dd.mm.yyyy hh:mm, the panel's format
    assert "Lesen" in page


def test_a_refused_form_is_shown_again_with_its_values_and_the_reason(
    world: TestWorld, staff_panel: TestClient
) -> None:
    before = world.snapshot()
    cases = (
        ({"name": "   ", "scope": "read", "expires_days": ""}, "Name: darf nicht leer sein"),
        ({"name": "Shop", "scope": "read", "expires_days": "0"}, "mindestens 1"),
        ({"name": "Shop", "scope": "read", "expires_days": "9999"}, "höchstens 3650"),
        ({"name": "Shop", "scope": "admin", "expires_days": ""}, "Berechtigung: ungültig"),
        ({"name": "Shop\nzwei", "scope": "read", "expires_days": ""}, "Name"),
    )
    for form, reason in cases:
        answer = staff_panel.post(PAGE, data=form)
        assert answer.status_code == 400, form
        text = html.unescape(answer.text)
        assert reason in text, (form, text[-800:])
        assert 'role="alert"' in answer.text
        assert TOKEN.search(answer.text) is None
        if form["expires_days"]:
            assert f'value="{form["expires_days"]}"' in answer.text
    assert world.snapshot() == before


# --- revoking -------------------------------------------------------------------------------


def test_revoke_after_confirmation_and_the_token_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    token = create(staff_panel, "Abrechnung", "read")
    other = create(staff_panel, "Bleibt", "read")
    tid = token_id(world, "Abrechnung")
    assert check(world, token) is not None
    confirm = staff_panel.get(f"{PAGE}/{tid}/revoke")
    assert confirm.status_code == 200 and "API-Zugang widerrufen?" in confirm.text and "Abrechnung" in confirm.text
    assert world.scalar("SELECT revoked_at FROM api_tokens WHERE id = :i", i=tid) is None  # asking changes nothing
    done = staff_panel.post(f"{PAGE}/{tid}/revoke", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?saved=revoked"
    assert world.scalar("SELECT revoked_at FROM api_tokens WHERE id = :i", i=tid) is not None
    assert check(world, token) is None
    assert check(world, other) is not None
    listed = staff_panel.get(f"{PAGE}?saved=revoked").text
    assert "wurde widerrufen" in listed
    assert f"{PAGE}/{tid}/revoke" not in listed  # no revoke button on a revoked token
    [entry] = audit(world, "revoke")
    assert entry["actor"] == STAFF_USERNAME and entry["entity_type"] == "api_token" and entry["entity_id"] == str(tid)
    assert token not in str(entry)


def test_revoking_twice_or_an_unknown_token_is_refused_in_german(world: TestWorld, staff_panel: TestClient) -> None:
    create(staff_panel, "Einmal", "read")
    tid = token_id(world, "Einmal")
    assert staff_panel.post(f"{PAGE}/{tid}/revoke", follow_redirects=False).status_code == 303
    before = world.snapshot()
    again = staff_panel.post(f"{PAGE}/{tid}/revoke")
    assert again.status_code == 409 and "bereits widerrufen" in again.text
    assert staff_panel.get(f"{PAGE}/{tid}/revoke").status_code == 409
    missing = staff_panel.post(f"{PAGE}/999999/revoke")
    assert missing.status_code == 404 and "Diesen API-Zugang gibt es nicht." in missing.text
    assert staff_panel.get(f"{PAGE}/0/revoke").status_code in (400, 404, 422)
    assert world.snapshot() == before
    assert len(audit(world, "revoke")) == 1


def test_the_administration_page_links_to_the_page(staff_panel: TestClient) -> None:
    page = staff_panel.get("/administration").text
    assert f'href="{PAGE}"' in page and 'href="/administration/webhooks"' in page
    sub = staff_panel.get(PAGE).text
    assert re.search(r'href="/administration"[^>]*aria-current="page"', sub)  # the menu marks Administration


def test_every_page_reads_german_and_an_english_account_reads_english(
    world: TestWorld, staff_panel: TestClient
) -> None:
    made = staff_panel.post(PAGE, data={"name": "Webshop", "scope": "read", "expires_days": "7"})
    tid = token_id(world, "Webshop")
    pages = [made, staff_panel.get(PAGE), staff_panel.get(f"{PAGE}/{tid}/revoke")]
    pages += [staff_panel.post(PAGE, data={"name": "", "scope": "x"}), staff_panel.get(f"{PAGE}/4242/revoke")]
    for page in pages:
        assert not ENGLISH_PATTERN.findall(visible_text(page.text)), (page.url, visible_text(page.text)[-400:])
    csrf = staff_panel.headers["x-csrf-token"]
    assert staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"}).status_code == 200
    english = visible_text(staff_panel.get(PAGE).text)
    assert "Last used" in english and "Create API access" in english and "Zuletzt benutzt" not in english
