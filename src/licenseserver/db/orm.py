"""Async ORM sessions for staff operations (panel and CLI): one unit of work, one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from licenseserver.db.engine import make_async_engine
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
