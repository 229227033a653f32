"""On SQLite the stale devices' refreshes of one event-loop turn cross to aiosqlite's thread once
(api/batched_calls.py), and a verify that only reads never waits for the database's lock
(db/sql/sqlite.py): each still answers exactly as alone, and writes what it must."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from licenseserver.db.sql import Query, Row, SqliteDatabase
from licenseserver.domain.licensing.schemas import VerifyRequest
from tests.api.helpers import activate
from tests.api.test_verify_batch import _device, _set_device, counting, opened_state
from tests.conftest import make_client
from tests.support.world import TestWorld

LICENSE_TOUCH = Query("UPDATE licenses SET max_users = max_users WHERE license_key = $1")
LICENSE_READ = Query("SELECT license_key FROM licenses WHERE license_key = $1")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_stale_verifies_of_one_turn_refresh_in_one_call(world: TestWorld) -> None:
    key = world.license(max_activations=5)
    devices = ("stale-1", "stale-2", "new-version", "fresh")
    with make_client(world) as api:
        for hardware_hash in devices:
            assert activate(api, key, hardware_hash).status_code == 200
    for hardware_hash in ("stale-1", "stale-2"):
        _set_device(world, key, hardware_hash, 120, "1.0.0")
    _set_device(world, key, "new-version", 5, "1.0.0")
    _set_device(world, key, "fresh", 5, "1.0.0")
    fresh_before = _device(world, key, "fresh")["last_heartbeat"]
    versions = {"stale-1": "1.0.0", "stale-2": "1.0.0", "new-version": "2.0.0", "fresh": "1.0.0"}
    batches: list[int] = []

    async def verify_all() -> list[bool]:
        async with opened_state(world) as state:
            state.calls.refreshes = counting(state.calls.refreshes, batches)
            asked = [VerifyRequest(license_key=key, hardware_hash=h, app_version=v) for h, v in versions.items()]
            answers = await asyncio.gather(*(state.calls.verify(r) for r in asked))
        return [not isinstance(a, Exception) and a["license_key"] == key for a in answers]

    assert asyncio.run(verify_all()) == [True] * 4
    assert batches == [3]  # the two stale devices and the changed version; the fresh one reads only
    for hardware_hash in ("stale-1", "stale-2"):
        assert datetime.now(UTC) - _device(world, key, hardware_hash)["last_heartbeat"] < timedelta(seconds=30)
    assert _device(world, key, "new-version")["app_version"] == "2.0.0"
    assert _device(world, key, "fresh")["last_heartbeat"] == fresh_before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_read_does_not_wait_for_an_open_transaction(world: TestWorld) -> None:
    key = world.license()

    async def read_while_a_transaction_is_open() -> str:
        db = SqliteDatabase(world.database_url)

        async def read() -> Row | None:
            async with db.autocommit() as reading:
                return await reading.fetchrow(LICENSE_READ, key)

        await db.open()
        try:
            async with db.transaction() as writing:
                await writing.execute(LICENSE_TOUCH, key)
                row = await asyncio.wait_for(read(), timeout=2)  # while the transaction holds the lock
        finally:
            await db.close()
        assert row is not None
        return str(row["license_key"])

    assert asyncio.run(read_while_a_transaction_is_open()) == key
