"""The lean database path used by the License API and every rule that must hold under load.

`bench/run_bench.py` showed the SQLAlchemy async layer costing about 3x on verify and heartbeat,
so the services that enforce license rules talk to the drivers directly: asyncpg (prepared
statements, one round trip) on PostgreSQL and aiosqlite on SQLite. Queries are written once in
portable SQL with `$1`-style parameters and two tokens the dialects spell differently:
`{now}` (the database clock) and `{ago $n}` (the database clock minus `$n` seconds).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import aiosqlite
import asyncpg

from licenseserver.db.engine import SQLITE_BUSY_TIMEOUT_MS, PoolLimits, asyncpg_dsn, sqlite_path

Row = Mapping[str, Any]

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
_DIALECT_TOKENS = {
    "postgresql": {"now": "now()", "ago": "(now() - make_interval(secs => {param}::float8))"},
    "sqlite": {"now": _SQLITE_NOW, "ago": "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || {param} || ' seconds')"},
}


class Query:
    """One portable SQL statement, rendered once per dialect."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, dialect: str) -> str:
        return _render(self.text, dialect)


@cache
def _render(text: str, dialect: str) -> str:
    tokens = _DIALECT_TOKENS[dialect]
    sql = text.replace("{now}", tokens["now"])
    sql = re.sub(r"\{ago (\$\d+)\}", lambda m: tokens["ago"].format(param=m.group(1)), sql)
    if dialect == "sqlite":
        sql = re.sub(r"\$(\d+)", r"?\1", sql)
        # SQLite has no row locks: its write transactions (BEGIN IMMEDIATE) are already exclusive.
        sql = sql.replace(" FOR UPDATE", "")
    return sql


class Connection(ABC):
    dialect: str

    @abstractmethod
    async def fetchrow(self, query: Query, *args: Any) -> Row | None: ...

    @abstractmethod
    async def fetch(self, query: Query, *args: Any) -> Sequence[Row]: ...

    @abstractmethod
    async def execute(self, query: Query, *args: Any) -> None: ...

    async def fetchval(self, query: Query, *args: Any) -> Any:
        row = await self.fetchrow(query, *args)
        return None if row is None else next(iter(row.values()))


class Database(ABC):
    """A pool of connections; `reading()` for single statements, `transaction()` for rules."""

    dialect: str

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def reading(self) -> Any: ...

    @abstractmethod
    def transaction(self) -> Any: ...


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
    async def reading(self) -> AsyncIterator[Connection]:
        async with self._borrowed() as raw:
            yield PgConnection(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._borrowed() as raw, raw.transaction():
            yield PgConnection(raw)


def _utc_datetime(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC)


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # the format SQLAlchemy stores, so both agree


# Converters apply only to connections opened with detect_types, i.e. ours, not SQLAlchemy's.
sqlite3.register_converter("TIMESTAMP", _utc_datetime)
sqlite3.register_converter("DATETIME", _utc_datetime)
sqlite3.register_converter("DATE", lambda raw: date.fromisoformat(raw.decode()))
sqlite3.register_converter("BOOLEAN", lambda raw: raw not in (b"0", b""))
sqlite3.register_adapter(datetime, _sqlite_datetime)
sqlite3.register_adapter(date, date.isoformat)


def _column_names(cursor: aiosqlite.Cursor) -> list[str]:
    # From the description, not a row factory, so any aiosqlite connection can be wrapped.
    return [column[0] for column in cursor.description or ()]


class SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def fetchrow(self, query: Query, *args: Any) -> Row | None:
        async with self.raw.execute(query.render(self.dialect), args) as cursor:
            row = await cursor.fetchone()
            names = _column_names(cursor)
        return None if row is None else dict(zip(names, row, strict=True))

    async def fetch(self, query: Query, *args: Any) -> Sequence[Row]:
        async with self.raw.execute(query.render(self.dialect), args) as cursor:
            rows = await cursor.fetchall()
            names = _column_names(cursor)
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def execute(self, query: Query, *args: Any) -> None:
        await self.raw.execute(query.render(self.dialect), args)


class SqliteDatabase(Database):
    """One connection, used by one task at a time: SQLite runs one writer per file anyway."""

    dialect = "sqlite"

    def __init__(self, database_url: str) -> None:
        self._path = sqlite_path(database_url)
        self._raw: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        raw = await aiosqlite.connect(
            self._path,
            detect_types=sqlite3.PARSE_DECLTYPES,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        )
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            await raw.execute(f"PRAGMA {pragma}")
        self._raw = raw

    async def close(self) -> None:
        if self._raw is not None:
            await self._raw.close()
            self._raw = None

    @property
    def raw(self) -> aiosqlite.Connection:
        if self._raw is None:
            raise RuntimeError("database is not open")
        return self._raw

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connection]:
        async with self._lock:
            yield SqliteConnection(self.raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            raw = self.raw
            await raw.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteConnection(raw)
            except BaseException:
                await raw.execute("ROLLBACK")
                raise
            await raw.execute("COMMIT")


def open_database(database_url: str, limits: PoolLimits | None = None, pool_size: int | None = None) -> Database:
    """The lean path's database; `pool_size` overrides the size in `limits` (PostgreSQL only)."""
    if database_url.startswith("sqlite"):
        return SqliteDatabase(database_url)
    limits = limits or PoolLimits()
    if pool_size is not None:
        limits = replace(limits, size=pool_size)
    return PostgresDatabase(database_url, limits)


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
