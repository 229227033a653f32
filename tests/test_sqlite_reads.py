"""SQLite reads outside a transaction go through a second connection on the event loop
(db/sql/sqlite.py): they see every committed write at once, with the column types the thread's
connection gives."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from licenseserver.db.sql import Query, SqliteDatabase

CREATE = Query("CREATE TABLE notes (id INTEGER PRIMARY KEY, due DATE, body TEXT)")
INSERT = Query("INSERT INTO notes (due, body) VALUES ($1, $2)")
READ = Query("SELECT id, due, body FROM notes ORDER BY id")


def test_reads_see_committed_writes_with_their_types(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = SqliteDatabase(f"sqlite:///{tmp_path / 'notes.db'}")
        await db.open()
        try:
            async with db.autocommit() as conn:
                await conn.execute(CREATE)
                await conn.execute(INSERT, date(2026, 11, 29), "erste")
                assert await conn.fetch(READ) == [{"id": 1, "due": date(2026, 11, 29), "body": "erste"}]
            async with db.transaction() as conn:
                await conn.execute(INSERT, date(2026, 12, 1), "zweite")
            async with db.autocommit() as conn:
                assert [row["body"] for row in await conn.fetch(READ)] == ["erste", "zweite"]
        finally:
            await db.close()

    asyncio.run(scenario())
