"""Webhook endpoints through the management API, on both databases: the panel's service and rules
(known event types, http(s) URLs to permitted addresses), the secret shown once, scopes, the
delivery list and sending a delivery again, every change audited under the token's name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from licenseserver.domain.installation import run_in_transaction, secret_key
from licenseserver.domain.webhooks.dispatch import dispatch_events
from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS
from licenseserver.kit.secretbox import unseal
from tests.api.helpers import ISO_UTC, assert_error, parse_utc
from tests.management.conftest import Management, audit_rows
from tests.support.world import TestWorld

RECEIVER = "http://127.0.0.1:9/hooks"  # never reached: the deliverer idles in these tests
HOOK = {"url": RECEIVER, "description": "Web shop", "event_types": ["license.created", "activation.created"]}
ENDPOINT_FIELDS = {"id", "url", "description", "event_types", "enabled", "failing_since", "created_at", "updated_at"}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "state",
    "attempts",
    "last_status_code",
    "last_error",
    "last_attempt_at",
    "next_attempt_at",
    "created_at",
    "delivered_at",
}


@pytest.fixture(autouse=True)
def fresh_subscriptions() -> Iterator[None]:
    """The subscription cache is per process: no test may see another database's endpoints."""
    SUBSCRIPTIONS.invalidate()
    yield
    SUBSCRIPTIONS.invalidate()


def _sealed(world: TestWorld, endpoint_id: int) -> str:
    return str(world.scalar("SELECT secret FROM webhook_endpoints WHERE id = :i", i=endpoint_id))


def _opens_to(world: TestWorld, endpoint_id: int) -> str | None:
    return unseal(secret_key(world.settings()), _sealed(world, endpoint_id))


def test_create_get_list_update_delete(world: TestWorld, hooks: Management) -> None:
    created = hooks.ok("POST", "/webhooks", 201, json=HOOK)
    assert set(created) == ENDPOINT_FIELDS | {"secret"}
    assert (created["url"], created["description"], created["enabled"]) == (RECEIVER, "Web shop", True)
    assert created["event_types"] == ["license.created", "activation.created"]
    assert ISO_UTC.match(created["created_at"]) and created["updated_at"] is None
    endpoint_id = created["id"]
    shown = {name: value for name, value in created.items() if name != "secret"}
    assert hooks.ok("GET", f"/webhooks/{endpoint_id}") == shown
    assert hooks.ok("GET", "/webhooks") == {"items": [shown]}

    changes = {
        "url": "http://127.0.0.1:9/other",
        "description": "CRM",
        "event_types": ["lead.created", "license.updated"],
        "enabled": False,
    }
    changed = hooks.ok("PATCH", f"/webhooks/{endpoint_id}", json=changes)
    # Stored in the documented order of the types, whatever the order sent.
    assert {**changes, "event_types": ["license.updated", "lead.created"]}.items() <= changed.items()
    assert ISO_UTC.match(changed["updated_at"]) and "secret" not in changed
    row = world.rows("SELECT url, description, event_types, enabled FROM webhook_endpoints")[0]
    assert (row["url"], row["event_types"]) == (changes["url"], "license.updated lead.created")
    assert not row["enabled"]
    assert hooks.ok("PATCH", f"/webhooks/{endpoint_id}", json={"enabled": True})["enabled"] is True

    response = hooks.delete(f"/webhooks/{endpoint_id}")
    assert response.status_code == 204 and response.content == b""
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 0
    for method in ("GET", "DELETE"):
        assert_error(hooks.call(method, f"/webhooks/{endpoint_id}"), 404, "NOT_FOUND")
    assert_error(hooks.patch(f"/webhooks/{endpoint_id}", json={"enabled": True}), 404, "NOT_FOUND")
    assert_error(hooks.post(f"/webhooks/{endpoint_id}/rotate-secret"), 404, "NOT_FOUND")
    assert_error(hooks.get(f"/webhooks/{endpoint_id}/deliveries"), 404, "NOT_FOUND")

    entries = audit_rows(world, "webhook_endpoint")
    assert [(e["actor"], e["action"], e["entity_id"]) for e in entries] == [
        ("token:shop", "create", str(endpoint_id)),
        ("token:shop", "update", str(endpoint_id)),
        ("token:shop", "update", str(endpoint_id)),
        ("token:shop", "delete", str(endpoint_id)),
    ]
    assert json.loads(entries[1]["before"])["url"] == RECEIVER
    assert json.loads(entries[1]["after"])["url"] == changes["url"]
    assert all(created["secret"] not in f"{e['before']}{e['after']}" for e in entries)


