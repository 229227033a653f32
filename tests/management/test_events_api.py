"""GET /api/v1/events on both databases: the recorded events, oldest first, paged by an opaque
cursor that walks every event exactly once (with and without a type filter) and stays put at the
end so a caller picks up what is recorded later; events are recorded only while subscribed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS
from tests.api.helpers import ISO_UTC, assert_error
from tests.management.conftest import Management
from tests.support.world import TestWorld

HOOK = {"url": "http://127.0.0.1:9/hooks", "event_types": ["license.created", "lead.created"]}


@pytest.fixture(autouse=True)
def fresh_subscriptions() -> Iterator[None]:
    """The subscription cache is per process: no test may see another database's endpoints."""
    SUBSCRIPTIONS.invalidate()
    yield
    SUBSCRIPTIONS.invalidate()


def _recorded(world: TestWorld, event_type: str | None = None) -> list[dict[str, Any]]:
    rows = world.rows("SELECT event_id, event_type, payload FROM webhook_events ORDER BY id")
    return [
        {"event_id": row["event_id"], "type": row["event_type"], "data": json.loads(row["payload"])["data"]}
        for row in rows
        if event_type in (None, row["event_type"])
    ]


def _walk(api: Management, limit: int, **params: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every page from the start; the items in the order received and the last next_cursor."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        page = api.ok("GET", "/events", params={"limit": limit, **params, **({"after": cursor} if cursor else {})})
        assert set(page) == {"items", "next_cursor", "has_more"} and len(page["items"]) <= limit
        seen += page["items"]
        cursor = page["next_cursor"] or cursor
        if not page["has_more"]:
            return seen, cursor
    raise AssertionError("the feed did not end")


def _record_events(world: TestWorld, hooks: Management) -> None:
    """Licenses and lead institutions created in turn while an endpoint wants both types."""
    hooks.ok("POST", "/webhooks", 201, json=HOOK)
    for n in range(4):
        world.license()
        hooks.ok("POST", "/leads/institutions", 201, json={"name": f"Hochschule {n}", "type": "university"})
    world.license()


def test_the_cursor_walks_every_event_once_in_order(
    world: TestWorld, hooks: Management, hooks_reader: Management
) -> None:
    _record_events(world, hooks)
    recorded = _recorded(world)
    assert [event["type"] for event in recorded] == ["license.created", "lead.created"] * 4 + ["license.created"]

    for limit in (1, 2, 4, 100):
        seen, _cursor = _walk(hooks_reader, limit)
        assert [{k: e[k] for k in ("event_id", "type", "data")} for e in seen] == recorded, limit
        assert all(set(e) == {"event_id", "type", "created_at", "data"} for e in seen)
        assert all(ISO_UTC.match(e["created_at"]) for e in seen)

    licenses, _cursor = _walk(hooks_reader, 2, type="license.created")
    assert [e["event_id"] for e in licenses] == [e["event_id"] for e in _recorded(world, "license.created")]
    assert len(licenses) == 5
    leads, _cursor = _walk(hooks_reader, 3, type="lead.created")
    assert [e["data"]["name"] for e in leads] == [f"Hochschule {n}" for n in range(4)]


def test_at_the_end_the_cursor_stays_and_finds_what_comes_later(world: TestWorld, hooks: Management) -> None:
    _record_events(world, hooks)
    seen, cursor = _walk(hooks, 4)
    assert len(seen) == 9 and cursor is not None
    at_end = hooks.ok("GET", "/events", params={"after": cursor})
    assert at_end == {"items": [], "next_cursor": cursor, "has_more": False}

    key = world.license()
    later = hooks.ok("GET", "/events", params={"after": cursor})
    assert [(e["type"], e["data"]["license_key"]) for e in later["items"]] == [("license.created", key)]
    assert later["has_more"] is False and later["next_cursor"] != cursor
    # A filter that matches nothing after the cursor keeps the caller where it was.
    quiet = hooks.ok("GET", "/events", params={"after": later["next_cursor"], "type": "lead.created"})
    assert quiet == {"items": [], "next_cursor": later["next_cursor"], "has_more": False}


def test_only_events_someone_subscribed_to_are_recorded(world: TestWorld, hooks: Management) -> None:
    world.license()  # no endpoint yet: nothing is recorded
    assert hooks.ok("GET", "/events") == {"items": [], "next_cursor": None, "has_more": False}
    hooks.ok("POST", "/webhooks", 201, json={**HOOK, "event_types": ["lead.created"]})
    world.license()  # an endpoint, but not for this type
    hooks.ok("POST", "/leads/institutions", 201, json={"name": "Uni Nord", "type": "university"})
    assert [e["type"] for e in hooks.ok("GET", "/events")["items"]] == ["lead.created"]


def test_bad_cursors_types_and_limits_are_refused(world: TestWorld, hooks: Management) -> None:
    for cursor in ("bm90LWEtY3Vyc29y", "ZXYxOi0x", "ZXYxOjAx", "%%%", "ZXYxOjk5OTk5OTk5OTk5OTk5OTk5OTk5"):
        body = assert_error(hooks.get("/events", params={"after": cursor}), 400, "VALIDATION_ERROR")
        assert body["details"][0]["field"].endswith("after"), cursor
    body = assert_error(hooks.get("/events", params={"type": "license.exploded"}), 400, "VALIDATION_ERROR")
    assert "'license.exploded'" in body["error"]
    for limit in ("0", "101", "many"):
        assert_error(hooks.get("/events", params={"limit": limit}), 400, "VALIDATION_ERROR")
    assert_error(hooks.client.get("/api/v1/events"), 401, "INVALID_TOKEN")
