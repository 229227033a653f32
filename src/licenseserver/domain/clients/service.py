"""The client program the License API serves: its session settings and its current release.

The API reads this on every verify and session start, so it is cached in-process for
`CLIENT_CONFIG_CACHE_SECONDS` (default 5 s): a change made in the panel is in force on every
instance within that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from packaging.version import InvalidVersion, Version
from sqlalchemy import ColumnElement, func, select

from licenseserver.db.models import ClientConfig
from licenseserver.db.models.clients import DEFAULT_SESSION_TIMEOUT
from licenseserver.db.sql import Connection, Database, Query
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.ttl import TtlValue

# The License API serves one client: the configured one with the lowest id ("Account Forger"
# on a new installation).
CURRENT_CLIENT = Query(
    "SELECT id, client_name, heartbeat_interval, session_timeout, minimum_version"
    " FROM client_configs ORDER BY id LIMIT 1"
)
# Without a configured client the API serves no sessions at all; the default (a new client's,
# db.models.clients) only lets the panel judge the sessions left from an earlier configuration.
CLIENT_RELEASES = Query(
    "SELECT version, release_date, download_url, release_notes FROM client_releases WHERE client_id = $1"
)


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    parsed: Version
    release_date: date
    download_url: str | None
    release_notes: str | None


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    heartbeat_interval: int
    session_timeout: int
    minimum_version: Version | None
    latest: Release | None

    def update_available(self, current: str | None) -> bool:
        if self.latest is None or current is None:
            return False
        return parse_version(current) < self.latest.parsed

    def is_below_minimum(self, current: str | None) -> bool:
        if self.minimum_version is None or current is None:
            return False
        return parse_version(current) < self.minimum_version

    def update_info(self, current: str | None) -> dict[str, object]:
        latest = self.latest
        return {
            "update_available": self.update_available(current),
            "latest_version": latest.version if latest else None,
            "download_url": latest.download_url if latest else None,
            "release_notes": latest.release_notes if latest else None,
        }


@lru_cache(maxsize=1024)
def parse_version(value: str) -> Version:
    # Verify and session start compare the client's version on every call; clients in the field
    # send a handful of distinct versions, so each is parsed once (docs/performance.md, item 5).
    return Version(value)


def _optional_version(value: str | None) -> Version | None:
    try:
        return Version(value) if value else None
    except InvalidVersion:
        return None


def newest_release(rows: list[Release]) -> Release | None:
    return max(rows, key=lambda release: release.parsed, default=None)


async def load_client(conn: Connection) -> Client | None:
    row = await conn.fetchrow(CURRENT_CLIENT)
    if row is None:
        return None
    releases = []
    for rel in await conn.fetch(CLIENT_RELEASES, row["id"]):
        parsed = _optional_version(rel["version"])
        if parsed is not None:  # a malformed stored version can never be "latest"
            releases.append(
                Release(rel["version"], parsed, rel["release_date"], rel["download_url"], rel["release_notes"])
            )
    return Client(
        id=row["id"],
        name=row["client_name"],
        heartbeat_interval=row["heartbeat_interval"],
        session_timeout=row["session_timeout"],
        minimum_version=_optional_version(row["minimum_version"]),
        latest=newest_release(releases),
    )


async def current_session_timeout(conn: Connection) -> int:
    """The current client's session timeout in seconds (the SQL layer's reading)."""
    client = await load_client(conn)
    return client.session_timeout if client else DEFAULT_SESSION_TIMEOUT


def session_timeout_expression() -> ColumnElement[int]:
    """The same reading as current_session_timeout, as an expression an ORM statement embeds."""
    configured = select(ClientConfig.session_timeout).order_by(ClientConfig.id).limit(1).scalar_subquery()
    return func.coalesce(configured, DEFAULT_SESSION_TIMEOUT)


class ClientCache:
    """The current client, read at most once per TTL; a refresh is its own unit of work (one short
    read on a connection of its own), never part of a request's transaction."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self._db = db
        self._value: TtlValue[Client | None] = TtlValue(self._load, ttl_seconds, None)

    async def _load(self) -> Client | None:
        async with self._db.autocommit() as conn:
            return await load_client(conn)

    async def get(self) -> Client | None:
        return await self._value.get()

    async def require(self) -> Client:
        client = await self.get()
        if client is None:
            raise AppError(503, ErrorCode.CLIENT_NOT_CONFIGURED, "No client application is configured")
        return client

    def invalidate(self) -> None:
        self._value.invalidate()
