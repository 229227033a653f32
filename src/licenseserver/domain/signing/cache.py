"""The current signing key held in memory by each License API process.

Opened once (SECRET_KEY decrypts it) and re-read every few seconds, so a rotation (made by the
CLI or the panel, never by this process) signs everywhere within `SIGNING_KEY_CACHE_SECONDS`.
A database that does not answer leaves the last key in use: it is still ours and still
published, and an answer signed with it beats one that cannot be checked at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from licenseserver.db.sql import DATABASE_UNAVAILABLE, Connection, Database
from licenseserver.domain.signing.keys import GET_CURRENT_SECRET, CurrentKey, ensure_current_key, open_key
from licenseserver.kit.ttl import TtlValue

log = logging.getLogger(__name__)

SIGNING_KEY_CACHE_SECONDS = 5.0
SecretSource = Callable[[Connection], Awaitable[str]]


class SigningKeyCache:
    """The signing key as this process last read it. A refresh is its own unit of work: a short
    read, and only when no usable key exists yet, a transaction of its own that makes one."""

    def __init__(
        self, db: Database, secret_source: SecretSource, ttl_seconds: float = SIGNING_KEY_CACHE_SECONDS
    ) -> None:
        self._db = db
        self._secret_source = secret_source
        self._secret: str | None = None
        self._last: CurrentKey | None = None
        self._published: dict[str, CurrentKey] = {}
        self._key: TtlValue[CurrentKey | None] = TtlValue(self._load, ttl_seconds, None)

    async def get(self) -> CurrentKey | None:
        """The key that signs now; None only when none could ever be read (database away at start)."""
        return await self._key.get()

    async def published(self, conn: Connection, sealed: list[tuple[str, str]]) -> list[CurrentKey]:
        """The published keys given as (kid, sealed private key), opened, in the order given; one
        that SECRET_KEY does not open (sealed under an earlier one) is left out. Each is opened once
        per process: a kid's private key never changes."""
        secret: str | None = None
        opened: dict[str, CurrentKey] = {}
        for kid, private_key in sealed:
            key = self._published.get(kid)
            if key is None:
                secret = secret or await self._secret_for(conn)
                key = open_key(secret, kid, private_key)
            if key is not None:
                opened[kid] = key
        self._published = opened  # retired keys drop out with the next read
        return list(opened.values())

    async def _load(self) -> CurrentKey | None:
        self._last = await self._read(self._last)
        return self._last

    async def _read(self, known: CurrentKey | None) -> CurrentKey | None:
        try:
            async with self._db.autocommit() as conn:
                row = await conn.fetchrow(GET_CURRENT_SECRET)
                if known is not None and row is not None and row["kid"] == known.kid:
                    return known  # unchanged: no second decryption
                secret = await self._secret_for(conn)
            opened = None if row is None else open_key(secret, row["kid"], row["private_key"])
            if opened is not None:
                return opened
            # None yet (the API started without `migrate`), or sealed under another SECRET_KEY.
            async with self._db.transaction() as conn:
                return await ensure_current_key(conn, secret)
        except DATABASE_UNAVAILABLE as exc:
            log.warning("signing key not re-read, keeping the last one: %s", type(exc).__name__)
            return known

    async def _secret_for(self, conn: Connection) -> str:
        if self._secret is None:
            self._secret = await self._secret_source(conn)
        return self._secret
