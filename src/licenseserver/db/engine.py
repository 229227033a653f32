"""Synchronous SQLAlchemy engines for migrations, the CLI and other rare operations."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from licenseserver.db import sqlite_types  # noqa: F401  (registers the converters)
from licenseserver.db.urls import SQLITE_BUSY_TIMEOUT_MS, PoolLimits, normalize_url


def configure_sqlite_connection(dbapi_connection: Any) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes writers queue instead of
    # failing when the API, the panel and the CLI share one file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Every engine is made with hide_parameters: a database error's message would otherwise quote the
# statement's parameters (session tokens, password hashes, license keys) into the log.


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = normalize_url(database_url)
    if url.startswith("sqlite"):
        # Dates and times go through the sqlite3 converters and adapters of db.sqlite_types, so
        # the ORM and the SQL layer read and write one format.
        kwargs.setdefault("connect_args", {})["detect_types"] = sqlite3.PARSE_DECLTYPES
        engine = create_engine(url, native_datetime=True, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", lambda conn, _record: configure_sqlite_connection(conn))
        return engine
    # libpq counts whole seconds; the migrations and CLI commands wait no longer than the API.
    connect_timeout = max(2, math.ceil(PoolLimits().connect_timeout_seconds))
    kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", connect_timeout)
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_url(database_url: str) -> str:
    url = normalize_url(database_url)
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return "sqlite+aiosqlite://" + url.split("://", 1)[1]


def make_async_engine(database_url: str, limits: PoolLimits | None = None, **kwargs: Any) -> AsyncEngine:
    """The admin panel's engine. On PostgreSQL a connection is pinged before use (pool_pre_ping),
    so the ones a database restart broke are replaced instead of failing a request. On SQLite every
    transaction starts with BEGIN IMMEDIATE: it takes the write lock up front, so it waits for the
    API's writers instead of failing midway."""
    url = async_url(database_url)
    if not url.startswith("sqlite"):
        limits = limits or PoolLimits()
        return create_async_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            pool_size=limits.size,
            max_overflow=limits.max_overflow,
            pool_timeout=limits.timeout_seconds,
            connect_args={
                "timeout": limits.connect_timeout_seconds,
                "command_timeout": limits.statement_timeout_seconds,
            },
            **kwargs,
        )
    connect_args = {"detect_types": sqlite3.PARSE_DECLTYPES, "isolation_level": None}
    engine = create_async_engine(url, native_datetime=True, hide_parameters=True, connect_args=connect_args, **kwargs)
    event.listen(engine.sync_engine, "connect", lambda conn, _record: configure_sqlite_connection(conn))
    event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine
