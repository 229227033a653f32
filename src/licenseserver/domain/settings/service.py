"""Settings staff change at run time (rate limits), stored in the database and cached briefly."""

from __future__ import annotations

from dataclasses import dataclass

from licenseserver.db.sql import Connection, Database, Query
from licenseserver.kit.ttl import TtlValue

GET_RATE_LIMITS = Query("SELECT api_per_minute, login_per_minute FROM rate_limit_settings WHERE id = 1")
INSERT_RATE_LIMITS_IF_MISSING = Query(
    "INSERT INTO rate_limit_settings (id, api_per_minute, login_per_minute, updated_at)"
    " VALUES (1, $1, $2, {now}) ON CONFLICT (id) DO NOTHING"
)
UPDATE_RATE_LIMITS = Query(
    "UPDATE rate_limit_settings SET api_per_minute = $1, login_per_minute = $2, updated_at = {now} WHERE id = 1"
)


@dataclass(frozen=True, slots=True)
class RateLimits:
    api_per_minute: int
    login_per_minute: int


async def ensure_rate_limits(conn: Connection, defaults: RateLimits) -> None:
    """A new database starts with the limits from the environment; later, staff own them."""
    await conn.execute(INSERT_RATE_LIMITS_IF_MISSING, defaults.api_per_minute, defaults.login_per_minute)


async def read_rate_limits(conn: Connection) -> RateLimits | None:
    row = await conn.fetchrow(GET_RATE_LIMITS)
    return None if row is None else RateLimits(row["api_per_minute"], row["login_per_minute"])


async def update_rate_limits(conn: Connection, limits: RateLimits) -> None:
    await conn.execute(UPDATE_RATE_LIMITS, limits.api_per_minute, limits.login_per_minute)


class RateLimitCache:
    """Limits read at most every `ttl_seconds`, so a change reaches every instance within it. A
    refresh is its own unit of work: one short read on an autocommit connection of its own."""

    def __init__(self, db: Database, defaults: RateLimits, ttl_seconds: float = 2.0) -> None:
        self._db = db
        self._defaults = defaults
        self._value: TtlValue[RateLimits] = TtlValue(self._load, ttl_seconds, defaults)

    async def _load(self) -> RateLimits:
        async with self._db.autocommit() as conn:
            return await read_rate_limits(conn) or self._defaults

    async def get(self) -> RateLimits:
        return await self._value.get()

    def invalidate(self) -> None:
        self._value.invalidate()
