"""The SQLite database of the "verify (SQLite)" scenario: a file migrated by the project's own
installation code (as `licenseserver migrate` does on the embedded default), then filled with a
copy of the rows bench/seed.py put in PostgreSQL, so both databases hold the same licenses, keys
and devices and the scenario reuses the verify pool.

The copy goes row by row through sqlite3 with the project's own adapters (licenseserver's
`db.sqlite_types`), so dates and times are stored in the form the API reads back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

import seed
from licenseserver.config import Settings
from licenseserver.db import sqlite_types  # noqa: F401  (registers the datetime/date adapters)
from licenseserver.domain.installation import prepare_installation

# Only what the verify path reads; sessions history would only make the copy slower.
TABLES = ("customers", "licenses", "activations")
BATCH_ROWS = 20_000


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def create(postgres_url: str, path: Path) -> str:
    """Migrate a fresh SQLite file at `path`, copy the seeded rows into it; its system API key."""
    path.unlink(missing_ok=True)
    api_key = str(prepare_installation(Settings(database_url=sqlite_url(path))))
    target = sqlite3.connect(path)
    try:
        with seed.connect(postgres_url) as source:
            for table in TABLES:
                _copy_table(source, target, table)
        target.execute("UPDATE rate_limit_settings SET api_per_minute = ? WHERE id = 1", (seed.BENCH_API_PER_MINUTE,))
        target.commit()
        # What the planner would know on a long-lived installation, as VACUUM ANALYZE does on PostgreSQL.
        target.execute("ANALYZE")
        target.commit()
    finally:
        target.close()
    return api_key


# SQLite's form of seed.SEEN_JUST_NOW / SEEN_YESTERDAY, in the text form the API stores.
_SEEN = {False: "strftime('%Y-%m-%d %H:%M:%f000', 'now')", True: "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 day')"}


def set_verify_devices_seen(path: Path, scale: seed.Scale, stale: bool) -> None:
    """seed.set_verify_devices_seen on the SQLite copy (the same license ids)."""
    pool = seed.pools(scale)["verify"]
    target = sqlite3.connect(path, timeout=30)
    try:
        target.execute(
            f"UPDATE activations SET last_heartbeat = {_SEEN[stale]} WHERE license_id BETWEEN ? AND ?",
            (pool.first, pool.last),
        )
        target.commit()
    finally:
        target.close()


def sqlite_now(path: Path) -> str:
    target = sqlite3.connect(path, timeout=30)
    try:
        return str(target.execute(f"SELECT {_SEEN[False]}").fetchone()[0])
    finally:
        target.close()


def verify_devices_written_since(path: Path, scale: seed.Scale, since: str) -> int:
    pool = seed.pools(scale)["verify"]
    target = sqlite3.connect(path, timeout=30)
    try:
        row = target.execute(
            "SELECT count(*) FROM activations WHERE license_id BETWEEN ? AND ? AND last_heartbeat >= ?",
            (pool.first, pool.last, since),
        ).fetchone()
    finally:
        target.close()
    return int(row[0])


def _copy_table(source: psycopg.Connection[tuple[Any, ...]], target: sqlite3.Connection, table: str) -> None:
    wanted = [row[1] for row in target.execute(f"PRAGMA table_info({table})")]
    cursor = source.execute(f"SELECT * FROM {table} LIMIT 0")
    present = [column.name for column in cursor.description or []]
    columns = [name for name in wanted if name in present]
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    # A server-side cursor (which needs a transaction): the activations do not all fit in memory at once.
    with source.transaction(), source.cursor(name=f"copy_{table}") as rows:
        rows.execute(f"SELECT {names} FROM {table} ORDER BY id")
        while batch := rows.fetchmany(BATCH_ROWS):
            target.executemany(insert, batch)
    target.commit()
