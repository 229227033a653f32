"""Dispatch, signing, retries, giving up and redelivery, on both databases, against a real receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

from licenseserver.db.sql import open_database
from licenseserver.domain.webhooks.delivery import RETRY_SCHEDULE, USER_AGENT, DeliveryRules, redeliver
from licenseserver.domain.webhooks.dispatch import dispatch_events
from tests.support.world import TestWorld
from tests.webhooks_delivery.helpers import (
    QUICK,
    add_endpoint,
    add_event,
    as_datetime,
    attempts,
    delivery,
    drain,
    payload_of,
)
from tests.webhooks_delivery.receiver import Receiver


def test_an_event_reaches_the_receiver_signed_with_its_stored_payload(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/ok"))
    event_id = add_event(hooks, data={"license_key": "ÄÖÜ-ß-1", "note": "non-ASCII survives byte for byte"})

    assert asyncio.run(drain(hooks)) == 1

    [got] = receiver.received
    assert got.verified, "standardwebhooks.Webhook(secret).verify() accepts it"
    assert got.body == payload_of(hooks, event_id).encode()
    assert got.webhook_id == event_id
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == USER_AGENT
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 204)
    assert row["delivered_at"] is not None and row["next_attempt_at"] is None
    [tried] = attempts(hooks, row["id"])
    assert tried["status_code"] == 204 and tried["error"] is None and tried["duration_ms"] >= 0


def test_dispatch_makes_one_delivery_per_enabled_endpoint_that_wants_the_type(hooks: TestWorld) -> None:
    wanted = add_endpoint(hooks, "https://a.example/hook", "license.created license.expired")
    add_endpoint(hooks, "https://b.example/hook", "license.created", enabled=False)
    add_endpoint(hooks, "https://c.example/hook", "license.expired license.created_later")
    event_id = add_event(hooks, "license.created")

    async def dispatch_twice() -> tuple[int, int]:
        db = open_database(hooks.database_url)
        await db.open()
        try:
            async with db.transaction() as conn:
                first = await dispatch_events(conn)
            async with db.transaction() as conn:
                return first, await dispatch_events(conn)
        finally:
            await db.close()

    assert asyncio.run(dispatch_twice()) == (1, 0)
    assert hooks.rows("SELECT endpoint_id, state, attempts FROM webhook_deliveries") == [
        {"endpoint_id": wanted, "state": "pending", "attempts": 0}
    ]
    assert hooks.scalar("SELECT dispatched_at FROM webhook_events WHERE event_id = :i", i=event_id) is not None


def test_a_dispatch_that_does_not_commit_leaves_the_event_to_the_next_one(hooks: TestWorld) -> None:
    add_endpoint(hooks, "https://a.example/hook")
    add_event(hooks)

    async def crash_before_commit() -> None:
        db = open_database(hooks.database_url)
        await db.open()
        try:
            async with db.transaction() as conn:
                assert await dispatch_events(conn) == 1
                raise RuntimeError("the process dies before its commit")
        except RuntimeError:
            pass
        finally:
            await db.close()

    asyncio.run(crash_before_commit())
    assert hooks.scalar("SELECT count(*) FROM webhook_deliveries") == 0
    assert hooks.scalar("SELECT count(*) FROM webhook_events WHERE dispatched_at IS NULL") == 1


def test_a_500_is_retried_after_the_backoff_with_the_same_webhook_id(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/flaky"))
    event_id = add_event(hooks)

    assert asyncio.run(drain(hooks, dataclasses.replace(QUICK, retry_schedule=RETRY_SCHEDULE))) == 1
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"], row["last_status_code"]) == ("pending", 1, 500)
    wait = (as_datetime(row["next_attempt_at"]) - as_datetime(row["last_attempt_at"])).total_seconds()
    assert RETRY_SCHEDULE[0] * 0.8 - 0.5 <= wait <= RETRY_SCHEDULE[0] * 1.2 + 0.5  # 5 s with its jitter
    assert asyncio.run(drain(hooks)) == 0, "not due before its time"

    hooks.execute("UPDATE webhook_deliveries SET next_attempt_at = :t", t=as_datetime(row["last_attempt_at"]))
    assert asyncio.run(drain(hooks)) == 1
    assert receiver.tries(event_id) == 2 and all(got.verified for got in receiver.received)
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"], row["last_status_code"]) == ("delivered", 2, 204)
    first, second = attempts(hooks, row["id"])
    assert (first["status_code"], second["status_code"]) == (500, 204)
    assert first["answer_excerpt"] == "boom"


def test_a_receiver_slower_than_the_timeout_costs_one_bounded_attempt(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/slow-once"))
    event_id = add_event(hooks)
    receiver.slow_seconds = 3.0

    started = time.monotonic()
    asyncio.run(drain(hooks, dataclasses.replace(QUICK, timeout_seconds=0.5)))
    assert time.monotonic() - started < 2.5
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    [tried] = attempts(hooks, row["id"])
    assert tried["error"] == "no answer within 0.5 s" and tried["status_code"] is None
    assert 400 <= tried["duration_ms"] < 1500

    time.sleep(0.25)  # QUICK's backoff
    asyncio.run(drain(hooks))
    assert delivery(hooks, event_id)["state"] == "delivered"
    assert receiver.tries(event_id) == 2


def test_after_the_last_retry_the_delivery_fails_and_the_endpoint_is_failing(
    hooks: TestWorld, receiver: Receiver
) -> None:
    endpoint_id = add_endpoint(hooks, receiver.url("/fail"))
    event_id = add_event(hooks)
    rules = dataclasses.replace(QUICK, retry_schedule=(0.05, 0.05))

    for _ in range(3):
        asyncio.run(drain(hooks, rules))
        time.sleep(0.1)

    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
    assert [a["status_code"] for a in attempts(hooks, row["id"])] == [500, 500, 500]
    assert hooks.scalar("SELECT failing_since FROM webhook_endpoints WHERE id = :i", i=endpoint_id) is not None
    assert receiver.tries(event_id) == 3

    # Staff fix the receiver and send it again: the same webhook-id, and the endpoint recovers.
    hooks.execute("UPDATE webhook_endpoints SET url = :u", u=receiver.url("/ok"))
    assert asyncio.run(_redeliver(hooks, row["id"])) is True
    asyncio.run(drain(hooks, rules))
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"]) == ("delivered", 4)
    assert receiver.tries(event_id) == 4 and receiver.received[-1].verified
    assert hooks.scalar("SELECT failing_since FROM webhook_endpoints WHERE id = :i", i=endpoint_id) is None


def test_redelivery_of_a_delivered_event_sends_it_again_with_the_same_id(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/ok"))
    event_id = add_event(hooks)
    asyncio.run(drain(hooks))
    assert asyncio.run(_redeliver(hooks, delivery(hooks, event_id)["id"])) is True
    asyncio.run(drain(hooks))
    assert receiver.tries(event_id) == 2
    first, again = receiver.received
    assert first.body == again.body and json.loads(again.body)["type"] == "license.created"
    assert asyncio.run(_redeliver(hooks, 999_999)) is False


def test_the_production_schedule_lasts_about_three_days() -> None:
    rules = DeliveryRules(jitter=0.0)
    delays = [rules.retry_delay(made) for made in range(1, len(RETRY_SCHEDULE) + 2)]
    assert delays[-1] is None
    total_hours = sum(d for d in delays if d is not None) / 3600
    assert 60 <= total_hours <= 80
    jittered = DeliveryRules().retry_delay(1)
    assert jittered is not None and 4 <= jittered <= 6


async def _redeliver(world: TestWorld, delivery_id: int) -> bool:
    db = open_database(world.database_url)
    await db.open()
    try:
        async with db.transaction() as conn:
            return await redeliver(conn, delivery_id)
    finally:
        await db.close()
