"""The SQL layer: the License API's only database access, and every write of a license rule.

`bench/run_bench.py` showed the SQLAlchemy async layer costing about 3x on verify and heartbeat,
so the services that enforce license rules talk to the drivers directly: asyncpg (prepared
statements, one round trip) on PostgreSQL and aiosqlite on SQLite. Queries are written once in
portable SQL with `$1`-style parameters and two tokens the dialects spell differently:
`{now}` (the database clock) and `{ago $n}` (the database clock minus `$n` seconds).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import asyncpg

from licenseserver.db.sql.postgres import DATABASE_UNAVAILABLE, PgConnection, PostgresDatabase
from licenseserver.db.sql.query import Connection, Database, Query, Row
from licenseserver.db.sql.sqlite import SqliteConnection, SqliteDatabase
from licenseserver.db.urls import PoolLimits

# A write that a unique index refused because a concurrent transaction wrote the same row first.
DUPLICATE_ROW: tuple[type[Exception], ...] = (asyncpg.UniqueViolationError, sqlite3.IntegrityError)

__all__ = [
    "DATABASE_UNAVAILABLE",
    "DUPLICATE_ROW",
    "Connection",
    "Database",
    "PgConnection",
    "PostgresDatabase",
    "Query",
    "Row",
    "SqliteConnection",
    "SqliteDatabase",
    "open_database",
]


def open_database(database_url: str, limits: PoolLimits | None = None, pool_size: int | None = None) -> Database:
    """The SQL layer's database; `pool_size` overrides the size in `limits` (PostgreSQL only)."""
    if database_url.startswith("sqlite"):
        return SqliteDatabase(database_url)
    limits = limits or PoolLimits()
    if pool_size is not None:
        limits = replace(limits, size=pool_size)
    return PostgresDatabase(database_url, limits)
