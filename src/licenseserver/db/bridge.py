"""Running the lean-path rules inside an ORM transaction.

Staff actions in the panel (register a device, end a session) must obey the very functions the
License API calls. Those take a `fastpath.Connection`; this module wraps the driver connection
under an `AsyncSession`, so the rule and the panel's audit entry commit or roll back together.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.fastpath import Connection, PgConnection, SqliteConnection


async def lean_connection(session: AsyncSession) -> Connection:
    connection = await session.connection()
    # asyncpg opens the ORM's transaction lazily, at the first statement: run one first, so our
    # raw statements land inside it.
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # a checked-out connection always has its driver connection
    if connection.dialect.name == "postgresql":
        return PgConnection(driver)
    return SqliteConnection(driver)
