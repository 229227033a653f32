"""Making, listing and revoking tokens: what staff do (the CLI, the panel's API-Zugänge page),
on the ORM session they are given. The caller records the audit entry (the snapshot below)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.clock import database_now
from licenseserver.db.models.integrations import TOKEN_NAME_MAX, ApiToken
from licenseserver.domain.tokens.format import hash_token, new_token, token_key
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import as_utc, iso_utc

TokenScope = Literal["read", "write"]
MAX_EXPIRY_DAYS = 3650


def _single_line(value: str) -> str:
    # The name goes into audit entries as `token:<name>`: one line, no NUL.
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("must be a single line without NUL characters")
    return value


TokenName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TOKEN_NAME_MAX),
    AfterValidator(_single_line),
]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName
    scope: TokenScope
    expires_days: Annotated[int, Field(ge=1, le=MAX_EXPIRY_DAYS)] | None = None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: `token` is the whole secret, shown once and never stored."""

    id: int
    name: str
    scope: str
    prefix: str
    expires_at: datetime | None
    token: str


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """A token as lists show it: never the secret nor its hash."""
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": iso_utc(self.created_at),
            "created_by": self.created_by,
            "last_used_at": iso_utc(self.last_used_at),
            "expires_at": iso_utc(self.expires_at),
            "revoked_at": iso_utc(self.revoked_at),
        }


def _row(token: ApiToken) -> TokenRow:
    return TokenRow(
        token.id,
        token.name,
        token.scope,
        token.prefix,
        token.created_at,
        token.created_by,
        token.last_used_at,
        token.expires_at,
        token.revoked_at,
    )


async def _database_now(session: AsyncSession) -> datetime:
    now: datetime | str | None = await session.scalar(select(database_now()))
    assert now is not None
    # SQLite hands the computed time back as text (no column type to convert it by).
    return as_utc(datetime.fromisoformat(now) if isinstance(now, str) else now)


def token_snapshot(token: ApiToken | NewToken) -> dict[str, Any]:
    """The audit log's picture of a token (no secret, no hash)."""
    return {"name": token.name, "scope": token.scope, "prefix": token.prefix, "expires_at": iso_utc(token.expires_at)}


async def create_token(
    session: AsyncSession, installation_secret: str, data: TokenCreate, created_by: str | None
) -> NewToken:
    token, prefix = new_token()
    expires_at = None
    if data.expires_days is not None:
        # The database's clock judges expiry (domain/tokens/auth.py), so it sets the start too.
        expires_at = await _database_now(session) + timedelta(days=data.expires_days)
    row = ApiToken(
        name=data.name,
        scope=data.scope,
        prefix=prefix,
        token_hash=hash_token(token_key(installation_secret), token),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return NewToken(row.id, row.name, row.scope, prefix, expires_at, token)


async def list_tokens(session: AsyncSession) -> list[TokenRow]:
    """Every token, revoked ones included (they stay as the record of who had access), oldest first."""
    rows = await session.scalars(select(ApiToken).order_by(ApiToken.id))
    return [_row(token) for token in rows]


def token_not_found(token_id: int) -> AppError:
    return AppError(404, ErrorCode.NOT_FOUND, f"Token {token_id} not found")


async def revoke_token(session: AsyncSession, token_id: int) -> tuple[TokenRow, bool]:
    """Revoke a token from now on; (the token, whether this call revoked it). Revoking a revoked
    token changes nothing. The next call with it is refused: the API reads the token on every
    call, there is no cache to wait for."""
    token = await session.get(ApiToken, token_id, with_for_update=True)
    if token is None:
        raise token_not_found(token_id)
    if token.revoked_at is not None:
        return _row(token), False
    token.revoked_at = await _database_now(session)
    await session.flush()
    return _row(token), True
