"""The SQL layer's PostgreSQL pool (db/sql/pg_pool.py) against the real server: it never lends
more than its size, bounds the wait when all are out, and never lends a connection again that
may be unsound or that the server closed."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from licenseserver.db.sql.pg_pool import ConnectionPool
from tests.support.database import PG_ADMIN_URL

WAIT_SECONDS = 0.3


def new_pool(size: int) -> ConnectionPool:
    return ConnectionPool(lambda: asyncpg.connect(PG_ADMIN_URL), size, WAIT_SECONDS)


async def backend_pid(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


def test_lends_at_most_its_size_and_bounds_the_wait() -> None:
    async def scenario() -> None:
        pool = new_pool(2)
        first, second = await pool.acquire(), await pool.acquire()
        assert await backend_pid(first) != await backend_pid(second)
        with pytest.raises(TimeoutError):
            await pool.acquire()  # both out: refused after WAIT_SECONDS, not left hanging
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        pool.release(first, sound=True)
        assert await waiter is first  # the freed connection goes to the one waiting
        pool.release(second, sound=True)
        pool.release(first, sound=True)
        await pool.close()

    asyncio.run(scenario())


def test_an_unsound_or_server_closed_connection_is_never_lent_again() -> None:
    async def scenario() -> None:
        pool = new_pool(1)
        connection = await pool.acquire()
        pool.release(connection, sound=False)
        assert connection.is_closed()
        replacement = await pool.acquire()
        assert replacement is not connection
        victim = await backend_pid(replacement)
        pool.release(replacement, sound=True)
        killer = await asyncpg.connect(PG_ADMIN_URL)
        await killer.execute("SELECT pg_terminate_backend($1)", victim)
        await killer.close()
        await asyncio.sleep(0.2)  # the driver reads the server's goodbye
        fresh = await pool.acquire()
        assert await backend_pid(fresh) != victim
        pool.release(fresh, sound=True)
        await pool.close()

    asyncio.run(scenario())


def test_a_connection_left_in_a_transaction_is_not_lent_again() -> None:
    async def scenario() -> None:
        pool = new_pool(1)
        connection = await pool.acquire()
        await connection.execute("BEGIN")
        pool.release(connection, sound=True)
        again = await pool.acquire()
        assert again is not connection and not again.is_in_transaction()
        pool.release(again, sound=True)
        await pool.close()

    asyncio.run(scenario())
