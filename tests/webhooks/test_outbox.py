"""The outbox: one row per wanted event, in the caller's transaction; the subscription cache."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest

from licenseserver.db.sql import Connection
from licenseserver.domain.webhooks.events import event_body, fixed_event_id, new_event_id
from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS, emit, emit_once, may_want
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, on_sql, subscribe

EVENT_ID = re.compile(r"^msg_[0-9A-HJKMNP-TV-Z]{26}$")


class BoomError(Exception):
    pass


def _emit(world: TestWorld, event_type: str = "lead.created") -> str | None:
    return on_sql(world, lambda conn: emit(conn, event_type, {"kind": "institution", "institution_id": 7}))


def test_an_event_is_written_only_when_an_enabled_endpoint_wants_its_type(world: TestWorld) -> None:
    assert _emit(world) is None  # no endpoint at all
    subscribe(world, "license.created")
    assert _emit(world) is None  # an endpoint, but not for this type
    subscribe(world, "lead.created", enabled=False)
    assert _emit(world) is None  # wanted only by a disabled endpoint
    assert events(world) == []

    subscribe(world, "lead.created")
    event_id = _emit(world)
    assert event_id is not None and EVENT_ID.match(event_id)
    [event] = events(world)
    assert event["event_id"] == event_id
    assert event["type"] == "lead.created"
    assert event["data"] == {"kind": "institution", "institution_id": 7}
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", event["timestamp"])


def test_an_event_rolls_back_with_its_change(world: TestWorld) -> None:
    subscribe(world, "lead.created")

    async def change_then_fail(conn: Connection) -> None:
        await emit(conn, "lead.created", {"kind": "contact", "contact_id": 1})
        raise BoomError

    with pytest.raises(BoomError):
        on_sql(world, change_then_fail)
    assert events(world) == []


def test_the_cache_learns_of_an_endpoint_added_in_this_process_at_once(world: TestWorld) -> None:
    assert _emit(world) is None  # reads the (empty) subscriptions and caches them
    assert may_want("lead.created") is False
    subscribe(world, "lead.created")  # through domain/webhooks/endpoints.py: the cache is emptied
    assert may_want("lead.created") is True
    assert _emit(world) is not None
    assert len(events(world)) == 1


def test_the_cache_reads_changes_of_other_processes_after_its_ttl(world: TestWorld) -> None:
    assert _emit(world) is None
    # Another instance subscribes: this process is not told, so it keeps its reading for a while.
    world.execute(
        "INSERT INTO webhook_endpoints (url, event_types, secret, enabled, created_at)"
        " VALUES ('http://127.0.0.1:9/', 'lead.created', 'sealed', TRUE, CURRENT_TIMESTAMP)"
    )
    assert _emit(world) is None
    SUBSCRIPTIONS._loaded_at = time.monotonic() - 10  # as if the cache's few seconds had passed
    assert _emit(world) is not None


def test_an_unknown_type_is_a_programming_error(world: TestWorld) -> None:
    subscribe(world)
    with pytest.raises(ValueError, match="unknown event type"):
        _emit(world, "license.exploded")


def test_emit_once_writes_a_fixed_id_once(world: TestWorld) -> None:
    event_id = fixed_event_id("license.expiring", "12", date(2027, 3, 1))
    assert event_id == fixed_event_id("license.expiring", "12", date(2027, 3, 1))
    assert event_id != fixed_event_id("license.expired", "12", date(2027, 3, 1))
    assert event_id != fixed_event_id("license.expiring", "12", date(2027, 3, 2))
    assert EVENT_ID.match(event_id)
    first = on_sql(world, lambda conn: emit_once(conn, "license.expiring", {"license_id": 12}, event_id))
    again = on_sql(world, lambda conn: emit_once(conn, "license.expiring", {"license_id": 12}, event_id))
    assert (first, again) == (True, False)
    assert [e["event_id"] for e in events(world)] == [event_id]


def test_event_ids_are_unique_and_sort_by_time() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_event_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len({new_event_id() for _ in range(10_000)}) == 10_000


def test_the_body_is_the_standard_webhooks_shape() -> None:
    at = datetime(2027, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    body = event_body("license.created", {"valid_until": date(2027, 12, 31), "at": at}, at)
    assert body == (
        '{"type":"license.created","timestamp":"2027-01-02T03:04:05.678Z",'
        '"data":{"valid_until":"2027-12-31","at":"2027-01-02T03:04:05Z"}}'
    )
