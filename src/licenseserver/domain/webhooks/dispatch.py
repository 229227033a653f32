"""From the outbox to deliveries: each undispatched event gets one delivery per enabled endpoint
that wants its type, due at once, and is marked dispatched — in the caller's transaction.

Run in one transaction (the deliverer's, worker.py), so a crash before its commit leaves the events
undispatched and the next round dispatches them again; the unique (event_id, endpoint_id) keeps
that at one delivery each. On PostgreSQL the events are taken `FOR UPDATE SKIP LOCKED`: instances
dispatching at the same moment take different events instead of waiting for each other. On
SQLite the transaction (BEGIN IMMEDIATE) holds the only write lock, so it is alone anyway.
"""

from __future__ import annotations

from licenseserver.db.sql import Connection
from licenseserver.domain.webhooks.statements import (
    ENABLED_ENDPOINTS,
    INSERT_DELIVERY,
    MARK_DISPATCHED,
    UNDISPATCHED_EVENTS,
)

DISPATCH_BATCH = 100


def wants(event_types: str, event_type: str) -> bool:
    """An endpoint's `event_types` is its event types separated by spaces."""
    return event_type in event_types.split()


async def dispatch_events(conn: Connection, limit: int = DISPATCH_BATCH) -> int:
    """Dispatch up to `limit` events, oldest first; how many were dispatched."""
    events = await conn.fetch(UNDISPATCHED_EVENTS.on(conn), limit)
    if not events:
        return 0
    endpoints = [(row["id"], row["event_types"]) for row in await conn.fetch(ENABLED_ENDPOINTS)]
    for event in events:
        for endpoint_id, event_types in endpoints:
            if wants(event_types, event["event_type"]):
                await conn.execute(INSERT_DELIVERY, event["id"], endpoint_id)
        await conn.execute(MARK_DISPATCHED, event["id"])
    return len(events)
