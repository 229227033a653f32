"""Signing keys and offline license files through the real pages in Chromium: staff download a
device's `.lic` file from the license page and rotate and retire keys in Administration.

The tests share one database and one pair of server processes (`shared_world`, `shared_servers`);
each makes its own license and looks only at what it made or at the keys it rotated.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, open_from_menu, screenshot
from tests.browser.test_flows import confirm_next_dialog, new_license
from tests.support.world import TestWorld


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def page_jwks(page: Page) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(page.locator("#jwks-json").inner_text())
    return document


def verified_claims(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    header_part, payload_part, signature_part = token.split(".")
    header = json.loads(b64decode(header_part))
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    Ed25519PublicKey.from_public_bytes(b64decode(jwk["x"])).verify(
        b64decode(signature_part), f"{header_part}.{payload_part}".encode()
    )
    claims: dict[str, Any] = json.loads(b64decode(payload_part))
    return claims


@pytest.mark.usefixtures("logged_in")
def test_download_an_offline_license_file(
    page: Page, shared_servers: Servers, shared_world: TestWorld, tmp_path: Path
) -> None:
    lic_id, key = new_license(shared_world, "Offline Vermessung Lahr", max_activations=2)
    page.goto(f"{shared_servers.admin_url}/licenses/{lic_id}")
    page.get_by_text("Gerät registrieren", exact=True).click()
    page.get_by_label("Hardware-Hash").fill("hw-lahr-offline-01")
    page.get_by_label("Rechnername").fill("LAHR-PC-01")
    page.get_by_role("button", name="Registrieren").click()
    expect(page.get_by_role("status")).to_have_text("Gerät registriert.")
    expect(page.locator("dl.facts")).to_contain_text("30 Tage (Standard)")
    screenshot(page, "license_offline_file")

    device_row = page.get_by_role("row").filter(has_text="hw-lahr-offline-01")
    page_url = page.url
    with page.expect_download() as download_info:
        device_row.get_by_role("button", name="Offline-Lizenzdatei herunterladen").click()
    download = download_info.value
    assert download.suggested_filename == f"{key}.lic"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 1
    expect(page).to_have_url(page_url)  # a download: the page stays as it was

    open_from_menu(page, "Administration")
    claims = verified_claims(text.strip(), page_jwks(page))
    assert claims["sub"] == key and claims["hardware_hash"] == "hw-lahr-offline-01"
    assert claims["max_activations"] == 2 and claims["exp"] - claims["iat"] == 30 * 86_400
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 120
    issued = shared_world.rows(
        "SELECT actor, after FROM audit_log WHERE action = 'offline_file_issued' AND entity_id = :i", i=str(lic_id)
    )
    assert len(issued) == 1 and json.loads(issued[0]["after"])["jti"] == claims["jti"]


@pytest.mark.usefixtures("logged_in")
def test_rotate_and_retire_a_signing_key(page: Page, shared_servers: Servers, shared_world: TestWorld) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=shared_servers.admin_url)
    open_from_menu(page, "Administration")
    section = page.locator("#signaturschluessel")
    rows = section.locator("tbody tr")
    for _ in range(2):  # two rotations: whatever keys exist, the last two made are current and previous
        confirm_next_dialog(page, "Neuen Signaturschlüssel erzeugen?")
        section.get_by_role("button", name="Neuen Signaturschlüssel erzeugen").click()
        expect(page.get_by_role("status")).to_contain_text("Ein neuer Signaturschlüssel signiert ab sofort")
    made = shared_world.rows("SELECT kid FROM signing_keys ORDER BY id DESC LIMIT 2")
    current, previous = made[0]["kid"], made[1]["kid"]
    expect(rows).to_have_count(int(shared_world.scalar("SELECT COUNT(*) FROM signing_keys")))
    expect(rows.nth(0)).to_contain_text(current)
    expect(rows.nth(0).locator(".badge")).to_have_text("aktuell")
    expect(rows.nth(1)).to_contain_text(previous)
    expect(rows.nth(1).locator(".badge")).to_have_text("veröffentlicht")
    expect(rows.nth(0)).to_contain_text(re.compile(r"erstellt am \d\d\.\d\d\.\d{4}, heute"))
    kids = [k["kid"] for k in page_jwks(page)["keys"]]
    assert kids[:2] == [current, previous]
    section.locator("#jwks-json").scroll_into_view_if_needed()
    screenshot(page, "administration_signing_keys")

    section.get_by_role("button", name="JWK Set kopieren").click()
    expect(section.locator("#jwks-copy-status")).to_have_text("JWK Set in die Zwischenablage kopiert.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert json.loads(copied) == page_jwks(page)

    rows.nth(1).get_by_role("button", name="Zurückziehen").click()
    expect(page.get_by_role("heading", name="Signaturschlüssel zurückziehen?")).to_be_visible()
    page.get_by_role("button", name="Endgültig zurückziehen").click()
    expect(page.get_by_role("status")).to_contain_text("zurückgezogen")
    retired = section.get_by_role("row").filter(has_text=previous)
    expect(retired.locator(".badge")).to_have_text("zurückgezogen")
    assert previous not in [k["kid"] for k in page_jwks(page)["keys"]]
    assert shared_world.scalar("SELECT state FROM signing_keys WHERE kid = :k", k=previous) == "retired"
