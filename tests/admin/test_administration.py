"""Lizenzserver Administration: system API key, client configs and releases, rate limits."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.domain.clients import admin as clients_admin
from tests.conftest import make_client
from tests.support.world import TestWorld

INVALID_KEY_BODY = {"error": "Invalid or missing API key", "code": "INVALID_API_KEY", "status": 401}
GOOD_CLIENT = {
    "client_name": "Other Tool",
    "heartbeat_interval": "60",
    "session_timeout": "180",
    "minimum_version": "2.0",
}
GOOD_RELEASE = {
    "version": "1.2.0",
    "release_date": "2025-07-01",
    "download_url": "https://downloads.example.test/1.2.0",
    "release_notes": "Neue Funktionen",
}
PAGES = ("/administration", "/administration/clients/new", "/administration/clients/1")
ACTIONS = (
    ("/administration/api-key", {}),
    ("/administration/rate-limits", {"api_per_minute": "50", "login_per_minute": "5"}),
    ("/administration/clients", GOOD_CLIENT),
    ("/administration/clients/1", GOOD_CLIENT),
    ("/administration/clients/1/releases", GOOD_RELEASE),
    ("/administration/clients/1/releases/1/delete", {}),
)


def audit_entries(world: TestWorld, action: str) -> list[dict[str, Any]]:
    rows = world.rows(
        "SELECT actor, action, entity_type, entity_id, before, after FROM audit_log WHERE action = :a ORDER BY id",
        a=action,
    )
    for row in rows:
        row["before"] = None if row["before"] is None else json.loads(row["before"])
        row["after"] = None if row["after"] is None else json.loads(row["after"])
    return rows


def post(panel: TestClient, path: str, data: dict[str, str]) -> Any:
    return panel.post(path, data=data, follow_redirects=False)


# --- access rules ---------------------------------------------------------------------------


def test_logged_out_pages_and_actions_redirect_to_login(world: TestWorld, panel: TestClient) -> None:
    before = world.snapshot()
    for path in PAGES:
        response = panel.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    for path, data in ACTIONS:
        response = post(panel, path, data)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")
    assert world.snapshot() == before


def test_actions_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    del staff_panel.headers["X-CSRF-Token"]
    before = world.snapshot()
    for path, data in ACTIONS:
        response = post(staff_panel, path, data)
        assert response.status_code == 403, path
        assert "CSRF" in response.text
    assert world.snapshot() == before


def test_unknown_ids_are_404(world: TestWorld, staff_panel: TestClient) -> None:
    assert staff_panel.get("/administration/clients/999").status_code == 404
    before = world.snapshot()
    assert post(staff_panel, "/administration/clients/999", GOOD_CLIENT).status_code == 404
    assert post(staff_panel, "/administration/clients/999/releases", GOOD_RELEASE).status_code == 404
    assert post(staff_panel, "/administration/clients/1/releases/999/delete", {}).status_code == 404
    assert post(staff_panel, "/administration/clients/999/releases/1/delete", {}).status_code == 404
    assert world.snapshot() == before


def test_malformed_ids_are_400(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for path in ("/administration/clients/abc", "/administration/clients/0", "/administration/clients/99999999999"):
        assert staff_panel.get(path).status_code == 400, path
        assert post(staff_panel, path, GOOD_CLIENT).status_code == 400, path
    assert post(staff_panel, "/administration/clients/1/releases/99999999999/delete", {}).status_code == 400
    assert world.snapshot() == before


# --- system API key ---------------------------------------------------------------------------


def test_overview_shows_key_masked_with_a_show_toggle(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/administration")
    assert page.status_code == 200
    assert "Lizenzserver Administration" in page.text
    assert "System-API-Key generieren" in page.text
    assert "AF-2026-" + "•" * 24 + world.api_key[-4:] in page.text
    details = page.text.split("<details", 1)[1].split("</details>", 1)[0]
    assert world.api_key in details  # the full key only inside the collapsed <details>
    assert "data-confirm=" in page.text.split('action="/administration/api-key"', 1)[1].split(">", 1)[0]
    assert "Account Forger" in page.text and 'value="100000"' in page.text
    assert "style=" not in page.text and "<script>" not in page.text


def test_regenerated_key_is_audited_and_reaches_the_api_within_a_second(
    world: TestWorld, staff_panel: TestClient
) -> None:
    old_key = world.api_key
    with make_client(world) as api:
        assert api.get("/api/version/latest").status_code == 200  # the API has the old key cached
        response = post(staff_panel, "/administration/api-key", {})
        assert response.status_code == 303
        assert response.headers["location"] == "/administration?saved=api_key"
        new_key = world.scalar("SELECT api_key FROM system_api_key WHERE id = 1")
        assert new_key != old_key and new_key.startswith("AF-")
        deadline = time.monotonic() + 1.5
        while True:
            old = api.get("/api/version/latest")
            new = api.get("/api/version/latest", headers={"X-API-Key": new_key})
            if old.status_code == 401 and new.status_code == 200:
                break
            assert time.monotonic() < deadline, "the API still accepts the old key after 1.5 s"
            time.sleep(0.05)
        assert old.json() == INVALID_KEY_BODY
    entries = audit_entries(world, "api_key_regenerated")
    assert entries == [
        {
            "actor": "rac00n",
            "action": "api_key_regenerated",
            "entity_type": "system_api_key",
            "entity_id": "1",
            "before": None,
            "after": None,
        }
    ]
    everything = str(world.rows("SELECT * FROM audit_log"))
    assert old_key not in everything and new_key not in everything
    page = staff_panel.get("/administration?saved=api_key")
    assert "neuer System-API-Key" in page.text and new_key in page.text


# --- rate limits ----------------------------------------------------------------------------


def test_lowered_api_limit_reaches_the_api_within_seconds(world: TestWorld, staff_panel: TestClient) -> None:
    with make_client(world) as api:
        assert api.get("/api/version/latest").status_code == 200  # limits cached: 100,000/min
        response = post(staff_panel, "/administration/rate-limits", {"api_per_minute": "3", "login_per_minute": "7"})
        assert response.status_code == 303
        assert world.rows("SELECT api_per_minute, login_per_minute FROM rate_limit_settings") == [
            {"api_per_minute": 3, "login_per_minute": 7}
        ]
        deadline = time.monotonic() + 4.0
        while (answer := api.get("/api/version/latest")).status_code != 429:
            assert answer.status_code == 200
            assert time.monotonic() < deadline, "the lowered limit did not reach the API"
            time.sleep(0.1)
        assert answer.json()["code"] == "RATE_LIMITED"
        assert int(answer.headers["retry-after"]) >= 1
    assert audit_entries(world, "rate_limits_updated") == [
        {
            "actor": "rac00n",
            "action": "rate_limits_updated",
            "entity_type": "rate_limit_settings",
            "entity_id": "1",
            "before": {"api_per_minute": 100_000, "login_per_minute": 5},
            "after": {"api_per_minute": 3, "login_per_minute": 7},
        }
    ]


def test_unchanged_rate_limits_write_no_audit_entry(world: TestWorld, staff_panel: TestClient) -> None:
    response = post(staff_panel, "/administration/rate-limits", {"api_per_minute": "100000", "login_per_minute": "5"})
    assert response.status_code == 303
    assert audit_entries(world, "rate_limits_updated") == []


BAD_RATE_LIMITS = [
    {"api_per_minute": "0", "login_per_minute": "5"},
    {"api_per_minute": "100001", "login_per_minute": "5"},
    {"api_per_minute": "abc", "login_per_minute": "5"},
    {"api_per_minute": "", "login_per_minute": "5"},
    {"api_per_minute": "10", "login_per_minute": "0"},
    {"api_per_minute": "10", "login_per_minute": "1001"},
    {"api_per_minute": "10"},
    {"api_per_minute": "1.5", "login_per_minute": "5"},
    {"api_per_minute": "1\x00", "login_per_minute": "5"},
]


def test_bad_rate_limits_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for values in BAD_RATE_LIMITS:
        response = post(staff_panel, "/administration/rate-limits", values)
        assert response.status_code == 400, values
        assert "Ungültige Eingabe" in response.text
        assert 'name="api_per_minute"' in response.text  # the overview again, with the reason
    assert world.snapshot() == before


# --- client configs ---------------------------------------------------------------------------


def test_new_client_form_starts_with_the_columns_defaults(world: TestWorld, staff_panel: TestClient) -> None:
    world.execute("INSERT INTO client_configs (client_name) VALUES ('Defaults')")
    stored = world.rows(
        "SELECT heartbeat_interval, session_timeout, minimum_version FROM client_configs WHERE client_name = 'Defaults'"
    )[0]
    assert stored == {"heartbeat_interval": 30, "session_timeout": 90, "minimum_version": "1.0.0"}
    page = staff_panel.get("/administration/clients/new")
    assert page.status_code == 200
    for name, value in stored.items():
        field = page.text.split(f'name="{name}"', 1)[1].split(">", 1)[0]
        assert f'value="{value}"' in field, (name, field)


def test_create_client(world: TestWorld, staff_panel: TestClient) -> None:
    assert staff_panel.get("/administration/clients/new").status_code == 200
    response = post(staff_panel, "/administration/clients", {**GOOD_CLIENT, "client_name": "  Other Tool "})
    assert response.status_code == 303
    client_id = world.scalar("SELECT id FROM client_configs WHERE client_name = 'Other Tool'")
    assert response.headers["location"] == f"/administration/clients/{client_id}?saved=client"
    row = world.rows(
        "SELECT heartbeat_interval, session_timeout, minimum_version FROM client_configs WHERE id = :i", i=client_id
    )
    assert row == [{"heartbeat_interval": 60, "session_timeout": 180, "minimum_version": "2.0"}]
    assert audit_entries(world, "client_created") == [
        {
            "actor": "rac00n",
            "action": "client_created",
            "entity_type": "client_config",
            "entity_id": str(client_id),
            "before": None,
            "after": {
                "client_name": "Other Tool",
                "heartbeat_interval": 60,
                "session_timeout": 180,
                "minimum_version": "2.0",
            },
        }
    ]
    assert "Other Tool" in staff_panel.get("/administration").text


BAD_CLIENTS = [
    {"heartbeat_interval": "4"},
    {"heartbeat_interval": "3601", "session_timeout": "4000"},
    {"heartbeat_interval": "60", "session_timeout": "60"},
    {"heartbeat_interval": "60", "session_timeout": "59"},
    {"session_timeout": "86401"},
    {"heartbeat_interval": "x"},
    {"minimum_version": "not a version"},
    {"minimum_version": ""},
    {"client_name": ""},
    {"client_name": "x" * 101},
    {"client_name": "bad\x00name"},
]


def test_bad_new_client_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for change in BAD_CLIENTS:
        response = post(staff_panel, "/administration/clients", {**GOOD_CLIENT, **change})
        assert response.status_code == 400, change
        assert "Ungültige Eingabe" in response.text
    assert world.snapshot() == before


def test_duplicate_client_name_is_a_conflict(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    response = post(staff_panel, "/administration/clients", {**GOOD_CLIENT, "client_name": "Account Forger"})
    assert response.status_code == 409
    assert "existiert bereits" in response.text
    assert 'value="60"' in response.text  # the form is shown again with what was typed
    assert world.snapshot() == before


def test_name_conflict_found_only_by_the_constraint_is_still_a_409(
    world: TestWorld, staff_panel: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_check(*_args: Any) -> None:
        return None

    monkeypatch.setattr(clients_admin, "_refuse_taken_name", no_check)  # as if a parallel request won
    post(staff_panel, "/administration/clients", GOOD_CLIENT)
    before = world.snapshot()
    assert post(staff_panel, "/administration/clients", GOOD_CLIENT).status_code == 409
    response = post(staff_panel, "/administration/clients/1", {**GOOD_CLIENT, "heartbeat_interval": "10"})
    assert response.status_code == 409
    assert 'value="Other Tool"' in response.text  # the refused values are shown again
    assert world.snapshot() == before


def test_edit_client(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/administration/clients/1")
    assert page.status_code == 200 and 'value="Account Forger"' in page.text
    changed = {
        "client_name": "Account Forger",
        "heartbeat_interval": "45",
        "session_timeout": "120",
        "minimum_version": "1.0.0",
    }
    response = post(staff_panel, "/administration/clients/1", changed)
    assert response.status_code == 303
    assert response.headers["location"] == "/administration/clients/1?saved=client"
    assert world.rows("SELECT heartbeat_interval, session_timeout FROM client_configs WHERE id = 1") == [
        {"heartbeat_interval": 45, "session_timeout": 120}
    ]
    [entry] = audit_entries(world, "client_updated")
    assert entry["entity_id"] == "1"
    assert entry["before"]["heartbeat_interval"] == 30 and entry["after"]["heartbeat_interval"] == 45
    assert entry["before"]["session_timeout"] == 90 and entry["after"]["session_timeout"] == 120
    # Saving the same values again is no change and writes no entry.
    assert post(staff_panel, "/administration/clients/1", changed).status_code == 303
    assert len(audit_entries(world, "client_updated")) == 1


def test_bad_client_edit_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for change in BAD_CLIENTS:
        response = post(staff_panel, "/administration/clients/1", {**GOOD_CLIENT, **change})
        assert response.status_code == 400, change
        assert "Ungültige Eingabe" in response.text
        assert 'value="Other Tool"' in response.text or "client_name" in change  # shown again as typed
    assert world.snapshot() == before


def test_renaming_to_a_taken_name_is_a_conflict(world: TestWorld, staff_panel: TestClient) -> None:
    post(staff_panel, "/administration/clients", GOOD_CLIENT)
    before = world.snapshot()
    response = post(staff_panel, "/administration/clients/1", {**GOOD_CLIENT, "client_name": "Other Tool"})
    assert response.status_code == 409
    assert world.snapshot() == before


# --- releases ---------------------------------------------------------------------------------


def release_versions(page: str) -> list[str]:
    body = page.split('id="releases-heading"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [cell.split("<", 1)[0].strip() for cell in body.split('<td class="mono">')[1:]]


def test_releases_are_listed_newest_version_first(world: TestWorld, staff_panel: TestClient) -> None:
    for version in ("1.9.0", "1.10.0", "1.2"):
        assert (
            post(staff_panel, "/administration/clients/1/releases", {**GOOD_RELEASE, "version": version}).status_code
            == 303
        )
    page = staff_panel.get("/administration/clients/1")
    assert release_versions(page.text) == ["1.10.0", "1.9.0", "1.2", "1.0.0"]
    assert "01.07.2025" in page.text  # German dates
    assert "1.10.0" in staff_panel.get("/administration").text  # the current version in the overview


def test_add_release_is_audited_and_served_by_the_api(world: TestWorld, staff_panel: TestClient) -> None:
    response = post(staff_panel, "/administration/clients/1/releases", GOOD_RELEASE)
    assert response.status_code == 303
    assert response.headers["location"] == "/administration/clients/1?saved=release_added"
    release_id = world.scalar("SELECT id FROM client_releases WHERE version = '1.2.0'")
    assert audit_entries(world, "release_added") == [
        {
            "actor": "rac00n",
            "action": "release_added",
            "entity_type": "client_release",
            "entity_id": str(release_id),
            "before": None,
            "after": {
                "client_id": 1,
                "version": "1.2.0",
                "release_date": "2025-07-01",
                "download_url": "https://downloads.example.test/1.2.0",
                "release_notes": "Neue Funktionen",
            },
        }
    ]
    with make_client(world) as api:
        latest = api.get("/api/version/latest").json()
    assert latest["version"] == "1.2.0" and latest["download_url"] == GOOD_RELEASE["download_url"]


def test_release_without_url_and_notes(world: TestWorld, staff_panel: TestClient) -> None:
    data = {"version": "2.0.0", "release_date": "2025-08-01", "download_url": "", "release_notes": ""}
    assert post(staff_panel, "/administration/clients/1/releases", data).status_code == 303
    assert world.rows("SELECT download_url, release_notes FROM client_releases WHERE version = '2.0.0'") == [
        {"download_url": None, "release_notes": None}
    ]


BAD_RELEASES = [
    ({"version": "not-a-version"}, 400),
    ({"version": ""}, 400),
    ({"version": "1." + "1" * 60}, 400),
    ({"release_date": "2025-13-01"}, 400),
    ({"release_date": ""}, 400),
    ({"download_url": "ftp://downloads.example.test/x"}, 400),
    ({"download_url": "javascript:alert(1)"}, 400),
    ({"download_url": "https://example.test/" + "a" * 2030}, 400),
    ({"release_notes": "x" * 10_001}, 400),
    ({"release_notes": "nul\x00byte"}, 400),
    ({"version": "1.0.0"}, 409),
    ({"version": "1.0"}, 409),  # the same version as 1.0.0, compared as versions
]


def test_bad_release_is_refused(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    for change, status in BAD_RELEASES:
        response = post(staff_panel, "/administration/clients/1/releases", {**GOOD_RELEASE, **change})
        assert response.status_code == status, change
        assert 'class="notice error"' in response.text
    assert world.snapshot() == before


def test_delete_release(world: TestWorld, staff_panel: TestClient) -> None:
    page = staff_panel.get("/administration/clients/1")
    assert 'action="/administration/clients/1/releases/1/delete"' in page.text
    response = post(staff_panel, "/administration/clients/1/releases/1/delete", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/administration/clients/1?saved=release_deleted"
    assert world.scalar("SELECT COUNT(*) FROM client_releases") == 0
    [entry] = audit_entries(world, "release_deleted")
    assert entry["entity_id"] == "1" and entry["after"] is None
    assert entry["before"]["version"] == "1.0.0"
    assert post(staff_panel, "/administration/clients/1/releases/1/delete", {}).status_code == 404


def test_release_of_another_client_cannot_be_deleted_through_this_one(
    world: TestWorld, staff_panel: TestClient
) -> None:
    post(staff_panel, "/administration/clients", GOOD_CLIENT)
    other = world.scalar("SELECT id FROM client_configs WHERE client_name = 'Other Tool'")
    before = world.snapshot()
    assert post(staff_panel, f"/administration/clients/{other}/releases/1/delete", {}).status_code == 404
    assert world.snapshot() == before
