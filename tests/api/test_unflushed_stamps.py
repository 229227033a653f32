"""Freshness stamps commit without waiting for the WAL flush; everything else stays durable
(db/sql/query.py, Database.autocommit_unflushed; docs/performance.md, "Verify's tail and the
durable writes"). On the real PostgreSQL: the setting each kind of connection runs with, and
which pool the batched verify and heartbeat borrow from."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from licenseserver.db.sql import Query, open_database
from licenseserver.db.sql.postgres import PostgresDatabase
from licenseserver.domain.licensing.schemas import VerifyRequest
from licenseserver.domain.licensing.session_schemas import SessionHeartbeatRequest
from tests.api.helpers import activate, start_session
from tests.api.test_verify_batch import opened_state
from tests.conftest import make_client
from tests.support.world import TestWorld

SYNCHRONOUS_COMMIT = Query("SELECT current_setting('synchronous_commit') AS setting")


def test_only_the_stamp_connections_commit_without_a_flush(pg_world: TestWorld) -> None:
    async def settings() -> dict[str, str]:
        db = open_database(pg_world.database_url)
        await db.open()
        try:
            async with db.autocommit_unflushed() as conn:
                unflushed = await conn.fetchval(SYNCHRONOUS_COMMIT)
            async with db.autocommit() as conn:
                autocommit = await conn.fetchval(SYNCHRONOUS_COMMIT)
            async with db.transaction() as conn:
                transaction = await conn.fetchval(SYNCHRONOUS_COMMIT)
            # The pools stay apart: a stamp connection is never lent for a durable write.
            async with db.autocommit_unflushed() as conn:
                again = await conn.fetchval(SYNCHRONOUS_COMMIT)
            async with db.autocommit() as conn:
                durable_again = await conn.fetchval(SYNCHRONOUS_COMMIT)
        finally:
            await db.close()
        return {
            "unflushed": unflushed,
            "autocommit": autocommit,
            "transaction": transaction,
            "again": again,
            "durable again": durable_again,
        }

    assert asyncio.run(settings()) == {
        "unflushed": "off",
        "autocommit": "on",
        "transaction": "on",
        "again": "off",
        "durable again": "on",
    }


def test_batched_verify_and_heartbeat_write_through_the_stamp_pool_only(pg_world: TestWorld) -> None:
    world = pg_world
    key = world.license()
    with make_client(world) as api:
        assert activate(api, key, "hw").status_code == 200
        started = start_session(api, key, "hw")
        assert started.status_code == 200, started.text
    token = started.json()["session_token"]
    long_ago = datetime.now(UTC) - timedelta(seconds=300)
    world.execute("UPDATE activations SET last_heartbeat = :t WHERE hardware_hash = 'hw'", t=long_ago)

    async def verify_and_beat() -> tuple[int, int]:
        async with opened_state(world) as state:
            db = state.db
            assert isinstance(db, PostgresDatabase)
            client = await state.clients.require()  # its read borrows from the durable pool
            # Held out while the stamps are written: a stamp borrowed from the durable pool would
            # have to open a second connection there.
            async with db.autocommit():
                verify = VerifyRequest(license_key=key, hardware_hash="hw", app_version="1.0.0")
                assert await state.calls.verify(verify) is not None
                await state.calls.heartbeat(client, SessionHeartbeatRequest(session_token=token, license_key=key))
                return db.pool.opened, db.stamp_pool.opened

    assert asyncio.run(verify_and_beat()) == (1, 1)
    refreshed = world.scalar("SELECT last_heartbeat FROM activations WHERE hardware_hash = 'hw'")
    assert datetime.now(UTC) - refreshed < timedelta(seconds=30)  # the stale device was written
