"""The outbox: an event is written in the same transaction as the change it tells of.

`emit` inserts one row into webhook_events on the caller's connection, inside the caller's unit
of work: the change and its event commit together or not at all, and the deliverer
(domain/webhooks/delivery.py) sends what was committed, so a crash only delays a delivery.

**Recorded only when wanted.** An event is written only while an enabled endpoint subscribes to
its type. Activations and session starts are hot paths; writing a row no one will read would tax
every one of them. So webhook_events (and GET /api/v1/events, which lists it) holds the events
that were recorded: an event type no endpoint wanted at the time leaves no trace, and an
endpoint subscribing later receives events from then on, not the past.

**The subscription check costs a set lookup.** The types wanted by enabled endpoints are cached
per process and read again at most every SUBSCRIPTION_CACHE_SECONDS, on the connection of the
call that finds the cache stale (one short read). A change of endpoints through
domain/webhooks/endpoints.py empties this process's cache at once; other processes and
instances see it within SUBSCRIPTION_CACHE_SECONDS, so events of a type just subscribed may go
unrecorded, or be recorded once more after an unsubscribe, for that long (docs/integrations.md).
"""

from __future__ import annotations

import time
from typing import Any

from licenseserver.db.sql import Connection, Query
from licenseserver.domain.webhooks.events import EVENT_TYPES, event_body, new_event_id

SUBSCRIPTION_CACHE_SECONDS = 5.0
KNOWN_TYPES = frozenset(EVENT_TYPES)

ENABLED_EVENT_TYPES = Query("SELECT event_types FROM webhook_endpoints WHERE enabled = TRUE")
INSERT_EVENT = Query(
    "INSERT INTO webhook_events (event_id, event_type, payload, created_at) VALUES ($1, $2, $3, {now})"
)
# An event several scans may find (license.expiring, license.expired) carries a fixed id: the
# unique index on event_id keeps the first and makes the others do nothing, on every instance.
INSERT_EVENT_ONCE = Query(
    "INSERT INTO webhook_events (event_id, event_type, payload, created_at) VALUES ($1, $2, $3, {now})"
    " ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


class Subscriptions:
    """The event types enabled endpoints want, as this process last read them.

    No lock: two calls finding the cache stale at once both read, and both results are right.
    (An asyncio lock would also tie the process-wide object to one event loop.)"""

    def __init__(self, ttl_seconds: float = SUBSCRIPTION_CACHE_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._types: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < self._ttl

    def may_want(self, event_type: str) -> bool:
        """Without a database trip: False only when a fresh reading says no endpoint wants the
        type. For a caller choosing between an autocommit connection and a transaction."""
        return not self._fresh() or event_type in self._types

    async def wants(self, conn: Connection, event_type: str) -> bool:
        if not self._fresh():
            await self.refresh(conn)
        return event_type in self._types

    async def refresh(self, conn: Connection) -> None:
        started = time.monotonic()  # the reading's age counts from before the read
        rows = await conn.fetch(ENABLED_EVENT_TYPES)
        self._types = frozenset(name for row in rows for name in str(row["event_types"]).split())
        self._loaded_at = started

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")


# One per process: every caller of emit, on any connection, shares it.
SUBSCRIPTIONS = Subscriptions()


async def wants(conn: Connection, event_type: str) -> bool:
    """Whether an enabled endpoint wants this type: for a caller that must read something to
    build the event's data, so that it reads only when the event will be written."""
    return await SUBSCRIPTIONS.wants(conn, event_type)


def may_want(event_type: str) -> bool:
    return SUBSCRIPTIONS.may_want(event_type)


def _known(event_type: str) -> str:
    if event_type not in KNOWN_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return event_type


async def emit(conn: Connection, event_type: str, data: dict[str, Any]) -> str | None:
    """Write the event in the caller's transaction when an enabled endpoint wants it; its id,
    or None when nothing was written. `data` holds ids and facts, never a secret."""
    if not await SUBSCRIPTIONS.wants(conn, _known(event_type)):
        return None
    event_id = new_event_id()
    await conn.execute(INSERT_EVENT, event_id, event_type, event_body(event_type, data))
    return event_id


async def emit_once(conn: Connection, event_type: str, data: dict[str, Any], event_id: str) -> bool:
    """Write the event under a fixed id unless it was written before (by this or another
    instance); whether this call wrote it. Asks no subscription: the caller has."""
    written = await conn.fetchval(INSERT_EVENT_ONCE, event_id, _known(event_type), event_body(event_type, data))
    return written is not None