def test_the_secret_is_shown_once_at_creation_and_once_per_rotation(world: TestWorld, hooks: Management) -> None:
    key = {"Idempotency-Key": "order-10045-hook"}
    created = hooks.ok("POST", "/webhooks", 201, json=HOOK, headers=key)
    secret = created["secret"]
    assert secret.startswith("whsec_") and _opens_to(world, created["id"]) == secret
    assert secret not in _sealed(world, created["id"])

    # The retry answers the same endpoint, without the secret: no answer stored holds it in clear.
    retried = hooks.post("/webhooks", json=HOOK, headers=key)
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == {**created, "secret": None}
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 1
    stored = world.rows("SELECT body FROM idempotent_answers")
    assert len(stored) == 1 and secret not in stored[0]["body"]
    assert "secret" not in hooks.ok("GET", f"/webhooks/{created['id']}")
    assert all("secret" not in item for item in hooks.ok("GET", "/webhooks")["items"])

    rotated = hooks.ok("POST", f"/webhooks/{created['id']}/rotate-secret")
    assert rotated["id"] == created["id"] and rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != secret and _opens_to(world, created["id"]) == rotated["secret"]
    assert "secret" not in hooks.ok("GET", f"/webhooks/{created['id']}")
    entries = audit_rows(world, "webhook_endpoint")
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("token:shop", "create"),
        ("token:shop", "webhook_secret_rotated"),
    ]
    assert all(rotated["secret"] not in f"{e['before']}{e['after']}" for e in entries)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1: loopback"),
        ("ftp://example.com/hook", "http"),
        ("http://10.20.30.40/hook", "private"),
    ],
)
def test_a_refused_url_is_refused_saying_why(world: TestWorld, shop: Management, url: str, words: str) -> None:
    # `shop` runs with the default settings: WEBHOOK_ALLOW_PRIVATE is off.
    body = assert_error(shop.post("/webhooks", json={**HOOK, "url": url}), 400, "VALIDATION_ERROR")
    assert body["error"].startswith("Webhook URL refused: ") and words in body["error"]
    assert body["details"][0]["field"] == "url"
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 0

    public = shop.ok("POST", "/webhooks", 201, json={**HOOK, "url": "https://93.184.215.14/hooks"})
    body = assert_error(shop.patch(f"/webhooks/{public['id']}", json={"url": url}), 400, "VALIDATION_ERROR")
    assert words in body["error"]
    assert world.scalar("SELECT url FROM webhook_endpoints") == "https://93.184.215.14/hooks"
    assert [e["action"] for e in audit_rows(world, "webhook_endpoint")] == ["create"]


def test_ftp_is_refused_even_where_private_addresses_are_allowed(hooks: Management) -> None:
    body = assert_error(hooks.post("/webhooks", json={**HOOK, "url": "ftp://127.0.0.1/hook"}), 400, "VALIDATION_ERROR")
    assert "http" in body["error"]


def test_unknown_event_types_and_fields_are_refused_naming_them(world: TestWorld, hooks: Management) -> None:
    bad_type = {**HOOK, "event_types": ["license.created", "license.exploded"]}
    body = assert_error(hooks.post("/webhooks", json=bad_type), 400, "VALIDATION_ERROR")
    assert "'license.exploded'" in body["error"] and body["details"][0]["field"] == "event_types"
    body = assert_error(hooks.post("/webhooks", json={**HOOK, "secret": "x", "retries": 3}), 400, "VALIDATION_ERROR")
    assert {d["field"] for d in body["details"]} == {"secret", "retries"}
    assert_error(hooks.post("/webhooks", json={**HOOK, "event_types": []}), 400, "VALIDATION_ERROR")
    assert_error(hooks.post("/webhooks", json={"url": RECEIVER}), 400, "VALIDATION_ERROR")
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 0

    endpoint_id = hooks.ok("POST", "/webhooks", 201, json=HOOK)["id"]
    response = hooks.patch(f"/webhooks/{endpoint_id}", json={"event_types": ["nope"]})
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "'nope'" in body["error"]
    body = assert_error(hooks.patch(f"/webhooks/{endpoint_id}", json={"secret": "mine"}), 400, "VALIDATION_ERROR")
    assert [d["field"] for d in body["details"]] == ["secret"]
    assert world.scalar("SELECT event_types FROM webhook_endpoints") == "license.created activation.created"


def test_a_read_token_reads_and_changes_nothing(world: TestWorld, hooks: Management, hooks_reader: Management) -> None:
    endpoint_id = hooks.ok("POST", "/webhooks", 201, json=HOOK)["id"]
    assert [item["id"] for item in hooks_reader.ok("GET", "/webhooks")["items"]] == [endpoint_id]
    assert hooks_reader.ok("GET", f"/webhooks/{endpoint_id}")["id"] == endpoint_id
    assert hooks_reader.ok("GET", f"/webhooks/{endpoint_id}/deliveries")["items"] == []
    sealed = _sealed(world, endpoint_id)
    for method, path, body in (
        ("POST", "/webhooks", HOOK),
        ("PATCH", f"/webhooks/{endpoint_id}", {"enabled": False}),
        ("DELETE", f"/webhooks/{endpoint_id}", None),
        ("POST", f"/webhooks/{endpoint_id}/rotate-secret", None),
        ("POST", f"/webhooks/{endpoint_id}/deliveries/1/redeliver", None),
    ):
        assert_error(hooks_reader.call(method, path, json=body), 403, "INSUFFICIENT_SCOPE")
    assert world.rows("SELECT id, enabled FROM webhook_endpoints") == [{"id": endpoint_id, "enabled": True}]
    assert _sealed(world, endpoint_id) == sealed
    for path in ("/webhooks", f"/webhooks/{endpoint_id}", f"/webhooks/{endpoint_id}/deliveries"):
        assert_error(hooks.client.get("/api/v1" + path), 401, "INVALID_TOKEN")


