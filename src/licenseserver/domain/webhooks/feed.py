"""What the management API reads of the webhook tables: the recorded events in the order they
were written (GET /api/v1/events, paged by the table's id), and one endpoint's deliveries, newest
first (GET /api/v1/webhooks/{id}/deliveries). Reads only; the caller's connection.

The events feed pages by id, not by offset: events are only ever appended, so "the events after
id N" is stable while new ones arrive, and each page is one index range scan however deep."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.webhooks.history import DELIVERIES, DELIVERY_COLUMNS, DeliveryRow, delivery_row
from licenseserver.kit.paging import Page, PageRequest, page_of
from licenseserver.kit.timefmt import iso_utc

_EVENT_COLUMNS = "SELECT id, event_id, event_type, payload, created_at FROM webhook_events"
EVENTS_AFTER = Query(f"{_EVENT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT $2")
EVENTS_OF_TYPE_AFTER = Query(f"{_EVENT_COLUMNS} WHERE id > $1 AND event_type = $2 ORDER BY id LIMIT $3")

DELIVERY = Query(f"{DELIVERY_COLUMNS} WHERE d.id = $1 AND d.endpoint_id = $2")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int  # the table's id: what the feed pages by, never shown as such
    event_id: str  # the `webhook-id` receivers saw
    type: str
    created_at: datetime
    data: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "type": self.type, "created_at": iso_utc(self.created_at), "data": self.data}


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[FeedEvent]
    has_more: bool  # more events (of the type asked for) after the last one, as of this read


def _event(row: Row) -> FeedEvent:
    body = json.loads(row["payload"])  # the stored body receivers get: {"type", "timestamp", "data"}
    return FeedEvent(int(row["id"]), str(row["event_id"]), str(row["event_type"]), row["created_at"], body["data"])


async def events_after(conn: Connection, after_id: int, limit: int, event_type: str | None = None) -> FeedPage:
    """Up to `limit` events with an id above `after_id`, oldest first, of one type when given."""
    if event_type is None:
        rows = await conn.fetch(EVENTS_AFTER, after_id, limit + 1)
    else:
        rows = await conn.fetch(EVENTS_OF_TYPE_AFTER, after_id, event_type, limit + 1)
    return FeedPage([_event(row) for row in rows[:limit]], len(rows) > limit)


def delivery_json(delivery: DeliveryRow) -> dict[str, Any]:
    """A delivery as the management API shows it (the panel's history row, without its attempts)."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_attempt_at": iso_utc(delivery.last_attempt_at),
        "next_attempt_at": iso_utc(delivery.next_attempt_at),
        "created_at": iso_utc(delivery.created_at),
        "delivered_at": iso_utc(delivery.delivered_at),
    }


async def deliveries_of_endpoint(conn: Connection, endpoint_id: int, wanted: PageRequest) -> Page[DeliveryRow]:
    rows = await conn.fetch(DELIVERIES, endpoint_id, wanted.fetch, wanted.offset)
    return page_of([delivery_row(row, []) for row in rows], wanted)


async def delivery_of_endpoint(conn: Connection, endpoint_id: int, delivery_id: int) -> DeliveryRow | None:
    """The delivery when it exists and belongs to this endpoint (a redelivery names both)."""
    row = await conn.fetchrow(DELIVERY, delivery_id, endpoint_id)
    return None if row is None else delivery_row(row, [])
