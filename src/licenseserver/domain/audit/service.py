"""The audit log: who changed what, when, from where, with the state before and after.

Entries are written in the same transaction as the change, so a change without its entry (or an
entry without its change) cannot be committed. Values of secret fields never reach the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import AuditEntry
from licenseserver.kit.timefmt import utc_now

SECRET_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "api_key",
        "totp",
        "totp_secret",
        "totp_secret_encrypted",
        "secret",
        "csrf_token",
        "token",
        "token_hash",
    }
)
REDACTED = "***"


@dataclass(frozen=True, slots=True)
class Actor:
    """The staff member (or system) making a change, and the address it came from."""

    username: str
    address: str = ""


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_FIELDS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _as_json(state: dict[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(redact(state), default=str, sort_keys=True, ensure_ascii=False)


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            created_at=utc_now(),
            actor=actor.username,
            address=actor.address,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            before=_as_json(before),
            after=_as_json(after),
        )
    )
    await session.flush()
