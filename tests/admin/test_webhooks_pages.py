"""Lizenzserver Administration → Webhooks: endpoints made, changed, deleted and given a new secret
through the panel (the secret shown once, never audited), a private URL refused with its reason
in German, and each endpoint's delivery history with "Erneut senden"; on both databases."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from licenseserver.db.sql import Connection
from licenseserver.domain.installation import run_in_transaction
from licenseserver.domain.webhooks.statements import ANYTHING_TO_DO
from licenseserver.kit.secretbox import unseal
from tests.admin.conftest import STAFF_USERNAME
from tests.admin.pool_support import audit
from tests.admin.test_i18n import ENGLISH_PATTERN, visible_text
from tests.support.world import TestWorld

LIST = "/administration/webhooks"
PANEL_SECRET = "test-secret-key-for-the-panel"  # the panel fixture's SECRET_KEY seals the endpoint secrets
PUBLIC_URL = "https://93.184.215.14/hooks/licenses"  # a public address literal: no DNS needed
SECRET = re.compile(r'id="new-secret-value">(whsec_[A-Za-z0-9+/=]+)</code>')
GOOD_FORM: dict[str, Any] = {
    "url": PUBLIC_URL,
    "description": "Webshop",
    "event_types": ["license.created", "activation.created"],
    "enabled": "on",
}


def create(panel: TestClient, **changes: Any) -> tuple[int, str]:
    """Make an endpoint through the form; (its id, the secret the answer shows)."""
    answer = panel.post(LIST, data={**GOOD_FORM, **changes})
    assert answer.status_code == 200, answer.text
    match = SECRET.search(answer.text)
    assert match, "the new secret is not on the page"
    assert "nur dieses eine Mal angezeigt" in answer.text
    endpoint_id = int(re.findall(r'href="/administration/webhooks/(\d+)"', answer.text)[-1])
    return endpoint_id, match.group(1)


def endpoint_row(world: TestWorld, endpoint_id: int) -> dict[str, Any]:
    return world.rows("SELECT * FROM webhook_endpoints WHERE id = :i", i=endpoint_id)[0]


def add_delivery(
    world: TestWorld, endpoint_id: int, event_type: str = "license.created", state: str = "failed", **values: Any
) -> tuple[int, str]:
    """An event and its delivery to the endpoint, written as the deliverer would; (delivery id, webhook-id)."""
    number = int(world.scalar("SELECT count(*) FROM webhook_events")) + 1
    event_id = f"msg_TEST{number:022d}"
    world.execute(
        "INSERT INTO webhook_events (event_id, event_type, payload, dispatched_at) VALUES (:i, :t, '{}', :d)",
        i=event_id,
        t=event_type,
        d=datetime.now(UTC),
    )
    event = int(world.scalar("SELECT id FROM webhook_events WHERE event_id = :i", i=event_id))
    world.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, state, attempts, next_attempt_at, last_status_code)"
        " VALUES (:e, :p, :s, :a, :n, :c)",
        e=event,
        p=endpoint_id,
        s=state,
        a=values.get("attempts", 0),
        n=values.get("next_attempt_at"),
        c=values.get("last_status_code"),
    )
    delivery = int(world.scalar("SELECT id FROM webhook_deliveries WHERE event_id = :e", e=event))
    return delivery, event_id


def add_attempt(world: TestWorld, delivery_id: int, status: int | None, duration_ms: int, error: str | None) -> None:
    world.execute(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, error)"
        " VALUES (:d, :t, :s, :m, :e)",
        d=delivery_id,
        t=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
        s=status,
        m=duration_ms,
        e=error,
    )


def as_utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through SQLAlchemy text(): the stored string
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def deliverer_sees_something_due(world: TestWorld) -> bool:
    async def work(conn: Connection) -> bool:
        row = await conn.fetchrow(ANYTHING_TO_DO)
        assert row is not None
        return bool(row["due"])

    return run_in_transaction(world.settings(), work)


# --- access rules ---------------------------------------------------------------------------


def test_logged_out_pages_and_actions_redirect_to_login(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    delivery, _ = add_delivery(world, eid)
    staff_panel.cookies.clear()
    before = world.snapshot()
    paths = (
        ("GET", LIST),
        ("GET", f"{LIST}/new"),
        ("POST", LIST),
        ("GET", f"{LIST}/{eid}"),
        ("GET", f"{LIST}/{eid}/edit"),
        ("POST", f"{LIST}/{eid}"),
        ("GET", f"{LIST}/{eid}/delete"),
        ("POST", f"{LIST}/{eid}/delete"),
        ("POST", f"{LIST}/{eid}/secret"),
        ("POST", f"{LIST}/{eid}/deliveries/{delivery}/redeliver"),
    )
    for method, path in paths:
        answer = staff_panel.request(method, path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert world.snapshot() == before


def test_actions_without_csrf_are_refused(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    delivery, _ = add_delivery(world, eid)
    staff_panel.headers.pop("X-CSRF-Token")
    before = world.snapshot()
    assert staff_panel.post(LIST, data=GOOD_FORM).status_code == 403
    for path in (f"{LIST}/{eid}", f"{LIST}/{eid}/delete", f"{LIST}/{eid}/secret"):
        assert staff_panel.post(path, data=GOOD_FORM).status_code == 403, path
    assert staff_panel.post(f"{LIST}/{eid}/deliveries/{delivery}/redeliver").status_code == 403
    assert world.snapshot() == before


# --- endpoints ------------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_the_list_the_endpoint(world: TestWorld, staff_panel: TestClient) -> None:
    form = staff_panel.get(f"{LIST}/new")
    assert form.status_code == 200 and 'value="lead.created"' in form.text
    eid, secret = create(staff_panel)
    row = endpoint_row(world, eid)
    assert row["url"] == PUBLIC_URL and row["description"] == "Webshop"
    assert row["event_types"] == "license.created activation.created" and row["enabled"]
    assert secret not in row["secret"] and unseal(PANEL_SECRET, row["secret"]) == secret  # stored sealed
    listed = staff_panel.get(LIST).text
    assert PUBLIC_URL in listed and "activation.created" in listed and "aktiv" in listed
    assert secret not in listed and secret not in staff_panel.get(f"{LIST}/{eid}").text
    [entry] = audit(world, "create")
    assert entry["actor"] == STAFF_USERNAME and entry["entity_type"] == "webhook_endpoint"
    assert entry["entity_id"] == str(eid) and entry["after"]["url"] == PUBLIC_URL
    assert secret not in str(world.rows("SELECT * FROM audit_log"))


def test_edit_changes_the_endpoint_and_is_audited(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    edit = staff_panel.get(f"{LIST}/{eid}/edit")
    assert edit.status_code == 200 and f'value="{PUBLIC_URL}"' in edit.text
    assert 'value="activation.created" checked' in edit.text and 'value="lead.created">' in edit.text
    new_url = "https://93.184.215.15/other"
    changed = {"url": new_url, "description": "CRM", "event_types": ["lead.created"]}  # "enabled" unticked
    done = staff_panel.post(f"{LIST}/{eid}", data=changed, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{LIST}/{eid}?saved=updated"
    row = endpoint_row(world, eid)
    assert (row["url"], row["description"], row["event_types"], bool(row["enabled"])) == (
        new_url,
        "CRM",
        "lead.created",
        False,
    )
    [entry] = audit(world, "update")
    assert entry["before"]["url"] == PUBLIC_URL and entry["after"]["url"] == new_url
    assert entry["after"]["enabled"] is False and entry["after"]["event_types"] == ["lead.created"]
    page = staff_panel.get(f"{LIST}/{eid}?saved=updated").text
    assert "wurde gespeichert" in page and "pausiert" in page
    # The same values again: nothing changes, nothing more is audited.
    again = staff_panel.post(f"{LIST}/{eid}", data=changed, follow_redirects=False)
    assert again.status_code == 303 and len(audit(world, "update")) == 1


def test_a_private_url_is_refused_with_the_reason_in_german(world: TestWorld, staff_panel: TestClient) -> None:
    before = world.snapshot()
    refused = {**GOOD_FORM, "url": "http://127.0.0.1:8080/hooks", "description": "Intern"}
    answer = staff_panel.post(LIST, data=refused)
    assert answer.status_code == 400
    text = html.unescape(answer.text)
    assert "Die Webhook-URL wird abgelehnt: 127.0.0.1 ist eine Loopback-Adresse (dieser Rechner)." in text
    assert "WEBHOOK_ALLOW_PRIVATE=true" in text and "URL refused" not in text
    # The form is shown again with what was posted.
    assert 'value="http://127.0.0.1:8080/hooks"' in answer.text and 'value="Intern"' in answer.text
    assert 'value="activation.created" checked' in answer.text and 'value="lead.created">' in answer.text
    for url, reason in (
        ("http://169.254.169.254/latest", "Metadaten-Adresse der Cloud"),
        ("http://10.1.2.3/hook", "10.1.2.3 ist eine private Adresse"),
        ("ftp://93.184.215.14/hook", "die URL muss mit http:// oder https:// beginnen"),
    ):
        refusal = staff_panel.post(LIST, data={**GOOD_FORM, "url": url})
        assert refusal.status_code == 400 and reason in html.unescape(refusal.text), url
    no_events = staff_panel.post(LIST, data={**GOOD_FORM, "event_types": []})
    assert no_events.status_code == 400 and "Bitte mindestens ein Ereignis wählen." in no_events.text
    unknown = staff_panel.post(LIST, data={**GOOD_FORM, "event_types": ["license.stolen"]})
    assert unknown.status_code == 400 and "Unbekanntes Ereignis: license.stolen" in unknown.text
    assert world.snapshot() == before
    # An edit to a private URL is refused the same way and changes nothing.
    eid, _secret = create(staff_panel)
    stored = world.snapshot()
    edit = staff_panel.post(f"{LIST}/{eid}", data={**GOOD_FORM, "url": "http://localhost/hook"})
    assert edit.status_code == 400 and "Die Webhook-URL wird abgelehnt" in html.unescape(edit.text)
    assert world.snapshot() == stored


def test_delete_after_confirmation(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    delivery, _ = add_delivery(world, eid)
    add_attempt(world, delivery, 500, 120, None)
    confirm = staff_panel.get(f"{LIST}/{eid}/delete")
    assert confirm.status_code == 200 and "Webhook-Endpunkt löschen?" in confirm.text and PUBLIC_URL in confirm.text
    assert world.scalar("SELECT count(*) FROM webhook_endpoints") == 1
    done = staff_panel.post(f"{LIST}/{eid}/delete", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{LIST}?saved=deleted"
    assert world.scalar("SELECT count(*) FROM webhook_endpoints") == 0
    assert world.scalar("SELECT count(*) FROM webhook_deliveries") == 0  # the history goes with it
    [entry] = audit(world, "delete")
    assert entry["entity_type"] == "webhook_endpoint" and entry["before"]["url"] == PUBLIC_URL
    gone = staff_panel.get(f"{LIST}/{eid}")
    assert gone.status_code == 404 and "Diesen Webhook-Endpunkt gibt es nicht." in gone.text
    assert staff_panel.post(f"{LIST}/{eid}/delete").status_code == 404


def test_rotate_shows_a_new_secret_once(world: TestWorld, staff_panel: TestClient) -> None:
    eid, old = create(staff_panel)
    page = staff_panel.get(f"{LIST}/{eid}").text
    assert f'action="{LIST}/{eid}/secret"' in page and "data-confirm=" in page
    answer = staff_panel.post(f"{LIST}/{eid}/secret")
    assert answer.status_code == 200 and "Neues Webhook-Secret" in answer.text
    match = SECRET.search(answer.text)
    assert match and match.group(1) != old
    assert unseal(PANEL_SECRET, endpoint_row(world, eid)["secret"]) == match.group(1)
    [entry] = audit(world, "webhook_secret_rotated")
    assert entry["entity_id"] == str(eid) and entry["after"] is None
    assert match.group(1) not in str(world.rows("SELECT * FROM audit_log"))
    assert staff_panel.post(f"{LIST}/999999/secret").status_code == 404


# --- delivery history -----------------------------------------------------------------------


def test_the_history_shows_deliveries_newest_first_with_their_attempts(
    world: TestWorld, staff_panel: TestClient
) -> None:
    eid, _secret = create(staff_panel)
    failed, failed_id = add_delivery(world, eid, "license.created", "failed", attempts=2, last_status_code=503)
    add_attempt(world, failed, 500, 1234, None)
    add_attempt(world, failed, 503, 2345, None)
    later = datetime.now(UTC) + timedelta(hours=2)
    pending, pending_id = add_delivery(
        world, eid, "activation.created", "pending", attempts=1, next_attempt_at=later, last_status_code=None
    )
    add_attempt(world, pending, None, 10000, "timed out after 10 s")
    world.execute("UPDATE webhook_endpoints SET failing_since = :t WHERE id = :i", t=datetime.now(UTC), i=eid)
    page = staff_panel.get(f"{LIST}/{eid}")
    assert page.status_code == 200
    text = page.text
    assert text.index(pending_id) < text.index(failed_id)  # newest first
    assert "aufgegeben" in text and "ausstehend" in text
    assert "2.345 ms" in text and "1.234 ms" in text and "10.000 ms" in text  # German thousands
    assert "timed out after 10 s" in text and "27.11.2026" in text
    rows = re.findall(r'<tr class="attempt">\s*<td>[^<]*</td>\s*<td>([^<]*)</td>', text)
    assert rows == ["–", "500", "503"]
    assert "fehlerhaft seit" in text
    assert "fehlerhaft seit" in staff_panel.get(LIST).text  # the list marks it too


def test_the_history_pages_by_25(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    ids = [add_delivery(world, eid, state="delivered")[1] for _ in range(27)]
    first = staff_panel.get(f"{LIST}/{eid}").text
    assert first.count('class="delivery"') == 25 and ids[-1] in first and ids[0] not in first
    assert f'href="{LIST}/{eid}?page=2"' in first
    second = staff_panel.get(f"{LIST}/{eid}?page=2").text
    assert second.count('class="delivery"') == 2 and ids[0] in second and ids[1] in second
    assert staff_panel.get(f"{LIST}/{eid}?page=0").status_code == 400


def test_redelivery_makes_the_delivery_pending_and_due(world: TestWorld, staff_panel: TestClient) -> None:
    eid, _secret = create(staff_panel)
    delivery, _ = add_delivery(world, eid, state="failed", attempts=11, last_status_code=500)
    assert not deliverer_sees_something_due(world)  # given up: nothing to send
    path = f"{LIST}/{eid}/deliveries/{delivery}/redeliver"
    done = staff_panel.post(path, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{LIST}/{eid}?saved=redelivered"
    row = world.rows("SELECT state, attempts, next_attempt_at FROM webhook_deliveries WHERE id = :d", d=delivery)[0]
    assert row["state"] == "pending" and row["attempts"] == 11  # one more try, not a new schedule
    next_attempt = as_utc(row["next_attempt_at"])
    assert datetime.now(UTC) - timedelta(minutes=1) < next_attempt <= datetime.now(UTC) + timedelta(seconds=1)
    assert deliverer_sees_something_due(world)  # the deliverer's own question
    [entry] = audit(world, "webhook_redelivered")
    assert entry["entity_type"] == "webhook_delivery" and entry["entity_id"] == str(delivery)
    assert "gleich erneut gesendet" in staff_panel.get(f"{LIST}/{eid}?saved=redelivered").text
    # A delivery of another endpoint, or none at all, is not found here.
    other, _secret = create(staff_panel, url="https://93.184.215.16/x")
    stranger, _ = add_delivery(world, other, state="failed")
    before = world.snapshot()
    assert staff_panel.post(f"{LIST}/{eid}/deliveries/{stranger}/redeliver").status_code == 404
    missing = staff_panel.post(f"{LIST}/{eid}/deliveries/999999/redeliver")
    assert missing.status_code == 404 and "Diese Zustellung gibt es nicht." in missing.text
    assert world.snapshot() == before


# --- languages ------------------------------------------------------------------------------


def test_every_page_reads_german_and_an_english_account_reads_english(
    world: TestWorld, staff_panel: TestClient
) -> None:
    eid, _secret = create(staff_panel)
    delivery, _ = add_delivery(world, eid, state="failed", attempts=1, last_status_code=500)
    add_attempt(world, delivery, 500, 80, None)
    world.execute("UPDATE webhook_endpoints SET failing_since = :t WHERE id = :i", t=datetime.now(UTC), i=eid)
    pages = [staff_panel.get(path) for path in (LIST, f"{LIST}/new", f"{LIST}/{eid}", f"{LIST}/{eid}/edit")]
    pages += [
        staff_panel.get(f"{LIST}/{eid}/delete"),
        staff_panel.post(LIST, data={**GOOD_FORM, "url": "http://[::1]/"}),
    ]
    pages += [staff_panel.post(f"{LIST}/{eid}/secret"), staff_panel.get(f"{LIST}/424242")]
    for page in pages:
        assert not ENGLISH_PATTERN.findall(visible_text(page.text)), (page.url, visible_text(page.text)[-400:])
    csrf = staff_panel.headers["x-csrf-token"]
    assert staff_panel.post("/account/language", data={"csrf_token": csrf, "language": "en"}).status_code == 200
    english = visible_text(staff_panel.get(f"{LIST}/{eid}").text)
    assert "Send again" in english and "failing since" in english and "Erneut senden" not in english
    refused = staff_panel.post(LIST, data={**GOOD_FORM, "url": "http://127.0.0.1/"})
    assert "The webhook URL is refused: 127.0.0.1 is a loopback address (this machine)." in html.unescape(refused.text)
