"""PostgreSQL through asyncpg: prepared statements, one round trip per statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from licenseserver.db.sql.query import Connection, Database, Query, Row
from licenseserver.db.urls import PoolLimits, asyncpg_dsn


class PgConnection(Connection):
    dialect = "postgresql"

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetchrow(self, query: Query, *args: Any) -> Row | None:
        return await self.raw.fetchrow(query.render(self.dialect), *args)  # type: ignore[no-any-return]

    async def fetch(self, query: Query, *args: Any) -> Sequence[Row]:
        return await self.raw.fetch(query.render(self.dialect), *args)  # type: ignore[no-any-return]

    async def execute(self, query: Query, *args: Any) -> None:
        await self.raw.execute(query.render(self.dialect), *args)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (an extra round trip per request: ~25 % of the
    database's CPU on verify, docs/performance.md). We never change session state outside a
    transaction, and asyncpg still rolls back an open transaction on release."""


class PostgresDatabase(Database):
    """asyncpg's pool: a connection that a database restart closed is noticed by the driver and
    replaced by a new one on its next acquire, so the pool recovers without a process restart
    (tests/faults/test_postgres_restart.py). No ping per request: the hot path keeps one round trip."""

    dialect = "postgresql"

    def __init__(self, database_url: str, limits: PoolLimits) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._limits = limits
        self._pool: asyncpg.Pool | None = None
        self._users = 0  # tasks holding or waiting for a connection

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            # min_size=0: the process starts (and /health answers 503) while the database is away.
            self._dsn,
            min_size=0,
            max_size=self._limits.size,
            timeout=self._limits.connect_timeout_seconds,
            command_timeout=self._limits.statement_timeout_seconds,
            reset=_keep_session,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database pool is not open")
        return self._pool

    async def _acquire(self) -> asyncpg.Connection:
        """A connection of the pool. While a slot is free this waits at most for a connect
        (bounded by its own timeout); only when every slot is taken is the wait bounded here,
        so the common case skips a timer per request (~4 µs of CPU, bench/run_bench.py)."""
        self._users += 1
        try:
            if self._users <= self._limits.size:
                return await self.pool.acquire()
            async with asyncio.timeout(self._limits.timeout_seconds):
                return await self.pool.acquire()
        except BaseException:
            self._users -= 1
            raise

    async def _release(self, raw: asyncpg.Connection, failed: BaseException | None) -> None:
        try:
            if isinstance(failed, DATABASE_UNAVAILABLE):
                raw.terminate()  # never handed out again: the pool opens a fresh one in its place
            await self.pool.release(raw)
        finally:
            self._users -= 1

    @asynccontextmanager
    async def _borrowed(self) -> AsyncIterator[asyncpg.Connection]:
        """A pool connection, handed back with what went wrong (if anything) while it was out."""
        raw = await self._acquire()
        failed: BaseException | None = None
        try:
            yield raw
        except BaseException as exc:
            failed = exc
            raise
        finally:
            await self._release(raw, failed)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        async with self._borrowed() as raw:
            yield PgConnection(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._borrowed() as raw, raw.transaction():
            yield PgConnection(raw)


# Errors that mean "the database cannot be reached right now", not "this request is wrong":
# refused or timed-out connections, connections the server closed (a restart ends every session
# with AdminShutdownError), a server still starting up, or every connection slot taken. A
# connection the server dropped mid-protocol can also surface as InternalClientError ("another
# operation is in progress"), seen in tests/faults/test_postgres_restart.py.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)
