"""A session start on PostgreSQL in one round trip: one call of the server-side function
start_license_session (migration 0013) on an autocommit connection of the durable pool. The
transaction still answers every refusal, and runs whenever session.started or session.ended is
wanted (events commit with their change). SQLite keeps the transaction throughout
(tests/api/test_sessions.py runs every rule on both databases).

The statements are read off the driver (tests/api/conftest.py's `statements`)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.domain.licensing import session_statements as repo
from licenseserver.domain.licensing.locks import LOCK_BY_KEY
from licenseserver.domain.webhooks.outbox import INSERT_EVENT
from tests.api.conftest import StatementLog, postgres_sql
from tests.api.helpers import (
    NOT_USABLE_TODAY,
    SESSION_CONFLICT_PREFIX,
    activate,
    activated_license,
    assert_error,
    db_time,
    end_session,
    heartbeat,
    live_session,
    start_session,
)
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, subscribe

SESSION_TIMEOUT = 90  # seeded for the test client
ONE_CALL = postgres_sql(repo.START_LICENSE_SESSION)
LOCK = postgres_sql(LOCK_BY_KEY)
CHECK = postgres_sql(repo.START_CHECK)
END_TIMED_OUT = postgres_sql(repo.END_TIMED_OUT_OF_LICENSE)
INSERT = postgres_sql(repo.INSERT_SESSION)
WRITE_EVENT = postgres_sql(INSERT_EVENT)
START_STATEMENTS = {ONE_CALL, LOCK, CHECK, END_TIMED_OUT, INSERT, WRITE_EVENT}


def _start(log: StatementLog) -> list[str]:
    return log.among(START_STATEMENTS)


def _sessions(world: TestWorld, key: str) -> list[dict[str, Any]]:
    return world.rows(
        "SELECT s.* FROM sessions s JOIN licenses l ON l.id = s.license_id WHERE l.license_key = :k ORDER BY s.id",
        k=key,
    )


def test_a_session_start_is_one_call_on_the_durable_pool(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = activated_license(pg_world, pg_api, "hw-1")
    statements.clear()

    response = start_session(pg_api, key, "hw-1", "1.0.0", "OFFICE-PC")

    assert response.status_code == 200, response.text
    assert _start(statements) == [ONE_CALL]  # no BEGIN, no lock of its own, no COMMIT
    assert statements.durable(ONE_CALL) == [True]  # an acknowledged start waits for the disk
    body = response.json()
    assert body["message"] == "Session started" and body["session_timeout"] == SESSION_TIMEOUT
    [row] = _sessions(pg_world, key)
    assert row["session_token"] == body["session_token"] and row["ended_at"] is None
    assert (row["machine_id"], row["hardware_hash"], row["app_version"]) == ("OFFICE-PC", "hw-1", "1.0.0")
    activation_id = pg_world.scalar("SELECT id FROM activations WHERE hardware_hash = 'hw-1'")
    assert row["activation_id"] == activation_id
    assert db_time(row["started_at"]) == db_time(row["last_heartbeat"])
    assert heartbeat(pg_api, body["session_token"], key).status_code == 200

    # Ended, the license takes the next start in one call again.
    assert end_session(pg_api, body["session_token"]).status_code == 200
    statements.clear()
    assert start_session(pg_api, key, "hw-1").status_code == 200
    assert _start(statements) == [ONE_CALL]


def test_a_timed_out_session_is_ended_as_a_timeout_by_the_one_call(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key, old = live_session(pg_world, pg_api)
    pg_world.age_session(old, SESSION_TIMEOUT + 30)
    statements.clear()

    response = start_session(pg_api, key, "hw-1")

    assert response.status_code == 200, response.text
    assert _start(statements) == [ONE_CALL]
    rows = {r["session_token"]: r for r in _sessions(pg_world, key)}
    assert rows[old]["end_reason"] == "timeout"
    assert db_time(rows[old]["ended_at"]) == db_time(rows[old]["last_heartbeat"])
    assert rows[response.json()["session_token"]]["ended_at"] is None


def test_a_held_license_is_refused_by_the_transaction_as_before(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key, token = live_session(pg_world, pg_api)
    pg_world.age_session(token, SESSION_TIMEOUT - 10)  # silent, but not yet timed out
    before = pg_world.snapshot()
    statements.clear()

    body = assert_error(start_session(pg_api, key, "hw-1"), 409, "SESSION_CONFLICT")

    assert body["error"].startswith(SESSION_CONFLICT_PREFIX)
    assert _start(statements) == [ONE_CALL, "BEGIN", LOCK, CHECK, "ROLLBACK"]
    assert pg_world.snapshot() == before


def test_a_device_not_activated_is_refused_by_the_transaction_as_before(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = activated_license(pg_world, pg_api, "hw-1")
    before = pg_world.snapshot()
    statements.clear()

    assert_error(start_session(pg_api, key, "hw-other"), 403, "DEVICE_NOT_ACTIVATED")

    assert _start(statements) == [ONE_CALL, "BEGIN", LOCK, CHECK, "ROLLBACK"]
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
    if values is not None:  # the device was activated while the license could still take it
        pg_world.execute(
            "INSERT INTO activations (license_id, hardware_hash, machine_name, activated_at, last_heartbeat,"
            " is_active) SELECT id, 'hw-1', '', now(), now(), TRUE FROM licenses WHERE license_key = :k",
            k=key,
        )
    before = pg_world.snapshot()
    statements.clear()

    assert assert_error(start_session(pg_api, key, "hw-1"), status, code)["error"] == message

    # The function locked nothing on an unusable license; the transaction found why.
    assert _start(statements) == [ONE_CALL, "BEGIN", LOCK, "ROLLBACK"]
    assert pg_world.snapshot() == before


@pytest.mark.parametrize("wanted", ["session.started", "session.ended"])
def test_while_a_session_event_is_wanted_the_transaction_writes_it_with_the_start(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog, wanted: str
) -> None:
    key, old = live_session(pg_world, pg_api)  # no endpoint yet: the one call
    assert statements.count(ONE_CALL) == 1 and events(pg_world) == []
    pg_world.age_session(old, SESSION_TIMEOUT + 30)
    subscribe(pg_world, wanted)  # in this process: its reading is dropped at once
    statements.clear()

    response = start_session(pg_api, key, "hw-1")

    assert response.status_code == 200, response.text
    assert statements.count(ONE_CALL) == 0
    assert _start(statements)[0] == "BEGIN" and _start(statements)[-1] == "COMMIT"
    [event] = events(pg_world, wanted)
    token = response.json()["session_token"] if wanted == "session.started" else old
    assert event["data"]["session_id"] == pg_world.scalar("SELECT id FROM sessions WHERE session_token = :t", t=token)
    # One transaction wrote the new session and the event: they carry the same transaction id.
    same = pg_world.scalar(
        "SELECT s.xmin = e.xmin FROM sessions s, webhook_events e WHERE s.session_token = :t AND e.event_id = :e",
        t=response.json()["session_token"],
        e=event["event_id"],
    )
    assert same is True


def test_a_deactivated_device_cannot_start_through_the_one_call(
    pg_world: TestWorld, pg_api: TestClient, statements: StatementLog
) -> None:
    key = activated_license(pg_world, pg_api, "hw-1", max_activations=2)
    assert activate(pg_api, key, "hw-2").status_code == 200
    pg_world.execute("UPDATE activations SET is_active = FALSE WHERE hardware_hash = 'hw-1'")
    statements.clear()

    assert_error(start_session(pg_api, key, "hw-1"), 403, "DEVICE_NOT_ACTIVATED")
    assert start_session(pg_api, key, "hw-2").status_code == 200
    assert _start(statements) == [ONE_CALL, "BEGIN", LOCK, CHECK, "ROLLBACK", ONE_CALL]
