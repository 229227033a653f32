"""PostgreSQL through asyncpg: prepared statements, one round trip per statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from licenseserver.db.sql.pg_pool import ConnectionPool
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

    async def execute_many(self, query: Query, rows: Sequence[tuple[Any, ...]]) -> None:
        await self.raw.executemany(query.render(self.dialect), rows)


# The connections that write freshness stamps only: their commits do not wait for the WAL flush.
STAMP_SETTINGS = {"synchronous_commit": "off"}


class PostgresDatabase(Database):
    """A pool of asyncpg connections (db/sql/pg_pool.py): a connection that a database restart
    closed is noticed by the driver and never lent again, and the pool opens a fresh one in its
    place, so it recovers without a process restart (tests/faults/test_postgres_restart.py). No
    ping and no reset query per loan: the hot path keeps one round trip. We never change session
    state outside a transaction, and a connection still in one is never lent again.

    Beside it, a small pool for `autocommit_unflushed()`: connections opened with
    synchronous_commit off (STAMP_SETTINGS), so the setting costs no statement per request. Its
    size is DB_MAX_OVERFLOW, the share of the per-process budget (docs/deployment.md) the SQL
    layer's own pool never takes, so a process still holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW."""

    dialect = "postgresql"

    def __init__(self, database_url: str, limits: PoolLimits) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._limits = limits
        self._pool: ConnectionPool | None = None
        self._stamp_pool: ConnectionPool | None = None

    async def open(self) -> None:
        # No connection yet: the process starts (and /health answers 503) while the database is away.
        wait = self._limits.timeout_seconds
        self._pool = ConnectionPool(self._connect, self._limits.size, wait)
        self._stamp_pool = ConnectionPool(self._connect_stamping, max(1, self._limits.max_overflow), wait)

    async def _connect(self, settings: dict[str, str] | None = None) -> asyncpg.Connection:
        return await asyncpg.connect(
            self._dsn,
            timeout=self._limits.connect_timeout_seconds,
            command_timeout=self._limits.statement_timeout_seconds,
            server_settings=settings,
        )

    async def _connect_stamping(self) -> asyncpg.Connection:
        return await self._connect(STAMP_SETTINGS)

    async def close(self) -> None:
        for pool in (self._pool, self._stamp_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._stamp_pool = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise RuntimeError("database pool is not open")
        return self._pool

    @property
    def stamp_pool(self) -> ConnectionPool:
        if self._stamp_pool is None:
            raise RuntimeError("database pool is not open")
        return self._stamp_pool

    @asynccontextmanager
    async def _borrowed(self, pool: ConnectionPool | None = None) -> AsyncIterator[asyncpg.Connection]:
        """A pool connection, handed back sound unless what went wrong while it was out may have
        left it mid-protocol (a cancellation, a timeout, a lost server)."""
        pool = pool or self.pool
        raw = await pool.acquire()
        sound = True
        try:
            yield raw
        except BaseException as exc:
            sound = isinstance(exc, Exception) and not isinstance(exc, DATABASE_UNAVAILABLE)
            raise
        finally:
            pool.release(raw, sound)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        async with self._borrowed() as raw:
            yield PgConnection(raw)

    @asynccontextmanager
    async def autocommit_unflushed(self) -> AsyncIterator[Connection]:
        async with self._borrowed(self.stamp_pool) as raw:
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
