"""A device's activation on PostgreSQL in one round trip: one statement on an autocommit connection
of the durable pool refreshes a known device or, finding none, adds a new one through the
server-side function activate_new_device (migration 0012). The transaction still answers every
refusal, and adds a new device whenever activation.created is wanted (the event commits with the
activation). SQLite keeps the quick UPDATE and the transaction.

The statements are read off the driver (tests/api/conftest.py's `statements`), one round trip
each once prepared, BEGIN and COMMIT included."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.domain.licensing import license_statements as repo
from licenseserver.domain.licensing.locks import LOCK_BY_KEY
from licenseserver.domain.webhooks.outbox import ENABLED_EVENT_TYPES, INSERT_EVENT
from tests.api.conftest import StatementLog, postgres_sql
from tests.api.helpers import NOT_USABLE_TODAY, activate, assert_error
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, subscribe

QUICK_UPDATE = postgres_sql(repo.REFRESH_KNOWN_DEVICE)
ONE_CALL = postgres_sql(repo.REFRESH_OR_ACTIVATE_NEW)
LOCK = postgres_sql(LOCK_BY_KEY)
COUNTED_INSERT = postgres_sql(repo.INSERT_ACTIVATION_IF_ROOM)
REFRESH_UNDER_LOCK = postgres_sql(repo.REFRESH_ACTIVE_ACTIVATION)
READ_SUBSCRIPTIONS = postgres_sql(ENABLED_EVENT_TYPES)
WRITE_EVENT = postgres_sql(INSERT_EVENT)
# What activation sends; the caches' reads and the deliverer's polls are left out.
ACTIVATION_STATEMENTS = {QUICK_UPDATE, ONE_CALL, LOCK, COUNTED_INSERT, REFRESH_UNDER_LOCK, WRITE_EVENT}
# The transaction's statements after the one call found no room: today's refusal, unchanged.
REFUSED_IN_THE_TRANSACTION = ["BEGIN", LOCK, COUNTED_INSERT, REFRESH_UNDER_LOCK, "ROLLBACK"]


def _activation(log: StatementLog) -> list[str]:
    return log.among(ACTIVATION_STATEMENTS)


def test_a_new_and_a_known_device_take_one_call_each(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = pg_world.license(max_activations=3)

    first = activate(pg_api, key, "hw-1")
    # The process had no reading of the subscriptions yet: it reads them once, on the same connection.
    assert statements.count(READ_SUBSCRIPTIONS) == 1
    statements.clear()
    second = activate(pg_api, key, "hw-2", "OFFICE", "1.2.0")

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.json()["already_active"] is False
    assert _activation(statements) == [ONE_CALL]  # no BEGIN, no lock of its own, no COMMIT
    assert statements.durable(ONE_CALL) == [True]  # the normal pool: the commit waits for the disk
    created = second.json()["activation"]
    assert (created["license_key"], created["hardware_hash"], created["machine_name"]) == (key, "hw-2", "OFFICE")
    row = pg_world.rows("SELECT app_version, is_active FROM activations WHERE id = :i", i=created["id"])
    assert row == [{"app_version": "1.2.0", "is_active": True}]

    statements.clear()
    again = activate(pg_api, key, "hw-2", "LAPTOP")  # a known device, refreshed by the same statement
    assert again.json()["already_active"] is True
    assert again.json()["activation"]["id"] == created["id"]
    assert _activation(statements) == [ONE_CALL]
    rows = pg_world.rows("SELECT machine_name FROM activations WHERE hardware_hash = 'hw-2'")
    assert rows == [{"machine_name": "LAPTOP"}]


def test_a_new_device_at_the_limit_is_refused_by_the_transaction_as_before(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = pg_world.license(max_activations=2)
    assert activate(pg_api, key, "hw-1").status_code == 200
    assert activate(pg_api, key, "hw-2").status_code == 200
    before = pg_world.snapshot()
    statements.clear()

    refused = activate(pg_api, key, "hw-3")

    body = assert_error(refused, 409, "ACTIVATION_LIMIT_REACHED")
    assert body["error"] == "Activation limit reached (2 devices)"
    assert _activation(statements) == [ONE_CALL, *REFUSED_IN_THE_TRANSACTION]
    assert pg_world.snapshot() == before


@pytest.mark.parametrize(("values", "status", "code", "message"), NOT_USABLE_TODAY)
def test_a_license_not_usable_today_is_refused_by_the_transaction_as_before(
    pg_world: TestWorld,
    pg_api: TestClient,
    statements: StatementLog,
    values: dict[str, Any] | None,
    status: int,
    code: str,
    message: str,
) -> None:
    key = "ZZZZ-ZZZZ-ZZZZ-ZZZZ" if values is None else pg_world.license(**values)
    before = pg_world.snapshot()
    statements.clear()

    body = assert_error(activate(pg_api, key, "hw-1"), status, code)

    assert body["error"] == message
    # The function added nothing (no lock taken on an unusable license); the transaction found why.
    assert _activation(statements) == [ONE_CALL, "BEGIN", LOCK, "ROLLBACK"]
    assert pg_world.snapshot() == before


def test_while_activation_created_is_wanted_the_transaction_writes_it_with_the_activation(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = pg_world.license(max_activations=3)
    assert activate(pg_api, key, "hw-before").status_code == 200  # no endpoint yet: the one call
    assert statements.count(ONE_CALL) == 1 and events(pg_world) == []
    subscribe(pg_world, "activation.created")  # in this process: its reading is dropped at once
    statements.clear()

    response = activate(pg_api, key, "hw-after")

    assert response.status_code == 200, response.text
    assert _activation(statements) == [QUICK_UPDATE, "BEGIN", LOCK, COUNTED_INSERT, WRITE_EVENT, "COMMIT"]
    recorded = events(pg_world, "activation.created")
    assert [e["data"]["hardware_hash"] for e in recorded] == ["hw-after"]
    # One transaction wrote both rows: they carry the same transaction id.
    same = pg_world.scalar(
        "SELECT a.xmin = e.xmin FROM activations a, webhook_events e"
        " WHERE a.hardware_hash = 'hw-after' AND e.event_id = :e",
        e=recorded[0]["event_id"],
    )
    assert same is True


def test_a_new_device_at_the_limit_gets_the_same_answer_on_both_databases(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    created = activate(api, key, "hw-1")
    assert created.status_code == 200 and created.json()["already_active"] is False
    body = assert_error(activate(api, key, "hw-2"), 409, "ACTIVATION_LIMIT_REACHED")
    assert body["error"] == "Activation limit reached (1 devices)"
    assert world.scalar("SELECT COUNT(*) FROM activations") == 1
