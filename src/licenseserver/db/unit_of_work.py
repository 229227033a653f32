"""Where a unit of work begins and ends, for staff operations (panel and CLI).

The panel's TransactionMiddleware and the CLI's commands open one ORM session per request or
command and commit it; everything below them takes the session it is given. A rule of the SQL
layer (db.sql) runs inside that same transaction through `sql_connection`: the one seam between
the two stacks, so a staff action and its audit entry commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from licenseserver.db.engine import make_async_engine
from licenseserver.db.sql import DATABASE_UNAVAILABLE, Connection, PgConnection, SqliteConnection
from licenseserver.kit.blocking import run_blocking

T = TypeVar("T")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def in_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_async_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def run_in_orm_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """From synchronous code (the CLI, test set-up): run `work` and commit, or roll back."""
    return run_blocking(lambda: in_transaction(database_url, work))


# session.info key: the SQL-layer connection made for the session's current transaction.
_SQL_CONNECTION = "sql_connection"


async def sql_connection(session: AsyncSession) -> Connection:
    """The driver connection under `session`, inside its transaction. Made once per transaction:
    a rule that locks and then counts asks twice, and the second call costs no round trip."""
    connection = await session.connection()
    transaction = session.get_transaction()
    made = session.info.get(_SQL_CONNECTION)
    if made is not None and made[0] is transaction:
        return made[1]  # type: ignore[no-any-return]
    # asyncpg opens the ORM's transaction lazily, at the first statement: run one first, so our
    # raw statements land inside it.
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # a checked-out connection always has its driver connection
    sql: Connection = PgConnection(driver) if connection.dialect.name == "postgresql" else SqliteConnection(driver)
    session.info[_SQL_CONNECTION] = (transaction, sql)
    return sql


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached now (down, restarting, out of connections, pool timeout),
    whether the SQL layer's driver raised it or SQLAlchemy wrapped it. Both apps ask this."""
    seen: BaseException | None = exc
    for _ in range(5):  # SQLAlchemy's wrapper -> its DBAPI adapter's error -> the driver's
        if seen is None:
            return False
        if isinstance(seen, (*DATABASE_UNAVAILABLE, sqlalchemy.exc.TimeoutError)):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
