"""Checking a presented token on a management API call, on the SQL layer (one indexed read).

`last_used_at` is written at most once a minute per token, and only when the read found it
older than that: a shop calling ten times a second costs one UPDATE a minute, not ten a second.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from licenseserver.db.sql import Connection, Query
from licenseserver.domain.tokens.format import hash_token, looks_like_token

LAST_USED_RESOLUTION_SECONDS = 60

FIND_TOKEN = Query(
    "SELECT id, name, scope, token_hash,"
    " (expires_at IS NOT NULL AND expires_at <= {now}) AS expired,"
    " (last_used_at IS NULL OR last_used_at < {ago $2}) AS stale"
    " FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
)
TOUCH_TOKEN = Query(
    "UPDATE api_tokens SET last_used_at = {now} WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < {ago $2})"
)


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    id: int
    name: str
    scope: str

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


async def authenticate(conn: Connection, key: bytes, presented: str | None) -> TokenIdentity | None:
    """The token's identity, or None when it is missing, unknown, revoked or expired (one answer
    for all: a caller learns nothing about which). The look-up is by the keyed hash of the whole
    token, so no stored secret is ever compared byte by byte; the digest comparison after it is
    constant-time all the same."""
    if not presented or not looks_like_token(presented):
        return None
    digest = hash_token(key, presented)
    row = await conn.fetchrow(FIND_TOKEN, digest, LAST_USED_RESOLUTION_SECONDS)
    if row is None or not hmac.compare_digest(str(row["token_hash"]), digest) or row["expired"]:
        return None
    if row["stale"]:
        await conn.execute(TOUCH_TOKEN, row["id"], LAST_USED_RESOLUTION_SECONDS)
    return TokenIdentity(int(row["id"]), str(row["name"]), str(row["scope"]))
