"""The Ed25519 signing keys: made, rotated, retired, published as a JWK Set.

Every function takes the caller's connection (the CLI's, the panel's request transaction through
db.unit_of_work.sql_connection, or the API's); the caller commits. Private keys are sealed under
SECRET_KEY (kit.secretbox) and opened only in memory.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.secretbox import seal, unseal

log = logging.getLogger(__name__)

CURRENT, PREVIOUS, RETIRED = "current", "previous", "retired"
# PostgreSQL advisory lock key for "the signing keys are being rotated" ("LSSIGN").
ROTATION_LOCK_KEY = 0x4C53_5349_474E
KEY_COLUMNS = "kid, public_key, state, created_at, retired_at"
_ORDER = " ORDER BY CASE state WHEN 'current' THEN 0 WHEN 'previous' THEN 1 ELSE 2 END, id DESC"
LIST_KEYS = Query(f"SELECT {KEY_COLUMNS} FROM signing_keys" + _ORDER)
_PUBLISHED = " FROM signing_keys WHERE state IN ('current', 'previous')" + _ORDER
PUBLISHED_KEYS = Query(f"SELECT {KEY_COLUMNS}" + _PUBLISHED)
# The JWK Set's own answer is signed by every key it lists: read in one statement, so the keys
# that sign are exactly the keys the body publishes, even while a rotation commits next door.
PUBLISHED_KEYS_SEALED = Query(f"SELECT {KEY_COLUMNS}, private_key" + _PUBLISHED)
GET_KEY = Query(f"SELECT {KEY_COLUMNS} FROM signing_keys WHERE kid = $1")
GET_CURRENT_SECRET = Query("SELECT kid, private_key FROM signing_keys WHERE state = 'current'")
DEMOTE_CURRENT = Query("UPDATE signing_keys SET state = 'previous' WHERE state = 'current'")
# DO NOTHING: an instance starting at the same moment made the current key first (the partial
# unique index uq_signing_keys_current allows one), and that one is used.
INSERT_CURRENT = Query(
    "INSERT INTO signing_keys (kid, public_key, private_key, state, created_at)"
    " VALUES ($1, $2, $3, 'current', {now}) ON CONFLICT DO NOTHING RETURNING kid"
)
RETIRE_PREVIOUS = Query(
    "UPDATE signing_keys SET state = 'retired', retired_at = {now} WHERE kid = $1 AND state = 'previous' RETURNING kid"
)
ROTATION_LOCK = Query("SELECT pg_advisory_xact_lock($1) IS NULL AS locked")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key: the key's `kid`."""
    canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    kid: str
    state: str
    created_at: datetime
    retired_at: datetime | None
    public_key: str  # base64url of the raw 32 bytes (the JWK's "x")

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the raw public key, as OpenSSH prints fingerprints: easy to compare by eye."""
        raw = base64.urlsafe_b64decode(self.public_key + "=")
        return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.public_key, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    @classmethod
    def from_row(cls, row: Row) -> SigningKeyInfo:
        return cls(row["kid"], row["state"], row["created_at"], row["retired_at"], row["public_key"])


@dataclass(frozen=True, slots=True)
class CurrentKey:
    """The key that signs now, opened in memory."""

    kid: str
    private_key: Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


async def list_keys(conn: Connection) -> list[SigningKeyInfo]:
    """Every key, current first, then previous, then retired; newest first within a state."""
    return [SigningKeyInfo.from_row(row) for row in await conn.fetch(LIST_KEYS)]


async def jwks_document(conn: Connection) -> dict[str, Any]:
    """The JWK Set clients trust: current and previous keys, the current key first."""
    return {"keys": [SigningKeyInfo.from_row(row).jwk() for row in await conn.fetch(PUBLISHED_KEYS)]}


async def published_keys_sealed(conn: Connection) -> list[tuple[SigningKeyInfo, str]]:
    """Current and previous keys, the current key first, each with its sealed private key."""
    return [(SigningKeyInfo.from_row(row), row["private_key"]) for row in await conn.fetch(PUBLISHED_KEYS_SEALED)]


def _new_key(secret_key: str) -> tuple[str, str, str]:
    private = Ed25519PrivateKey.generate()
    x = b64url(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    raw_private = private.private_bytes_raw()
    return thumbprint(x), x, seal(secret_key, b64url(raw_private))


async def _lock_rotation(conn: Connection) -> None:
    if conn.dialect == "postgresql":  # SQLite's write transactions are exclusive already
        await conn.fetchval(ROTATION_LOCK, ROTATION_LOCK_KEY)


async def rotate_keys(conn: Connection, secret_key: str) -> SigningKeyInfo:
    """Make a new current key at once; the old current key becomes previous (still published)."""
    await _lock_rotation(conn)
    await conn.execute(DEMOTE_CURRENT)
    kid, x, sealed = _new_key(secret_key)
    await conn.fetchval(INSERT_CURRENT, kid, x, sealed)
    return await _get(conn, kid)


async def retire_key(conn: Connection, kid: str) -> SigningKeyInfo:
    """Stop publishing a previous key. The current key is rotated away first, never retired."""
    await _lock_rotation(conn)
    if await conn.fetchval(RETIRE_PREVIOUS, kid) is None:
        row = await conn.fetchrow(GET_KEY, kid)
        if row is None:
            raise AppError(404, ErrorCode.NOT_FOUND, f"No signing key {kid!r}")
        if row["state"] == CURRENT:
            raise AppError(409, ErrorCode.CONFLICT, "The current signing key cannot be retired; rotate first")
        raise AppError(409, ErrorCode.CONFLICT, "This signing key is retired already")
    return await _get(conn, kid)


async def _get(conn: Connection, kid: str) -> SigningKeyInfo:
    row = await conn.fetchrow(GET_KEY, kid)
    assert row is not None  # written in this transaction
    return SigningKeyInfo.from_row(row)


def open_key(secret_key: str, kid: str, sealed: str) -> CurrentKey | None:
    """The private key, or None when SECRET_KEY does not open it."""
    opened = unseal(secret_key, sealed)
    if opened is None:
        return None
    raw = base64.urlsafe_b64decode(opened + "=" * (-len(opened) % 4))
    return CurrentKey(kid, Ed25519PrivateKey.from_private_bytes(raw))


async def read_current_key(conn: Connection, secret_key: str) -> CurrentKey | None:
    """The current key opened, or None when there is none or SECRET_KEY does not open it."""
    row = await conn.fetchrow(GET_CURRENT_SECRET)
    return None if row is None else open_key(secret_key, row["kid"], row["private_key"])


async def ensure_current_key(conn: Connection, secret_key: str) -> CurrentKey:
    """The current key; made on first start, and replaced (once, logged) when SECRET_KEY changed
    so that the stored one can no longer be opened: its private half is lost either way."""
    row = await conn.fetchrow(GET_CURRENT_SECRET)
    if row is None:
        kid, x, sealed = _new_key(secret_key)
        await conn.fetchval(INSERT_CURRENT, kid, x, sealed)
        row = await conn.fetchrow(GET_CURRENT_SECRET)
        assert row is not None  # ours, or the one a concurrent start made
    key = open_key(secret_key, row["kid"], row["private_key"])
    if key is None:
        log.warning("SECRET_KEY does not open the current signing key %s: rotating to a new one", row["kid"])
        rotated = await rotate_keys(conn, secret_key)
        key = await read_current_key(conn, secret_key)
        assert key is not None and key.kid == rotated.kid
    return key
