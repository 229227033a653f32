"""Webhook tests: endpoints subscribed through the domain service, events read back with SQL."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.installation import run_in_transaction
from licenseserver.domain.webhooks.endpoints import CreatedEndpoint, EndpointCreate, create_endpoint
from licenseserver.domain.webhooks.events import EVENT_TYPES
from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS
from tests.support.world import TestWorld

T = TypeVar("T")
SECRET_KEY = "webhook-test-secret-key"
RECEIVER = "http://127.0.0.1:9/hooks"  # never called here: the deliverer is tested elsewhere


@pytest.fixture(autouse=True)
def fresh_subscriptions() -> Iterator[None]:
    """The subscription cache is per process: each test starts with it empty and leaves it
    empty, so no test (here or in another folder) sees another database's endpoints."""
    SUBSCRIPTIONS.invalidate()
    yield
    SUBSCRIPTIONS.invalidate()


def on_sql(world: TestWorld, work: Callable[[Connection], Awaitable[T]]) -> T:
    """One unit of work on the SQL layer, committed."""
    return run_in_transaction(world.settings(), work)


def on_orm(world: TestWorld, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One unit of work on an ORM session, as the panel and the CLI run one, committed."""
    return run_in_orm_transaction(world.database_url, work)


def subscribe(world: TestWorld, *event_types: str, enabled: bool = True) -> CreatedEndpoint:
    """An endpoint wanting these types (all of them when none are named)."""
    data = EndpointCreate(url=RECEIVER, event_types=list(event_types or EVENT_TYPES), enabled=enabled)
    return on_sql(world, lambda conn: create_endpoint(conn, data, secret_key=SECRET_KEY, allow_private=True))


def events(world: TestWorld, event_type: str | None = None) -> list[dict[str, Any]]:
    """The recorded events (oldest first), each as its stored body with `event_id` beside it."""
    rows = world.rows("SELECT event_id, event_type, payload FROM webhook_events ORDER BY id")
    found = []
    for row in rows:
        body = json.loads(row["payload"])
        assert body["type"] == row["event_type"]
        if event_type is None or row["event_type"] == event_type:
            found.append({"event_id": row["event_id"], **body})
    return found


def only_event(world: TestWorld, event_type: str) -> dict[str, Any]:
    found = events(world, event_type)
    assert len(found) == 1, found
    data: dict[str, Any] = found[0]["data"]
    return data
