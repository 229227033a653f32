"""license.expiring and license.expired: found by the periodic scan, written once per end date."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import date, timedelta

from licenseserver.db.sql import Connection, open_database
from licenseserver.domain.licensing.webhook_events import due_for_expiry_events
from licenseserver.domain.webhooks.scanner import DueLicense, scan_expiries
from licenseserver.kit.timefmt import utc_today
from tests.conftest import make_client
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, on_sql, subscribe

DAYS_BEFORE = 7


def _scan(world: TestWorld, today: date | None = None) -> int:
    return on_sql(world, lambda conn: scan_expiries(conn, today or utc_today(), DAYS_BEFORE, due_for_expiry_events))


def _days(offset: int) -> date:
    return utc_today() + timedelta(days=offset)


def _told(world: TestWorld, event_type: str) -> list[str]:
    return [e["data"]["license_key"] for e in events(world, event_type)]


def test_expiring_once_within_the_window(world: TestWorld) -> None:
    subscribe(world, "license.expiring")
    soon = world.license(valid_from=_days(-30), valid_until=_days(DAYS_BEFORE))
    today_last = world.license(valid_from=_days(-30), valid_until=_days(0))
    world.license(valid_from=_days(-30), valid_until=_days(DAYS_BEFORE + 1))  # not yet
    world.license(valid_from=_days(-30))  # no end
    world.license(valid_from=_days(-30), valid_until=_days(3), is_active=False)  # switched off: not usable

    assert _scan(world) == 2
    assert _scan(world) == 0  # run twice: nothing new
    assert sorted(_told(world, "license.expiring")) == sorted([soon, today_last])
    data = next(e["data"] for e in events(world, "license.expiring") if e["data"]["license_key"] == soon)
    assert data["days_left"] == DAYS_BEFORE
    assert data["valid_until"] == _days(DAYS_BEFORE).isoformat()


def test_a_new_end_date_is_told_again(world: TestWorld) -> None:
    subscribe(world, "license.expiring")
    key = world.license(valid_from=_days(-30), valid_until=_days(2))
    assert _scan(world) == 1
    world.execute("UPDATE licenses SET valid_until = :d WHERE license_key = :k", d=_days(5), k=key)
    assert _scan(world) == 1
    assert _scan(world) == 0
    assert [e["data"]["valid_until"] for e in events(world)] == [_days(2).isoformat(), _days(5).isoformat()]


def test_expired_once_from_the_day_after(world: TestWorld) -> None:
    subscribe(world, "license.expired")
    yesterday = world.license(valid_from=_days(-60), valid_until=_days(-1))
    last_week = world.license(valid_from=_days(-60), valid_until=_days(-7))
    world.license(valid_from=_days(-60), valid_until=_days(-8))  # ended before the catch-up window
    world.license(valid_from=_days(-60), valid_until=_days(0))  # still valid today

    assert _scan(world) == 2
    assert _scan(world) == 0
    assert sorted(_told(world, "license.expired")) == sorted([yesterday, last_week])
    # The next day the license ending today is due, and only it.
    assert _scan(world, _days(1)) == 1


def test_nothing_is_scanned_or_written_when_no_endpoint_wants_it(world: TestWorld) -> None:
    subscribe(world, "license.created")
    world.license(valid_from=_days(-30), valid_until=_days(1))
    world.license(valid_from=_days(-30), valid_until=_days(-1))
    assert _scan(world) == 0
    assert _told(world, "license.expiring") == [] and _told(world, "license.expired") == []


def test_two_concurrent_scans_write_each_event_once(pg_world: TestWorld) -> None:
    """Both scans have found the same licenses before either writes: the unique event id lets
    one insert through; the other waits for it to commit and then does nothing."""
    world = pg_world
    subscribe(world, "license.expiring", "license.expired")
    world.license(valid_from=_days(-30), valid_until=_days(1))
    world.license(valid_from=_days(-30), valid_until=_days(-1))

    async def both() -> list[int]:
        db = open_database(world.database_url, pool_size=2)
        await db.open()
        found = asyncio.Barrier(2)

        async def due_then_wait(
            conn: Connection, event_type: str, today: date, days: int, catch_up: int
        ) -> Sequence[DueLicense]:
            rows = await due_for_expiry_events(conn, event_type, today, days, catch_up)
            if event_type == "license.expiring":  # the first question of each scan
                await found.wait()
            return rows

        async def scan() -> int:
            async with db.transaction() as conn:
                return await scan_expiries(conn, utc_today(), DAYS_BEFORE, due_then_wait)

        try:
            return list(await asyncio.wait_for(asyncio.gather(scan(), scan()), timeout=30))
        finally:
            await db.close()

    written = asyncio.run(both())
    assert sum(written) == 2
    assert len(events(world, "license.expiring")) == 1
    assert len(events(world, "license.expired")) == 1


def test_the_api_process_scans_periodically(world: TestWorld) -> None:
    subscribe(world, "license.expiring")
    key = world.license(valid_from=_days(-30), valid_until=_days(1))
    with make_client(world, webhook_scan_seconds=0.05):
        deadline = time.monotonic() + 10
        while not events(world) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _told(world, "license.expiring") == [key]
