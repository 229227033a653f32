"""license.expiring and license.expired: events no request causes, found by a periodic scan.

The API process runs `scan_expiries` every WEBHOOK_SCAN_SECONDS (api/app.py), in a transaction
of its own, and only while an endpoint wants one of the two types.

- license.expiring: once per license and end date, as soon as a scan finds the license usable
  and its `valid_until` at most WEBHOOK_EXPIRING_DAYS (default 7) days ahead;
- license.expired: once per license and end date, from the day after `valid_until`. A scan
  looks back EXPIRED_CATCH_UP_DAYS, so a server that was down for a few days still tells, and
  switching the events on does not tell of every license that ended years ago.

**Once, on any number of instances.** Each event has a fixed id made from its type, the license
and the end date (`events.fixed_event_id`); the unique index on webhook_events.event_id keeps
the first insert and makes every later one (the next scan, another instance's scan running at
the same moment) do nothing (`INSERT ... ON CONFLICT DO NOTHING`). No marker table: the event
row is the marker. A license given a new end date gets the events again, for that date. Events
are kept longer than these windows, so an old row is never pruned and then written again.

Which licenses are due is a licensing rule (dates, usable): the caller passes that question in
(`DueLicenses`; domain/licensing/webhook_events.py answers it), so this area never imports the
licensing area that emits through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from licenseserver.db.sql import Connection
from licenseserver.domain.webhooks.events import LICENSE_EXPIRED, LICENSE_EXPIRING, fixed_event_id
from licenseserver.domain.webhooks.outbox import emit_once, wants

EXPIRED_CATCH_UP_DAYS = 7
SCANNED_TYPES = (LICENSE_EXPIRING, LICENSE_EXPIRED)


@dataclass(frozen=True, slots=True)
class DueLicense:
    license_id: int
    valid_until: date
    data: dict[str, Any]  # the event's data


class DueLicenses(Protocol):
    async def __call__(
        self, conn: Connection, event_type: str, today: date, days_before: int, catch_up_days: int
    ) -> Sequence[DueLicense]: ...


async def scan_expiries(conn: Connection, today: date, days_before: int, due: DueLicenses) -> int:
    """Write the expiring and expired events due today that were not written before; how many
    this call wrote. Runs in the caller's transaction."""
    written = 0
    for event_type in SCANNED_TYPES:
        if not await wants(conn, event_type):
            continue
        for found in await due(conn, event_type, today, days_before, EXPIRED_CATCH_UP_DAYS):
            event_id = fixed_event_id(event_type, str(found.license_id), found.valid_until)
            written += await emit_once(conn, event_type, found.data, event_id)
    return written
