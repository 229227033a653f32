"""Webhook delivery against a real receiver on 127.0.0.1 (allowed here with allow_private), on
SQLite and PostgreSQL. Endpoints and events are written straight into their tables, as the
outbox and the endpoint registration would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from licenseserver.db.sql import Database, open_database
from licenseserver.domain.installation import sealing_secret, secret_key
from licenseserver.domain.webhooks.delivery import DeliveryRules
from licenseserver.domain.webhooks.worker import Deliverer
from licenseserver.kit.secretbox import seal
from tests.support.world import TestWorld
from tests.webhooks_delivery.receiver import SECRET, Receiver, running_receiver

WEBHOOK_TABLES = ("webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints")
# Short enough for tests: no real waits between tries unless a test asks for them.
QUICK = DeliveryRules(timeout_seconds=2.0, allow_private=True, retry_schedule=(0.2, 0.2), jitter=0.0)


def empty_webhook_tables(world: TestWorld) -> None:
    for table in WEBHOOK_TABLES:
        world.execute(f"DELETE FROM {table}")


@pytest.fixture
def hooks(world: TestWorld) -> Iterator[TestWorld]:
    """The world with empty webhook tables, emptied again after the test: the PostgreSQL database
    of a test worker outlives the test, and a deliverer in a later test's app must find nothing."""
    empty_webhook_tables(world)
    yield world
    empty_webhook_tables(world)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


def add_endpoint(
    world: TestWorld, url: str, event_types: str = "license.created", enabled: bool = True, secret: str = SECRET
) -> int:
    sealed = seal(secret_key(world.settings()), secret)
    world.execute(
        "INSERT INTO webhook_endpoints (url, event_types, secret, enabled) VALUES (:u, :t, :s, :e)",
        u=url,
        t=event_types,
        s=sealed,
        e=enabled,
    )
    return int(world.scalar("SELECT max(id) FROM webhook_endpoints"))


def add_event(world: TestWorld, event_type: str = "license.created", data: dict[str, Any] | None = None) -> str:
    """An event in the outbox, as the change that caused it would have written it; its public id."""
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = json.dumps(
        {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data or {"license_key": "K-1"}},
        separators=(",", ":"),
    )
    world.execute(
        "INSERT INTO webhook_events (event_id, event_type, payload) VALUES (:i, :t, :p)",
        i=event_id,
        t=event_type,
        p=payload,
    )
    return event_id


def payload_of(world: TestWorld, event_id: str) -> str:
    return str(world.scalar("SELECT payload FROM webhook_events WHERE event_id = :i", i=event_id))


def delivery(world: TestWorld, event_id: str) -> dict[str, Any]:
    rows = world.rows(
        "SELECT d.* FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE e.event_id = :i",
        i=event_id,
    )
    assert len(rows) == 1, rows
    return rows[0]


def attempts(world: TestWorld, delivery_id: int) -> list[dict[str, Any]]:
    return world.rows("SELECT * FROM webhook_attempts WHERE delivery_id = :d ORDER BY id", d=delivery_id)


def as_datetime(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through SQLAlchemy text(): the stored string
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def deliverer(world: TestWorld, db: Database, rules: DeliveryRules = QUICK, **options: Any) -> Deliverer:
    settings = world.settings()
    return Deliverer(db, rules, lambda conn: sealing_secret(conn, settings), **options)


async def drain(world: TestWorld, rules: DeliveryRules = QUICK) -> int:
    """Dispatch and send everything due now, as one deliverer; how many attempts."""
    db = open_database(world.database_url)
    await db.open()
    try:
        return await deliverer(world, db, rules).drain()
    finally:
        await db.close()