def _deliveries(world: TestWorld, hooks: Management, licenses: int) -> tuple[int, list[int]]:
    """An endpoint wanting license.created, `licenses` licenses created, and their events
    dispatched: the endpoint's id and its deliveries' ids, oldest first."""
    endpoint_id = hooks.ok("POST", "/webhooks", 201, json=HOOK)["id"]
    for _ in range(licenses):
        world.license()
    assert run_in_transaction(world.settings(), dispatch_events) == licenses
    ids = [row["id"] for row in world.rows("SELECT id FROM webhook_deliveries ORDER BY id")]
    return endpoint_id, ids


def test_deliveries_are_listed_newest_first_and_paged(world: TestWorld, hooks: Management) -> None:
    endpoint_id, ids = _deliveries(world, hooks, 3)
    world.execute(
        "UPDATE webhook_deliveries SET state = 'failed', attempts = 11, last_status_code = 503,"
        " last_error = 'HTTP 503', next_attempt_at = NULL WHERE id = :i",
        i=ids[0],
    )
    first = hooks.ok("GET", f"/webhooks/{endpoint_id}/deliveries", params={"per_page": 2})
    assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
    assert (first["page"], first["per_page"], first["has_next"]) == (1, 2, True)
    second = hooks.ok("GET", f"/webhooks/{endpoint_id}/deliveries", params={"per_page": 2, "page": 2})
    assert [item["id"] for item in second["items"]] == [ids[0]] and second["total"] == 3
    failed = second["items"][0]
    assert set(failed) == DELIVERY_FIELDS
    assert (failed["state"], failed["attempts"], failed["last_status_code"]) == ("failed", 11, 503)
    assert failed["next_attempt_at"] is None and failed["event_type"] == "license.created"
    events = [row["event_id"] for row in world.rows("SELECT event_id FROM webhook_events ORDER BY id")]
    assert failed["event_id"] == events[0]
    pending = first["items"][0]
    assert (pending["state"], pending["attempts"], pending["last_status_code"]) == ("pending", 0, None)
    assert ISO_UTC.match(pending["next_attempt_at"])


def test_redeliver_makes_a_delivery_pending_and_due(world: TestWorld, hooks: Management) -> None:
    endpoint_id, [delivery_id] = _deliveries(world, hooks, 1)
    world.execute(
        "UPDATE webhook_deliveries SET state = 'failed', attempts = 11, last_status_code = 500,"
        " next_attempt_at = NULL WHERE id = :i",
        i=delivery_id,
    )
    before = datetime.now(UTC)
    again = hooks.ok("POST", f"/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
    assert (again["id"], again["state"], again["attempts"]) == (delivery_id, "pending", 11)
    # Due now by the database's clock (the same machine's here, to the second).
    due = parse_utc(again["next_attempt_at"])
    assert before - timedelta(seconds=2) <= due <= datetime.now(UTC) + timedelta(seconds=1)
    row = world.rows("SELECT state, next_attempt_at, delivered_at FROM webhook_deliveries")[0]
    assert row["state"] == "pending" and row["next_attempt_at"] is not None and row["delivered_at"] is None
    [entry] = audit_rows(world, "webhook_delivery")
    assert (entry["actor"], entry["action"]) == ("token:shop", "webhook_redelivered")
    assert entry["entity_id"] == str(delivery_id)
    assert json.loads(entry["after"]) == {"endpoint_id": endpoint_id, "state": "pending"}


def test_redeliver_names_the_endpoint_and_the_delivery(world: TestWorld, hooks: Management) -> None:
    endpoint_id, [delivery_id] = _deliveries(world, hooks, 1)
    other = hooks.ok("POST", "/webhooks", 201, json=HOOK)["id"]
    assert_error(hooks.post(f"/webhooks/{other}/deliveries/{delivery_id}/redeliver"), 404, "NOT_FOUND")
    assert_error(hooks.post(f"/webhooks/{endpoint_id}/deliveries/{delivery_id + 1}/redeliver"), 404, "NOT_FOUND")
    assert_error(hooks.post(f"/webhooks/{other + 1}/deliveries/{delivery_id}/redeliver"), 404, "NOT_FOUND")
    assert audit_rows(world, "webhook_delivery") == []
