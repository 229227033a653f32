"""The license page's offline license file (`<license key>.lic`, a compact JWS) and the offline
time to live edited with the license, on both databases."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.testclient import TestClient

from tests.admin.pool_support import audit, new_license
from tests.admin.test_signing_keys import PANEL_SECRET, page_jwks
from tests.conftest import make_client
from tests.support.world import TestWorld

DAY = 86_400


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verified_claims(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a compact JWS as a client does (header, kid in the JWK Set, Ed25519); header and claims."""
    header_part, payload_part, signature_part = token.split(".")
    header = json.loads(b64decode(header_part))
    assert header == {"alg": "EdDSA", "kid": header["kid"], "typ": "JWT"}
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public = Ed25519PublicKey.from_public_bytes(b64decode(jwk["x"]))
    public.verify(b64decode(signature_part), f"{header_part}.{payload_part}".encode())  # raises if forged
    return header, json.loads(b64decode(payload_part))


def device(panel: TestClient, world: TestWorld, lid: int, hardware_hash: str) -> int:
    """A device registered on the license through the panel; its id."""
    response = panel.post(f"/licenses/{lid}/devices", data={"hardware_hash": hardware_hash}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(world.scalar("SELECT id FROM activations WHERE hardware_hash = :h", h=hardware_hash))


def download_path(lid: int, device_id: int) -> str:
    return f"/licenses/{lid}/devices/{device_id}/offline-file"


def edit_form(world: TestWorld, lid: int, **changes: str) -> dict[str, str]:
    [row] = world.rows("SELECT * FROM licenses WHERE id = :i", i=lid)
    form = {
        "customer_id": str(row["customer_id"]),
        "license_type": row["license_type"],
        "valid_from": str(row["valid_from"]),
        "valid_until": "" if row["valid_until"] is None else str(row["valid_until"]),
        "max_activations": str(row["max_activations"]),
        "max_users": str(row["max_users"]),
        "is_active": "on",
        "offline_ttl_days": "" if row["offline_ttl_days"] is None else str(row["offline_ttl_days"]),
    }
    return {**form, **changes}


def jwks(panel: TestClient) -> dict[str, Any]:
    return page_jwks(panel.get("/administration").text)


# --- access rules ---------------------------------------------------------------------------


def test_logged_out_and_without_csrf_no_file(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    device_id = device(staff_panel, world, lid, "hw-access")
    token = staff_panel.headers.pop("X-CSRF-Token")
    before = world.snapshot()
    refused = staff_panel.post(download_path(lid, device_id))
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert staff_panel.post(download_path(lid, device_id), data={"csrf_token": "wrong"}).status_code == 403
    staff_panel.cookies.clear()
    out = staff_panel.post(download_path(lid, device_id), data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login?next=")
    assert world.snapshot() == before


def test_bad_and_unknown_ids_no_file(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    _, other = new_license(world)
    device_id = device(staff_panel, world, lid, "hw-mine")
    foreign = device(staff_panel, world, other, "hw-foreign")
    before = world.snapshot()
    for path in (
        f"/licenses/{lid}/devices/abc/offline-file",
        f"/licenses/{lid}/devices/0/offline-file",
        f"/licenses/{lid}/devices/99999999999/offline-file",
        f"/licenses/x/devices/{device_id}/offline-file",
    ):
        assert staff_panel.post(path).status_code == 400, path
    assert staff_panel.post(download_path(lid, 999_999)).status_code == 404
    assert staff_panel.post(download_path(lid, foreign)).status_code == 404  # another license's device
    assert staff_panel.post(download_path(999_999, device_id)).status_code == 404
    assert world.snapshot() == before


# --- the file -------------------------------------------------------------------------------


def test_download_is_a_signed_license_file_for_the_device(world: TestWorld, staff_panel: TestClient) -> None:
    key, lid = new_license(
        world, license_type="subscription", valid_from=date(2026, 1, 1), max_activations=3, max_users=2
    )
    device_id = device(staff_panel, world, lid, "hw-offline-1")
    page = staff_panel.get(f"/licenses/{lid}")
    assert f'action="{download_path(lid, device_id)}"' in page.text
    assert "Offline-Lizenzdatei herunterladen" in page.text and "30 Tage (Standard)" in page.text

    response = staff_panel.post(download_path(lid, device_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{key}.lic"'
    assert response.headers["cache-control"] == "no-store"
    assert response.text.endswith("\n") and response.text.count("\n") == 1

    header, claims = verified_claims(response.text.strip(), jwks(staff_panel))
    assert set(claims) == {
        "iat", "nbf", "exp", "jti", "sub", "hardware_hash", "license_type",
        "valid_from", "valid_until", "max_activations", "max_users",
    }  # fmt: skip
    assert claims["sub"] == key and claims["hardware_hash"] == "hw-offline-1"
    assert (claims["license_type"], claims["valid_from"], claims["valid_until"]) == ("subscription", "2026-01-01", None)
    assert (claims["max_activations"], claims["max_users"]) == (3, 2)
    assert claims["nbf"] == claims["iat"] and abs(claims["iat"] - datetime.now(UTC).timestamp()) < 60
    assert claims["exp"] - claims["iat"] == 30 * DAY
    assert uuid.UUID(claims["jti"]).version == 4

    # The License API's checkout gives the same file (but for its own issue time and jti).
    with make_client(world, secret_key=PANEL_SECRET) as api:
        body = {"license_key": key, "hardware_hash": "hw-offline-1"}
        checkout = api.post("/api/license/checkout", json=body, headers={"X-API-Key": world.api_key})
    assert checkout.status_code == 200, checkout.text
    api_header, api_claims = verified_claims(checkout.json()["license_file"], jwks(staff_panel))
    assert api_header == header
    volatile = {"iat", "nbf", "exp", "jti"}
    assert {k: v for k, v in api_claims.items() if k not in volatile} == {
        k: v for k, v in claims.items() if k not in volatile
    }
    assert api_claims["exp"] - api_claims["iat"] == claims["exp"] - claims["iat"]

    # A forged copy fails the same check.
    head, payload, signature = response.text.strip().split(".")
    forged = json.loads(b64decode(payload)) | {"max_activations": 99}
    forged_part = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    try:
        verified_claims(f"{head}.{forged_part}.{signature}", jwks(staff_panel))
    except InvalidSignature:
        pass
    else:
        raise AssertionError("a changed file still verified")

    [entry] = audit(world, "offline_file_issued")
    assert (entry["actor"], entry["entity_type"], entry["entity_id"]) == ("rac00n", "license", str(lid))
    expires = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert entry["after"] == {
        "device_id": device_id,
        "hardware_hash": "hw-offline-1",
        "kid": header["kid"],
        "jti": claims["jti"],
        "expires_at": expires,
    }
    assert response.text.strip() not in json.dumps(entry)  # the credential itself is not logged


def test_file_is_signed_by_the_current_key_after_a_rotation(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    device_id = device(staff_panel, world, lid, "hw-rotate")
    first, _ = verified_claims(staff_panel.post(download_path(lid, device_id)).text.strip(), jwks(staff_panel))
    assert staff_panel.post("/administration/signing-keys/rotate", follow_redirects=False).status_code == 303
    second, _ = verified_claims(staff_panel.post(download_path(lid, device_id)).text.strip(), jwks(staff_panel))
    current = world.scalar("SELECT kid FROM signing_keys WHERE state = 'current'")
    assert first["kid"] != second["kid"] == current


def test_file_never_outlives_the_license(world: TestWorld, staff_panel: TestClient) -> None:
    last_day = datetime.now(UTC).date() + timedelta(days=3)
    _, lid = new_license(world, valid_until=last_day)
    device_id = device(staff_panel, world, lid, "hw-short")
    _, claims = verified_claims(staff_panel.post(download_path(lid, device_id)).text.strip(), jwks(staff_panel))
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
    assert claims["exp"] == int(end.timestamp()) and claims["valid_until"] == last_day.isoformat()


def test_unusable_license_or_inactive_device_gets_no_file(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world, max_activations=2)
    active = device(staff_panel, world, lid, "hw-a")
    gone = device(staff_panel, world, lid, "hw-b")
    assert staff_panel.post(f"/licenses/{lid}/devices/{gone}/deactivate", follow_redirects=False).status_code == 303
    page = staff_panel.get(f"/licenses/{lid}").text
    assert f'action="{download_path(lid, active)}"' in page
    assert f'action="{download_path(lid, gone)}"' not in page  # only active devices get the button
    before = world.snapshot()
    refused = staff_panel.post(download_path(lid, gone))
    assert refused.status_code == 403 and "Das Gerät ist nicht aktiv" in refused.text
    assert "content-disposition" not in refused.headers and "hw-a" in refused.text  # the page again

    world.execute("UPDATE licenses SET is_active = :f WHERE id = :i", f=False, i=lid)
    refused = staff_panel.post(download_path(lid, active))
    assert refused.status_code == 403 and "Die Lizenz ist deaktiviert" in refused.text
    world.execute(
        "UPDATE licenses SET is_active = :t, valid_until = :d WHERE id = :i",
        t=True,
        d=datetime.now(UTC).date() - timedelta(days=1),
        i=lid,
    )
    refused = staff_panel.post(download_path(lid, active))
    assert refused.status_code == 403 and "Die Lizenz ist abgelaufen" in refused.text
    assert "content-disposition" not in refused.headers
    world.execute("UPDATE licenses SET valid_until = NULL WHERE id = :i", i=lid)
    assert world.snapshot() == before  # no audit entry, no key made for a refused file


# --- the offline time to live ------------------------------------------------------------------


def test_offline_ttl_is_edited_audited_shown_and_respected(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    device_id = device(staff_panel, world, lid, "hw-ttl")
    form_page = staff_panel.get(f"/licenses/{lid}/edit").text
    assert 'name="offline_ttl_days" value=""' in form_page

    response = staff_panel.post(f"/licenses/{lid}/edit", data=edit_form(world, lid, offline_ttl_days="7"))
    assert response.status_code == 200 and "Gespeichert." in response.text
    assert world.scalar("SELECT offline_ttl_days FROM licenses WHERE id = :i", i=lid) == 7
    [entry] = audit(world, "update")
    assert (entry["before"], entry["after"]) == ({"offline_ttl_days": None}, {"offline_ttl_days": 7})
    assert 'name="offline_ttl_days" value="7"' in staff_panel.get(f"/licenses/{lid}/edit").text
    assert "<dd>7 Tage</dd>" in staff_panel.get(f"/licenses/{lid}").text
    _, claims = verified_claims(staff_panel.post(download_path(lid, device_id)).text.strip(), jwks(staff_panel))
    assert claims["exp"] - claims["iat"] == 7 * DAY

    # Empty again: the default.
    staff_panel.post(f"/licenses/{lid}/edit", data=edit_form(world, lid, offline_ttl_days=""))
    assert world.scalar("SELECT offline_ttl_days FROM licenses WHERE id = :i", i=lid) is None
    assert audit(world, "update")[-1]["after"] == {"offline_ttl_days": None}
    _, claims = verified_claims(staff_panel.post(download_path(lid, device_id)).text.strip(), jwks(staff_panel))
    assert claims["exp"] - claims["iat"] == 30 * DAY


def test_bad_offline_ttl_is_refused_and_changes_nothing(world: TestWorld, staff_panel: TestClient) -> None:
    _, lid = new_license(world)
    staff_panel.post(f"/licenses/{lid}/edit", data=edit_form(world, lid, offline_ttl_days="14"))
    before = world.snapshot()
    for bad in ("0", "366", "-1", "abc", "1.5", "7 Tage", "99999999999999999999"):
        response = staff_panel.post(f"/licenses/{lid}/edit", data=edit_form(world, lid, offline_ttl_days=bad))
        assert response.status_code == 400, (bad, response.text)
        assert "notice error" in response.text
    # A NUL is refused for the whole form before the license's rules see it.
    response = staff_panel.post(f"/licenses/{lid}/edit", data=edit_form(world, lid, offline_ttl_days="1\x00"))
    assert response.status_code == 400
    assert "NUL-Zeichen" in response.text
    assert world.snapshot() == before
    assert world.scalar("SELECT offline_ttl_days FROM licenses WHERE id = :i", i=lid) == 14
