"""The delivery history of one webhook endpoint, as staff read it in the panel: its deliveries,
newest first and paged, each with its attempts; and one delivery, to send it again.

Two statements a page whatever its length (the deliveries, then the attempts of exactly those
deliveries through the same subquery), so a long history costs no more queries than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.kit.paging import Page, PageRequest, page_of

_PAGE_IDS = "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
# A delivery as the panel and the management API show it (domain/webhooks/feed.py reads it too).
DELIVERY_COLUMNS = (
    "SELECT d.id, d.state, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error,"
    " d.created_at, d.delivered_at, e.event_id, e.event_type"
    " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
)
DELIVERIES = Query(f"{DELIVERY_COLUMNS} WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2 OFFSET $3")
ATTEMPTS = Query(
    "SELECT id, delivery_id, attempted_at, status_code, duration_ms, error, answer_excerpt FROM webhook_attempts"
    f" WHERE delivery_id IN ({_PAGE_IDS}) ORDER BY delivery_id, id"
)
DELIVERY_OF_ENDPOINT = Query("SELECT id FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2")


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    answer_excerpt: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    event_id: str  # the `webhook-id` the receiver saw
    event_type: str
    state: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_rows: tuple[AttemptRow, ...]

    @property
    def last_duration_ms(self) -> int | None:
        return self.attempt_rows[-1].duration_ms if self.attempt_rows else None


def _attempt(row: Row) -> AttemptRow:
    return AttemptRow(
        int(row["id"]),
        row["attempted_at"],
        row["status_code"],
        int(row["duration_ms"]),
        row["error"],
        row["answer_excerpt"],
    )


def delivery_row(row: Row, attempts: list[AttemptRow]) -> DeliveryRow:
    return DeliveryRow(
        id=int(row["id"]),
        event_id=str(row["event_id"]),
        event_type=str(row["event_type"]),
        state=str(row["state"]),
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        attempt_rows=tuple(attempts),
    )


async def delivery_history(conn: Connection, endpoint_id: int, wanted: PageRequest) -> Page[DeliveryRow]:
    """One page of the endpoint's deliveries, newest first, each with its attempts (oldest first)."""
    args = (endpoint_id, wanted.fetch, wanted.offset)
    rows = await conn.fetch(DELIVERIES, *args)
    by_delivery: dict[int, list[AttemptRow]] = {int(row["id"]): [] for row in rows}
    for row in await conn.fetch(ATTEMPTS, *args):
        by_delivery.setdefault(int(row["delivery_id"]), []).append(_attempt(row))
    return page_of([delivery_row(row, by_delivery[int(row["id"])]) for row in rows], wanted)


async def is_delivery_of(conn: Connection, delivery_id: int, endpoint_id: int) -> bool:
    """Whether the delivery exists and belongs to this endpoint (a redelivery names both)."""
    return await conn.fetchval(DELIVERY_OF_ENDPOINT, delivery_id, endpoint_id) is not None
