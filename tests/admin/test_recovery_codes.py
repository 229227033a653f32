"""TOTP recovery codes: shown once when the second factor is switched on, stored only as keyed
hashes, each logs in once in place of a TOTP code, regenerating replaces them all, and a guess
at a code is a failed log-in like a wrong TOTP code (same answer, same throttle)."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from licenseserver.domain.staff.recovery_codes import CODE_COUNT
from tests.admin.conftest import STAFF_PASSWORD, csrf_of
from tests.admin.test_account import attempt_login, audit, enrol_with_recovery_codes, log_out, post
from tests.support.world import TestWorld

FAILED = "Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch."
LIMIT = 5  # the seeded log-in limit per minute
LEFT = re.compile(r"Noch <strong>(\d+)</strong> von 10 Codes unbenutzt")


def codes_left(account_page: str) -> int:
    found = LEFT.search(account_page)
    assert found
    return int(found.group(1))


def stored_hashes(world: TestWorld) -> list[str]:
    return [str(r["code_hash"]) for r in world.rows("SELECT code_hash FROM admin_recovery_codes ORDER BY id")]


def test_switching_totp_on_shows_ten_codes_once_and_stores_only_their_hashes(
    world: TestWorld, staff_panel: TestClient
) -> None:
    _secret, _code, codes = enrol_with_recovery_codes(staff_panel)
    assert len(codes) == CODE_COUNT == len(set(codes))
    hashes = stored_hashes(world)
    assert len(hashes) == CODE_COUNT
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    everything_stored = json.dumps(world.snapshot(), default=str)
    for code in codes:
        assert code not in everything_stored and code.replace("-", "") not in everything_stored
    page = staff_panel.get("/account").text
    assert codes_left(page) == CODE_COUNT
    assert not any(code in page for code in codes)  # never shown again


def test_a_recovery_code_logs_in_once_and_never_again(world: TestWorld, staff_panel: TestClient) -> None:
    _secret, _code, codes = enrol_with_recovery_codes(staff_panel)
    log_out(staff_panel)
    typed = codes[3].upper().replace("-", " ")  # as read out from paper: case and spaces do not matter
    response = attempt_login(staff_panel, totp=typed)
    assert response.status_code == 303, response.text[:300]
    [used] = audit(world, "recovery_code_used")
    assert json.loads(used["after"]) == {"recovery_codes_left": CODE_COUNT - 1}
    account_page = staff_panel.get("/account").text
    assert codes_left(account_page) == CODE_COUNT - 1
    staff_panel.headers["X-CSRF-Token"] = csrf_of(account_page)
    log_out(staff_panel)
    again = attempt_login(staff_panel, totp=codes[3])
    assert again.status_code == 401 and FAILED in again.text
    assert len(stored_hashes(world)) == CODE_COUNT - 1
    assert attempt_login(staff_panel, totp=codes[4]).status_code == 303  # the others still work


def test_a_wrong_recovery_code_gets_the_answer_of_a_wrong_totp_code(world: TestWorld, staff_panel: TestClient) -> None:
    _secret, _code, codes = enrol_with_recovery_codes(staff_panel)
    log_out(staff_panel)
    wrong_totp = attempt_login(staff_panel, totp="000000")
    wrong_recovery = attempt_login(staff_panel, totp="abcd-efgh-jkmn")
    assert (wrong_totp.status_code, wrong_recovery.status_code) == (401, 401)
    assert FAILED in wrong_totp.text and FAILED in wrong_recovery.text
    # A right code with a wrong password spends nothing.
    assert attempt_login(staff_panel, password="wrong-password-0", totp=codes[0]).status_code == 401
    assert len(stored_hashes(world)) == CODE_COUNT
    assert len(audit(world, "login_failed")) == 3


@pytest.mark.usefixtures("inside_one_minute")
def test_recovery_code_guesses_count_against_the_login_throttle(world: TestWorld, staff_panel: TestClient) -> None:
    _secret, _code, codes = enrol_with_recovery_codes(staff_panel)
    log_out(staff_panel)
    guesses = [attempt_login(staff_panel, totp=f"zzzz-zzzz-zz{n}{n}").status_code for n in range(2, 2 + LIMIT)]
    assert guesses == [401] * LIMIT
    throttled = attempt_login(staff_panel, totp=codes[0])  # even a right code waits now
    assert throttled.status_code == 429
    assert len(stored_hashes(world)) == CODE_COUNT


def test_regenerating_needs_the_password_and_invalidates_the_old_codes(
    world: TestWorld, staff_panel: TestClient
) -> None:
    _secret, _code, old_codes = enrol_with_recovery_codes(staff_panel)
    before = stored_hashes(world)
    refused = post(staff_panel, "/account/recovery-codes", {"password": "wrong-password-0"})
    assert refused.status_code == 400 and "Das aktuelle Passwort ist falsch." in refused.text
    assert stored_hashes(world) == before
    response = post(staff_panel, "/account/recovery-codes", {"password": STAFF_PASSWORD})
    assert response.status_code == 200
    assert "Neue Wiederherstellungscodes erzeugt. Die bisherigen gelten nicht mehr." in response.text
    new_codes = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", response.text)
    assert len(new_codes) == CODE_COUNT and not set(new_codes) & set(old_codes)
    assert not set(stored_hashes(world)) & set(before)
    [entry] = audit(world, "recovery_codes_generated")
    assert json.loads(entry["after"]) == {"recovery_codes": CODE_COUNT}
    log_out(staff_panel)
    assert attempt_login(staff_panel, totp=old_codes[0]).status_code == 401
    assert attempt_login(staff_panel, totp=new_codes[0]).status_code == 303


def test_switching_totp_off_removes_the_codes(world: TestWorld, staff_panel: TestClient) -> None:
    enrol_with_recovery_codes(staff_panel)
    assert post(staff_panel, "/account/totp/disable", {"password": STAFF_PASSWORD}).status_code == 303
    assert stored_hashes(world) == []
    # Without a second factor there is nothing to regenerate.
    assert post(staff_panel, "/account/recovery-codes", {"password": STAFF_PASSWORD}).status_code == 409
    assert "Wiederherstellungscodes" not in staff_panel.get("/account").text
