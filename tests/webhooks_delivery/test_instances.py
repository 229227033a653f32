"""Several deliverers at once, and a server killed mid-delivery.

- Two deliverers on PostgreSQL, each with its own connection pool, over 200 events: every event
  reaches the receiver exactly once between them (SKIP LOCKED on dispatch and claim, the lease).
- The real API server process, SIGKILLed while the receiver holds its request, then started
  again: the event arrives (at least once, with the same webhook-id), and an event written to the
  outbox while no server ran is delivered too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from licenseserver.db.sql import Query, open_database
from tests.conftest import LiveServer
from tests.support.world import TestWorld
from tests.webhooks_delivery.helpers import add_endpoint, add_event, deliverer, delivery, empty_webhook_tables
from tests.webhooks_delivery.receiver import Receiver

EVENTS = 200
DELIVERED = Query("SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'")


def test_two_deliverers_deliver_each_event_exactly_once_between_them(pg_world: TestWorld, receiver: Receiver) -> None:
    empty_webhook_tables(pg_world)
    add_endpoint(pg_world, receiver.url("/ok"))
    event_ids = {add_event(pg_world) for _ in range(EVENTS)}

    async def two_instances() -> None:
        dbs = [open_database(pg_world.database_url) for _ in range(2)]
        for db in dbs:
            await db.open()
        workers = [asyncio.create_task(deliverer(pg_world, db, poll_seconds=0.02).run_forever()) for db in dbs]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                async with dbs[0].autocommit() as conn:
                    if await conn.fetchval(DELIVERED) == EVENTS:
                        break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # a duplicate would arrive now
        finally:
            for worker in workers:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            for db in dbs:
                await db.close()

    try:
        asyncio.run(two_instances())
        delivered = pg_world.scalar("SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'")
        tries = pg_world.scalar("SELECT count(*) FROM webhook_attempts")
    finally:
        empty_webhook_tables(pg_world)
    received = receiver.ids()
    assert (delivered, tries) == (EVENTS, EVENTS)
    assert set(received) == event_ids
    assert set(received.values()) == {1}, "each webhook-id arrived once"
    assert all(got.verified for got in receiver.received)


@pytest.mark.slow
def test_a_server_killed_mid_delivery_delivers_after_restart(
    hooks: TestWorld, receiver: Receiver, live_server: Callable[..., LiveServer]
) -> None:
    add_endpoint(hooks, receiver.url("/block"))
    held = add_event(hooks)
    env = {"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_TIMEOUT_SECONDS": "2", "WEBHOOK_POLL_SECONDS": "0.1"}

    first = live_server(**env)
    assert receiver.arrived.wait(20), "the server took the event from the outbox and sent it"
    first.process.kill()  # SIGKILL while the receiver holds the request: nothing is recorded
    first.process.wait()
    receiver.release.set()
    assert delivery(hooks, held)["state"] == "pending"
    assert hooks.scalar("SELECT count(*) FROM webhook_attempts") == 0
    written_while_down = add_event(hooks)

    live_server(**env)
    deadline = time.monotonic() + 30  # the lease (timeout + 5 s) runs out first
    while time.monotonic() < deadline and {delivery(hooks, e)["state"] for e in (held, written_while_down)} != {
        "delivered"
    }:
        time.sleep(0.1)

    assert delivery(hooks, held)["state"] == "delivered"
    assert delivery(hooks, written_while_down)["state"] == "delivered"
    assert receiver.tries(held) == 2, "at least once: the killed try and the one after restart"
    assert {got.webhook_id for got in receiver.received if got.path == "/block"} == {held, written_while_down}
    assert all(got.verified for got in receiver.received)
