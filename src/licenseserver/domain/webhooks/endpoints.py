"""Webhook endpoints: where events go, which ones each wants, and the secret that signs them.

Every function takes the caller's connection (the panel's request transaction through
db.unit_of_work.sql_connection, or the management API's); the caller commits and writes the
audit entry. The secret is the Standard Webhooks `whsec_` + base64 of random bytes: shown once,
at creation and after a rotation, and stored sealed under SECRET_KEY (kit.secretbox), as the
signing keys' private halves are (domain/signing/keys.py).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from licenseserver.db.models.integrations import WEBHOOK_URL_MAX
from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.webhooks.events import EVENT_TYPES
from licenseserver.domain.webhooks.outbox import SUBSCRIPTIONS
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.safe_targets import check_url
from licenseserver.kit.secretbox import seal, unseal
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import Text

SECRET_PREFIX = "whsec_"  # noqa: S105  # nosec B105  # the format's prefix, not a secret
SECRET_BYTES = 32
DESCRIPTION_MAX = 255

Url = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=WEBHOOK_URL_MAX)]
Description = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX)]
EventTypes = Annotated[list[Text], Field(min_length=1, max_length=len(EVENT_TYPES) * 2)]

COLUMNS = "id, url, description, event_types, enabled, failing_since, created_at, updated_at"
LIST = Query(f"SELECT {COLUMNS} FROM webhook_endpoints ORDER BY id")
GET = Query(f"SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1")
GET_SEALED_SECRET = Query("SELECT secret FROM webhook_endpoints WHERE id = $1")
INSERT = Query(
    "INSERT INTO webhook_endpoints (url, description, event_types, secret, enabled, created_at)"
    f" VALUES ($1, $2, $3, $4, $5, {{now}}) RETURNING {COLUMNS}"
)
UPDATE = Query(
    "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, updated_at = {now}"
    f" WHERE id = $1 RETURNING {COLUMNS}"
)
SET_SECRET = Query("UPDATE webhook_endpoints SET secret = $2, updated_at = {now} WHERE id = $1 RETURNING id")
DELETE = Query(f"DELETE FROM webhook_endpoints WHERE id = $1 RETURNING {COLUMNS}")


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    description: Description = ""
    event_types: EventTypes
    enabled: bool = True


class EndpointUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None}


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Endpoint:
        return cls(
            id=int(row["id"]),
            url=row["url"],
            description=row["description"],
            event_types=tuple(str(row["event_types"]).split()),
            enabled=bool(row["enabled"]),
            failing_since=row["failing_since"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def json(self) -> dict[str, Any]:
        """What the management API shows and the audit log keeps: never the secret."""
        return {
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "event_types": list(self.event_types),
            "enabled": self.enabled,
            "failing_since": iso_utc(self.failing_since),
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: Endpoint
    secret: str  # shown once


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def endpoint_not_found(endpoint_id: int) -> AppError:
    return AppError(404, ErrorCode.NOT_FOUND, f"Webhook endpoint {endpoint_id} not found")


def _refused(field: str, message: str) -> AppError:
    return AppError(400, ErrorCode.VALIDATION_ERROR, message, details=[{"field": field, "message": message}])


def checked_event_types(names: Sequence[str]) -> str:
    """The wanted types as stored (space-separated, in the documented order); unknown: 400."""
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise _refused("event_types", f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return " ".join(name for name in EVENT_TYPES if name in set(names))


async def checked_url(url: str, allow_private: bool) -> str:
    """The URL when events may go there; 400 saying why not (kit.safe_targets)."""
    reason = await check_url(url, allow_private)
    if reason is not None:
        raise _refused("url", f"Webhook URL refused: {reason}")
    return url


async def list_endpoints(conn: Connection) -> list[Endpoint]:
    return [Endpoint.from_row(row) for row in await conn.fetch(LIST)]


async def get_endpoint(conn: Connection, endpoint_id: int) -> Endpoint:
    row = await conn.fetchrow(GET, endpoint_id)
    if row is None:
        raise endpoint_not_found(endpoint_id)
    return Endpoint.from_row(row)


async def create_endpoint(
    conn: Connection, data: EndpointCreate, *, secret_key: str, allow_private: bool
) -> CreatedEndpoint:
    types = checked_event_types(data.event_types)
    url = await checked_url(data.url, allow_private)
    secret = new_secret()
    row = await conn.fetchrow(INSERT, url, data.description, types, seal(secret_key, secret), data.enabled)
    assert row is not None  # INSERT ... RETURNING always yields the row
    SUBSCRIPTIONS.invalidate()
    return CreatedEndpoint(Endpoint.from_row(row), secret)


async def update_endpoint(
    conn: Connection, endpoint_id: int, data: EndpointUpdate, *, allow_private: bool
) -> tuple[Endpoint, Endpoint]:
    """Apply the fields sent; (before, after). A URL is checked again only when it changes."""
    before = await get_endpoint(conn, endpoint_id)
    changes = data.changes()
    url = changes.get("url", before.url)
    if url != before.url:
        await checked_url(url, allow_private)
    types = checked_event_types(changes.get("event_types", before.event_types))
    description = changes.get("description", before.description)
    enabled = changes.get("enabled", before.enabled)
    row = await conn.fetchrow(UPDATE, endpoint_id, url, description, types, enabled)
    if row is None:  # deleted meanwhile
        raise endpoint_not_found(endpoint_id)
    SUBSCRIPTIONS.invalidate()
    return before, Endpoint.from_row(row)


async def delete_endpoint(conn: Connection, endpoint_id: int) -> Endpoint:
    """Delete the endpoint with its deliveries (the foreign keys cascade); what was deleted."""
    row = await conn.fetchrow(DELETE, endpoint_id)
    if row is None:
        raise endpoint_not_found(endpoint_id)
    SUBSCRIPTIONS.invalidate()
    return Endpoint.from_row(row)


async def rotate_secret(conn: Connection, endpoint_id: int, *, secret_key: str) -> str:
    """A new secret at once (the old one stops signing); the new one, shown once."""
    secret = new_secret()
    if await conn.fetchval(SET_SECRET, endpoint_id, seal(secret_key, secret)) is None:
        raise endpoint_not_found(endpoint_id)
    return secret


async def endpoint_secret(conn: Connection, endpoint_id: int, *, secret_key: str) -> str | None:
    """The secret opened, for signing; None when SECRET_KEY no longer opens it (changed)."""
    sealed = await conn.fetchval(GET_SEALED_SECRET, endpoint_id)
    if sealed is None:
        raise endpoint_not_found(endpoint_id)
    return unseal(secret_key, str(sealed))
