"""The periodic sweep ends timed-out sessions in the history, and only those."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from licenseserver.db.sql import open_database
from licenseserver.domain.clients.service import ClientCache
from licenseserver.domain.licensing.sessions import count_live_sessions, sweep_timed_out_sessions
from tests.support.world import TestWorld


def _start_session(api: TestClient, world: TestWorld, hardware_hash: str) -> str:
    key = world.license()
    activation = {"license_key": key, "hardware_hash": hardware_hash}
    assert api.post("/api/license/activate", json=activation).status_code == 200
    started = api.post("/api/license/session/start", json={**activation, "version": "1.0.0"})
    assert started.status_code == 200
    return str(started.json()["session_token"])


def _sweep_and_count(database_url: str) -> tuple[int, int]:
    async def run() -> tuple[int, int]:
        db = open_database(database_url)
        await db.open()
        try:
            client = await ClientCache(db, ttl_seconds=0).require()
            async with db.autocommit() as conn:
                return await sweep_timed_out_sessions(conn, client), await count_live_sessions(conn, client)
        finally:
            await db.close()

    return asyncio.run(run())


def test_sweep_ends_only_timed_out_sessions(world: TestWorld, api: TestClient) -> None:
    silent = _start_session(api, world, "hw-silent")
    alive = _start_session(api, world, "hw-alive")
    world.age_session(silent, 91)  # the seeded client times out after 90 s

    ended, live = _sweep_and_count(world.database_url)

    assert (ended, live) == (1, 1)
    states = {r["session_token"]: r for r in world.rows("SELECT session_token, ended_at, end_reason FROM sessions")}
    assert states[silent]["end_reason"] == "timeout"
    assert states[silent]["ended_at"] is not None
    assert states[alive]["ended_at"] is None
    assert _sweep_and_count(world.database_url) == (0, 1)  # a second sweep finds nothing more
