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
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import aiosqlite
import asyncpg

from licenseserver.db.engine import SQLITE_BUSY_TIMEOUT_MS, asyncpg_dsn, sqlite_path

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
    dialect = "postgresql"

    def __init__(self, database_url: str, pool_size: int = 10) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            # min_size=0: the process starts (and /health answers 503) while the database is away.
            self._dsn,
            min_size=0,
            max_size=self._pool_size,
            command_timeout=30,
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

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as raw:
            yield PgConnection(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as raw, raw.transaction():
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


def open_database(database_url: str, pool_size: int = 10) -> Database:
    if database_url.startswith("sqlite"):
        return SqliteDatabase(database_url)
    return PostgresDatabase(database_url, pool_size)
