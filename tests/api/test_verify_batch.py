"""Verifies and heartbeats of one event-loop turn share one statement on PostgreSQL
(api/batched_calls.py): each still gets exactly the answer it would have got alone, and only stale
or changed devices write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from licenseserver.api.state import ApiState
from licenseserver.db.sql import Row
from licenseserver.domain.licensing.schemas import VerifyRequest
from licenseserver.domain.licensing.session_schemas import SessionHeartbeatRequest
from licenseserver.kit.errors import AppError
from licenseserver.kit.turn_batch import Answer, Item, TurnBatch
from tests.api.helpers import activate, days, start_session
from tests.conftest import make_client
from tests.support.world import TestWorld


def _device(world: TestWorld, key: str, hardware_hash: str) -> dict[str, Any]:
    return world.rows(
        "SELECT a.last_heartbeat, a.app_version FROM activations a JOIN licenses l ON l.id = a.license_id"
        " WHERE l.license_key = :k AND a.hardware_hash = :h",
        k=key,
        h=hardware_hash,
    )[0]


def _set_device(world: TestWorld, key: str, hardware_hash: str, seconds_ago: int, version: str) -> None:
    world.execute(
        "UPDATE activations SET last_heartbeat = :t, app_version = :v WHERE hardware_hash = :h"
        " AND license_id = (SELECT id FROM licenses WHERE license_key = :k)",
        t=datetime.now(UTC) - timedelta(seconds=seconds_ago),
        v=version,
        h=hardware_hash,
        k=key,
    )


@contextlib.asynccontextmanager
async def opened_state(world: TestWorld) -> AsyncIterator[ApiState]:
    """What one API process holds, with its database open."""
    state = ApiState.build(world.settings())
    await state.db.open()
    try:
        yield state
    finally:
        await state.db.close()


def counting(batch: TurnBatch[Item, Answer], sizes: list[int]) -> TurnBatch[Item, Answer]:
    """The same batch, noting the size of each call it makes."""
    run = batch._run

    async def counted(items: list[Item]) -> Sequence[Answer]:
        sizes.append(len(items))
        return await run(items)

    return TurnBatch(counted)


def _outcome(checked: Row | AppError) -> str:
    return str(checked.code) if isinstance(checked, AppError) else f"valid {checked['license_key']}"


def test_one_turn_of_mixed_verifies_is_one_statement_with_every_answer_right(pg_world: TestWorld) -> None:
    world = pg_world
    usable, expired = world.license(max_activations=6), world.license(valid_until=days(30))
    with make_client(world) as api:
        for hardware_hash in ("fresh", "stale", "new-version", "no-version", "twice", "gone"):
            assert activate(api, usable, hardware_hash).status_code == 200
        assert activate(api, expired, "hw").status_code == 200
    world.execute("UPDATE licenses SET valid_until = :d WHERE license_key = :k", d=days(-1), k=expired)
    world.execute("UPDATE activations SET is_active = FALSE WHERE hardware_hash = 'gone'")
    _set_device(world, usable, "fresh", 5, "1.0.0")
    _set_device(world, usable, "stale", 120, "1.0.0")
    _set_device(world, usable, "new-version", 5, "1.0.0")
    _set_device(world, usable, "no-version", 120, "1.0.0")
    fresh_before = _device(world, usable, "fresh")["last_heartbeat"]
    asked = [
        (usable, "fresh", "1.0.0", f"valid {usable}"),
        (usable, "stale", "1.0.0", f"valid {usable}"),
        (usable, "new-version", "2.0.0", f"valid {usable}"),
        (usable, "no-version", None, f"valid {usable}"),
        (usable, "twice", "1.0.0", f"valid {usable}"),
        (usable, "twice", "1.0.0", f"valid {usable}"),
        (usable.lower(), "fresh", "1.0.0", f"valid {usable}"),
        (usable, "never-activated", "1.0.0", "DEVICE_NOT_ACTIVATED"),
        (usable, "gone", "1.0.0", "DEVICE_NOT_ACTIVATED"),
        (expired, "hw", "1.0.0", "LICENSE_EXPIRED"),
        ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", "fresh", "1.0.0", "LICENSE_NOT_FOUND"),
    ]
    batches: list[int] = []

    async def verify_all() -> list[str]:
        async with opened_state(world) as state:
            state.calls.verifies = counting(state.calls.verifies, batches)
            requests = [VerifyRequest(license_key=k, hardware_hash=h, app_version=v) for k, h, v, _ in asked]
            return [_outcome(c) for c in await asyncio.gather(*(state.calls.verify(r) for r in requests))]

    assert asyncio.run(verify_all()) == [expected for *_, expected in asked]
    assert batches == [len(asked)]
    assert _device(world, usable, "fresh")["last_heartbeat"] == fresh_before  # fresh: nothing written
    assert datetime.now(UTC) - _device(world, usable, "stale")["last_heartbeat"] < timedelta(seconds=30)
    assert _device(world, usable, "new-version")["app_version"] == "2.0.0"
    no_version = _device(world, usable, "no-version")
    assert no_version["app_version"] == "1.0.0"
    assert datetime.now(UTC) - no_version["last_heartbeat"] < timedelta(seconds=30)


def test_one_turn_of_mixed_heartbeats_is_one_statement_with_every_answer_right(pg_world: TestWorld) -> None:
    world = pg_world
    keys = [world.license() for _ in range(4)]
    with make_client(world) as api:
        tokens = []
        for key in keys:
            assert activate(api, key, "hw").status_code == 200
            started = start_session(api, key, "hw")
            assert started.status_code == 200, started.text
            tokens.append(started.json()["session_token"])
    live, ended, silent, other = zip(keys, tokens, strict=True)
    assert end_session_of(world, ended[1])
    world.execute(
        "UPDATE sessions SET last_heartbeat = :t WHERE session_token = :s",
        t=datetime.now(UTC) - timedelta(seconds=200),
        s=silent[1],
    )
    asked = [
        (live[1], live[0], True),
        (live[1], live[0], True),  # the same heartbeat twice in one turn: both answered
        (other[1], other[0], True),
        (live[1], other[0], False),  # a token with another license's key
        (ended[1], ended[0], False),
        (silent[1], silent[0], False),  # timed out: never revived by a late heartbeat
        ("no-such-token", live[0], False),
    ]
    batches: list[int] = []

    async def heartbeat_all() -> list[bool]:
        async with opened_state(world) as state:
            state.calls.heartbeats = counting(state.calls.heartbeats, batches)
            client = await state.clients.require()
            requests = [SessionHeartbeatRequest(session_token=t, license_key=k) for t, k, _ in asked]
            beats = (state.calls.heartbeat(client, r) for r in requests)
            answers = await asyncio.gather(*beats, return_exceptions=True)
        for answer in answers:
            assert isinstance(answer, dict) or (isinstance(answer, AppError) and answer.code == "SESSION_NOT_FOUND")
        return [isinstance(answer, dict) for answer in answers]

    assert asyncio.run(heartbeat_all()) == [ok for *_, ok in asked]
    assert batches == [len(asked)]
    last_heartbeat = world.scalar("SELECT last_heartbeat FROM sessions WHERE session_token = :s", s=silent[1])
    assert datetime.now(UTC) - last_heartbeat > timedelta(seconds=150)


def end_session_of(world: TestWorld, token: str) -> bool:
    world.execute(
        "UPDATE sessions SET ended_at = last_heartbeat, end_reason = 'normal' WHERE session_token = :s", s=token
    )
    return world.scalar("SELECT ended_at IS NOT NULL FROM sessions WHERE session_token = :s", s=token) is True
