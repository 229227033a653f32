"""What `migrate` and every `serve` do first: bring the schema to head and make sure the rows a
working installation needs exist (system API key, rate limits)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from licenseserver.config import Settings
from licenseserver.db.fastpath import Connection, open_database
from licenseserver.db.migrate import upgrade_schema
from licenseserver.domain.api_key.service import ensure_api_key
from licenseserver.domain.settings.service import RateLimits, ensure_rate_limits

T = TypeVar("T")


def run_in_transaction(settings: Settings, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run one unit of work on the lean database path from synchronous code (the CLI)."""

    async def main() -> T:
        db = open_database(settings.database_url, pool_size=1)
        await db.open()
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.close()

    return asyncio.run(main())


def prepare_installation(settings: Settings) -> str:
    """Migrate and seed; returns the active system API key."""
    upgrade_schema(settings.database_url)
    defaults = RateLimits(settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute)

    async def seed(conn: Connection) -> str:
        await ensure_rate_limits(conn, defaults)
        return await ensure_api_key(conn)

    return run_in_transaction(settings, seed)
