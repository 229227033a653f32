"""The one system API key: made when missing, replaced on demand, checked on every API call.

Instances cache the key for at most `API_KEY_CACHE_SECONDS` (≤ 1 s), so a key replaced anywhere
(the panel's request or the CLI command, each committing its own unit of work) is refused
everywhere within one second.
"""

from __future__ import annotations

import hmac
import logging

from licenseserver.db.sql import Connection, Database, Query
from licenseserver.domain.webhooks.events import API_KEY_REGENERATED
from licenseserver.domain.webhooks.outbox import emit
from licenseserver.kit.keys import new_api_key
from licenseserver.kit.timefmt import utc_now
from licenseserver.kit.ttl import TtlValue

log = logging.getLogger(__name__)

GET_KEY = Query("SELECT api_key FROM system_api_key WHERE id = 1")
INSERT_KEY_IF_MISSING = Query(
    "INSERT INTO system_api_key (id, api_key, created_at) VALUES (1, $1, {now})"
    " ON CONFLICT (id) DO NOTHING RETURNING api_key"
)
REPLACE_KEY = Query(
    "INSERT INTO system_api_key (id, api_key, created_at, regenerated_at) VALUES (1, $1, {now}, {now})"
    " ON CONFLICT (id) DO UPDATE SET api_key = excluded.api_key, regenerated_at = excluded.regenerated_at"
    " RETURNING api_key"
)


async def read_api_key(conn: Connection) -> str | None:
    value = await conn.fetchval(GET_KEY)
    return None if value is None else str(value)


async def ensure_api_key(conn: Connection) -> str:
    """Return the key, making one first when the installation has none (logged once)."""
    created = await conn.fetchval(INSERT_KEY_IF_MISSING, new_api_key(utc_now().year))
    if created is not None:
        # Logged once, without the key: log lines end up where secrets must not (contract §4).
        log.warning("Generated the system API key; `licenseserver api-key show` prints it")
        return str(created)
    key = await read_api_key(conn)
    assert key is not None  # the row exists: the insert above did nothing
    return key


async def regenerate_api_key(conn: Connection) -> str:
    key = str(await conn.fetchval(REPLACE_KEY, new_api_key(utc_now().year)))
    # Only the format's prefix ("AF-2026-"): the key itself never leaves in an event.
    await emit(conn, API_KEY_REGENERATED, {"key_prefix": key[:8]})
    return key


class ApiKeyCache:
    """The key as this process last read it. A refresh is its own unit of work: one short read on
    an autocommit connection of its own, never part of the request that triggered it."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self._db = db
        self._key: TtlValue[str | None] = TtlValue(self._load, ttl_seconds, None)

    async def _load(self) -> str | None:
        async with self._db.autocommit() as conn:
            return await read_api_key(conn)

    async def accepts(self, presented: str | None) -> bool:
        key = await self._key.get()
        if not presented or key is None:
            return False
        return hmac.compare_digest(presented.encode(), key.encode())
