"""Lizenzserver Administration → Signaturschlüssel: the key list, the JWK Set, rotation and the
retirement of older keys, on both databases."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from tests.admin.pool_support import audit
from tests.conftest import make_client
from tests.support.world import TestWorld

ROTATE = "/administration/signing-keys/rotate"
PANEL_SECRET = "test-secret-key-for-the-panel"  # the panel fixture's SECRET_KEY: the API must share it
JWKS_BLOCK = re.compile(r'<pre class="jwks" id="jwks-json"[^>]*>(.*?)</pre>', re.S)
KID_FORMAT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def retire_path(kid: str) -> str:
    return f"/administration/signing-keys/{kid}/retire"


def keys(world: TestWorld) -> list[dict[str, Any]]:
    return world.rows("SELECT kid, state FROM signing_keys ORDER BY id")


def rotate(panel: TestClient) -> str:
    """Rotate through the panel; the new current kid."""
    response = panel.post(ROTATE, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/administration?saved=signing_key_rotated#signaturschluessel"
    return str(page_jwks(panel.get("/administration").text)["keys"][0]["kid"])


def page_jwks(page: str) -> dict[str, Any]:
    match = JWKS_BLOCK.search(page)
    assert match, "no JWK Set block on the page"
    document: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return document


def key_rows(page: str) -> list[tuple[str, str]]:
    """(kid, state label) per row of the key table."""
    body = page.split('class="signing-keys"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td class="mono break">([^<]+)</td>\s*<td><span class="badge \w+">([^<]+)</span>', body)


# --- access rules ---------------------------------------------------------------------------


def test_logged_out_actions_redirect_to_login_and_change_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    old = rotate(staff_panel)
    rotate(staff_panel)
    staff_panel.cookies.clear()  # logged out (the CSRF header stays: it opens nothing alone)
    before = world.snapshot()
    for method, path in (("POST", ROTATE), ("GET", retire_path(old)), ("POST", retire_path(old))):
        response = staff_panel.request(method, path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert world.snapshot() == before


def test_actions_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    old = rotate(staff_panel)
    rotate(staff_panel)
    token = staff_panel.headers.pop("X-CSRF-Token")
    before = world.snapshot()
    for path in (ROTATE, retire_path(old)):
        assert staff_panel.post(path).status_code == 403, path
        wrong = staff_panel.post(path, data={"csrf_token": token[:-1] + "x"})
        assert wrong.status_code == 403 and "CSRF" in wrong.text
    assert world.snapshot() == before


def test_bad_unknown_and_unretirable_keys_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    old = rotate(staff_panel)
    current = rotate(staff_panel)
    assert staff_panel.post(retire_path(old)).status_code == 200  # follows to the page
    before = world.snapshot()
    for bad in ("bad%20kid", "k" * 65, "a.b", "%C3%A4"):
        assert staff_panel.get(retire_path(bad)).status_code == 400, bad
        assert staff_panel.post(retire_path(bad)).status_code == 400, bad
    unknown = "A" * 43
    for method in ("GET", "POST"):
        assert staff_panel.request(method, retire_path(unknown)).status_code == 404
        refused = staff_panel.request(method, retire_path(current))
        assert refused.status_code == 409 and "aktuelle Schlüssel kann nicht zurückgezogen" in refused.text
        again = staff_panel.request(method, retire_path(old))
        assert again.status_code == 409 and "bereits zurückgezogen" in again.text
    assert world.snapshot() == before


# --- list, JWK Set, rotation ------------------------------------------------------------------


def test_section_without_keys_offers_the_first_one(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/administration")
    assert page.status_code == 200
    assert "Signaturschlüssel" in page.text and "Noch kein Signaturschlüssel" in page.text
    assert page_jwks(page.text) == {"keys": []}
    assert f'action="{ROTATE}"' in page.text and "Neuen Signaturschlüssel erzeugen" in page.text
    # The copy button works through a static script, not inline code (CSP).
    assert '<script src="/static/signing.js" defer></script>' in page.text
    assert 'data-copy-target="#jwks-json"' in page.text and "<script>" not in page.text
    script = staff_panel.get("/static/signing.js")
    assert script.status_code == 200 and "data-copy-target" in script.text


def test_rotation_shows_both_keys_and_publishes_both(world: TestWorld, staff_panel: TestClient) -> None:
    first = rotate(staff_panel)
    assert keys(world) == [{"kid": first, "state": "current"}]
    second = rotate(staff_panel)
    assert KID_FORMAT.match(first) and KID_FORMAT.match(second) and first != second
    assert keys(world) == [{"kid": first, "state": "previous"}, {"kid": second, "state": "current"}]

    page = staff_panel.get("/administration?saved=signing_key_rotated").text
    assert "Ein neuer Signaturschlüssel signiert ab sofort" in page
    assert key_rows(page) == [(second, "aktuell"), (first, "veröffentlicht")]
    jwks = page_jwks(page)
    assert [k["kid"] for k in jwks["keys"]] == [second, first]  # the current key first
    for jwk in jwks["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    with make_client(world, secret_key=PANEL_SECRET) as api:
        assert api.get("/.well-known/jwks.json").json() == jwks  # the very set the License API publishes
    # Only the older key can be retired; the private halves are never on the page.
    assert f'href="{retire_path(first)}"' in page and f'href="{retire_path(second)}"' not in page
    for sealed in world.rows("SELECT private_key FROM signing_keys"):
        assert sealed["private_key"] not in page
    assert page.count("SHA256:") == 2  # a fingerprint per key

    entries = audit(world, "signing_key_rotated")
    assert [(e["actor"], e["entity_type"], e["entity_id"]) for e in entries] == [
        ("rac00n", "signing_key", first),
        ("rac00n", "signing_key", second),
    ]
    assert entries[0]["before"] is None and entries[0]["after"] == {"current": first, "previous": None}
    assert entries[1]["before"] == {"current": first}
    assert entries[1]["after"] == {"current": second, "previous": first}


def test_key_age_in_days_of_the_display_time_zone(world: TestWorld, staff_panel: TestClient) -> None:
    old = rotate(staff_panel)
    rotate(staff_panel)
    made = datetime.now(UTC) - timedelta(days=12)
    world.execute("UPDATE signing_keys SET created_at = :t WHERE kid = :k", t=made, k=old)
    berlin = ZoneInfo("Europe/Berlin")
    days = (datetime.now(berlin).date() - made.astimezone(berlin).date()).days
    page = staff_panel.get("/administration").text
    assert f"erstellt am {made.astimezone(berlin):%d.%m.%Y}, vor {days} Tagen" in page
    today = datetime.now(berlin).strftime("%d.%m.%Y")
    assert f"erstellt am {today}, heute" in page


# --- retirement -----------------------------------------------------------------------------


def test_retire_asks_first_then_leaves_the_jwk_set(world: TestWorld, staff_panel: TestClient) -> None:
    old = rotate(staff_panel)
    current = rotate(staff_panel)
    before = world.rows("SELECT * FROM signing_keys ORDER BY id"), audit(world)
    confirm = staff_panel.get(retire_path(old))
    assert confirm.status_code == 200
    assert "Signaturschlüssel zurückziehen?" in confirm.text and old in confirm.text
    assert f'action="{retire_path(old)}"' in confirm.text and "Endgültig zurückziehen" in confirm.text
    # Asking changes nothing (the session's last-seen time aside).
    assert (world.rows("SELECT * FROM signing_keys ORDER BY id"), audit(world)) == before

    response = staff_panel.post(retire_path(old), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/administration?saved=signing_key_retired#signaturschluessel"
    assert keys(world) == [{"kid": old, "state": "retired"}, {"kid": current, "state": "current"}]
    assert world.scalar("SELECT retired_at FROM signing_keys WHERE kid = :k", k=old) is not None

    page = staff_panel.get(response.headers["location"]).text
    assert "wurde zurückgezogen" in page
    assert key_rows(page) == [(current, "aktuell"), (old, "zurückgezogen")]
    assert [k["kid"] for k in page_jwks(page)["keys"]] == [current]
    assert f'href="{retire_path(old)}"' not in page
    [entry] = audit(world, "signing_key_retired")
    assert (entry["actor"], entry["entity_type"], entry["entity_id"]) == ("rac00n", "signing_key", old)
    assert (entry["before"], entry["after"]) == ({"state": "previous"}, {"state": "retired"})
