"""Synchronous SQLAlchemy engines for migrations, the CLI and other rare operations."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(database_url: str) -> str:
    """A PostgreSQL URL as operators write it (`postgres://`, `postgresql://`, or with any driver
    named), with the driver this module uses; SQLite URLs with their driver part dropped."""
    scheme, rest = database_url.split("://", 1)
    if scheme.split("+", 1)[0] in {"postgres", "postgresql"}:
        return "postgresql+psycopg://" + rest
    return "sqlite://" + rest


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq-style DSN asyncpg understands."""
    url = normalize_url(database_url)
    return "postgresql://" + url.split("://", 1)[1]


def sqlite_path(database_url: str) -> str:
    """The file path of a `sqlite:///path` URL (`sqlite:////abs/path` for absolute paths)."""
    return database_url.split(":///", 1)[1].split("?", 1)[0]


def configure_sqlite_connection(dbapi_connection: Any) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes writers queue instead of
    # failing when the API, the panel and the CLI share one file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = normalize_url(database_url)
    if url.startswith("sqlite"):
        # Dates and times go through the sqlite3 converters and adapters that db.fastpath
        # registers, so the ORM and the lean path read and write one format.
        from licenseserver.db import fastpath  # noqa: F401  (registers the converters)

        kwargs.setdefault("connect_args", {})["detect_types"] = sqlite3.PARSE_DECLTYPES
        engine = create_engine(url, native_datetime=True, **kwargs)
        event.listen(engine, "connect", lambda conn, _record: configure_sqlite_connection(conn))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_url(database_url: str) -> str:
    url = normalize_url(database_url)
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return "sqlite+aiosqlite://" + url.split("://", 1)[1]


def make_async_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """The admin panel's engine. On SQLite every transaction starts with BEGIN IMMEDIATE: it
    takes the write lock up front, so it waits for the API's writers instead of failing midway."""
    url = async_url(database_url)
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    from licenseserver.db import fastpath  # noqa: F401  (registers the converters)

    connect_args = {"detect_types": sqlite3.PARSE_DECLTYPES, "isolation_level": None}
    engine = create_async_engine(url, native_datetime=True, connect_args=connect_args, **kwargs)
    event.listen(engine.sync_engine, "connect", lambda conn, _record: configure_sqlite_connection(conn))
    event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine
