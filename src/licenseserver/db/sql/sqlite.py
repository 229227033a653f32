"""SQLite through aiosqlite: one connection per process, used by one task at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from licenseserver.db import sqlite_types  # noqa: F401  (registers the converters)
from licenseserver.db.sql.query import Connection, Database, Query, Row
from licenseserver.db.urls import SQLITE_BUSY_TIMEOUT_MS, sqlite_path


def _column_names(cursor: aiosqlite.Cursor | sqlite3.Cursor) -> list[str]:
    # From the description, not a row factory, so any aiosqlite connection can be wrapped.
    return [column[0] for column in cursor.description or ()]


# The column names of each statement's result, learnt on its first run. A statement's columns
# are fixed by its text and the schema (which changes only between runs of the process), so
# later runs take one trip to aiosqlite's thread (execute and fetch together) instead of three
# (execute, fetch, close the cursor): most of SQLite's cost per verify (docs/performance.md).
_NAMES: dict[str, list[str]] = {}


class SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def _rows(self, query: Query, args: tuple[Any, ...]) -> tuple[list[str], Sequence[Any]]:
        sql = query.render(self.dialect)
        names = _NAMES.get(sql)
        if names is not None:
            return names, list(await self.raw.execute_fetchall(sql, args))
        async with self.raw.execute(sql, args) as cursor:
            rows = list(await cursor.fetchall())
            names = _NAMES[sql] = _column_names(cursor)
        return names, rows

    async def fetchrow(self, query: Query, *args: Any) -> Row | None:
        names, rows = await self._rows(query, args)
        return dict(zip(names, rows[0], strict=True)) if rows else None

    async def fetch(self, query: Query, *args: Any) -> Sequence[Row]:
        names, rows = await self._rows(query, args)
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def execute(self, query: Query, *args: Any) -> None:
        await self.raw.execute(query.render(self.dialect), args)

    async def execute_many(self, query: Query, rows: Sequence[tuple[Any, ...]]) -> None:
        # One trip to the thread for every row; outside a transaction each row commits on its own.
        await self.raw.executemany(query.render(self.dialect), rows)


class SqliteAutocommitConnection(SqliteConnection):
    """Outside a transaction a SELECT reads through `reader`, a second connection the event loop
    uses directly: in WAL mode a reader never waits for a writer, and a short indexed read costs
    far less than the trip to aiosqlite's thread and back (docs/performance.md). Writes, and a
    read the reader cannot take at once (a rare SQLITE_BUSY during a checkpoint), go through the
    thread, so the loop never waits on a lock.

    Only what goes through the thread takes the database's lock, one statement at a time (each
    commits on its own): a verify that only reads never queues behind another request's write, a
    commit's checkpoint or an open transaction (bench/run_bench.py, "verify (SQLite)": the stale
    verifies' writes held every read behind them)."""

    def __init__(self, raw: aiosqlite.Connection, reader: sqlite3.Connection, lock: asyncio.Lock) -> None:
        super().__init__(raw)
        self.reader = reader
        self.lock = lock

    async def _rows(self, query: Query, args: tuple[Any, ...]) -> tuple[list[str], Sequence[Any]]:
        sql = query.render(self.dialect)
        if sql.startswith("SELECT"):
            try:
                cursor = self.reader.execute(sql, args)
                try:
                    return _column_names(cursor), cursor.fetchall()
                finally:
                    cursor.close()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
        async with self.lock:
            return await super()._rows(query, args)

    async def execute(self, query: Query, *args: Any) -> None:
        async with self.lock:
            await super().execute(query, *args)

    async def execute_many(self, query: Query, rows: Sequence[tuple[Any, ...]]) -> None:
        async with self.lock:
            await super().execute_many(query, rows)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    # The extended codes (SQLITE_BUSY_SNAPSHOT, ...) carry the primary one in their low byte.
    return (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteDatabase(Database):
    """One connection, used by one task at a time (a transaction holds the lock throughout, an
    autocommit statement while it runs): SQLite runs one writer per file anyway."""

    dialect = "sqlite"

    def __init__(self, database_url: str) -> None:
        self._path = sqlite_path(database_url)
        self._raw: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
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
        # After the writer switched the file to WAL. timeout=0: a busy read goes to the thread.
        reader = sqlite3.connect(
            self._path, check_same_thread=False, detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None, timeout=0
        )
        reader.execute("PRAGMA query_only=ON")
        self._reader = reader

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._raw is not None:
            await self._raw.close()
            self._raw = None

    @property
    def raw(self) -> aiosqlite.Connection:
        if self._raw is None:
            raise RuntimeError("database is not open")
        return self._raw

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        # No lock here: the connection takes it for each statement that goes to the thread.
        if self._reader is None:
            raise RuntimeError("database is not open")
        yield SqliteAutocommitConnection(self.raw, self._reader, self._lock)

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
