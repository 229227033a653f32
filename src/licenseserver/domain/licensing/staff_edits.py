"""Creating and changing licenses: staff operations (CLI and panel) on the ORM path."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Customer, License
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import Actor, record
from licenseserver.domain.fields import LicenseKey
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.activation_limit import count_active_devices, within_limit
from licenseserver.domain.licensing.locks import lock_license_by_id
from licenseserver.domain.licensing.rules import license_not_found
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.keys import new_license_key
from licenseserver.kit.timefmt import utc_today
from licenseserver.kit.validation import MAX_ID

LicenseType = Literal["perpetual", "subscription", "trial"]
LICENSE_TYPES: tuple[str, ...] = ("perpetual", "subscription", "trial")
KEY_ATTEMPTS = 5
Limit = Annotated[int, Field(ge=1, le=100_000)]
# How long an offline license file of the license may live; None: the default (signing.offline).
OfflineTtl = Annotated[int, Field(ge=1, le=365)]


class LicenseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1, le=MAX_ID)
    license_type: LicenseType = "perpetual"
    valid_from: date | None = None
    valid_until: date | None = None
    max_activations: Limit = 1
    max_users: Limit = 1
    is_active: bool = True
    # The panel shows staff the key before saving; the CLI leaves it to be generated.
    license_key: LicenseKey | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


class LicenseUpdate(BaseModel):
    """The edit form: every field staff may change (the key never changes)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1, le=MAX_ID)
    license_type: LicenseType
    valid_from: date
    valid_until: date | None = None
    max_activations: Limit
    max_users: Limit
    is_active: bool = False  # an unticked checkbox is not sent at all
    offline_ttl_days: OfflineTtl | None = None


class QuickEdit(BaseModel):
    """The list's inline edit. Each field is optional; a `valid_until` of null means no end."""

    model_config = ConfigDict(extra="forbid")

    valid_until: date | None = None
    max_activations: Limit | None = None
    max_users: Limit | None = None

    @model_validator(mode="after")
    def _limits_not_null(self) -> Self:
        for name in ("max_activations", "max_users"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must be a number from 1 to 100000")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def license_snapshot(row: Any) -> dict[str, Any]:
    """The audit log's picture of a license (an ORM object or a row with the same names)."""
    return {
        "license_key": row.license_key,
        "customer_id": row.customer_id,
        "license_type": row.license_type,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "max_activations": row.max_activations,
        "max_users": row.max_users,
        "is_active": bool(row.is_active),
        "offline_ttl_days": row.offline_ttl_days,
    }


async def unused_license_key(session: AsyncSession) -> str:
    # 36^16 keys make a collision vanishingly rare; checking keeps the unique constraint quiet.
    for _ in range(KEY_ATTEMPTS):
        key = new_license_key()
        if await session.scalar(select(License.id).where(License.license_key == key)) is None:
            return key
    raise RuntimeError("could not find an unused license key")


def _key_taken(key: str) -> AppError:
    return AppError(409, ErrorCode.CONFLICT, f"Der Lizenzschlüssel {key} ist bereits vergeben.")


async def _require_customer(session: AsyncSession, customer_id: int) -> None:
    if await session.get(Customer, customer_id) is None:
        raise AppError(404, ErrorCode.CUSTOMER_NOT_FOUND, f"Customer {customer_id} not found")


async def create_license(session: AsyncSession, data: LicenseCreate) -> License:
    await _require_customer(session, data.customer_id)
    key = data.license_key or await unused_license_key(session)
    if data.license_key and await session.scalar(select(License.id).where(License.license_key == key)) is not None:
        raise _key_taken(key)
    license_row = License(
        license_key=key,
        customer_id=data.customer_id,
        license_type=data.license_type,
        valid_from=data.valid_from or utc_today(),
        valid_until=data.valid_until,
        max_activations=data.max_activations,
        max_users=data.max_users,
        is_active=data.is_active,
    )
    try:
        # A savepoint, so that losing the race for a key leaves the request's transaction usable.
        async with session.begin_nested():
            session.add(license_row)
    except IntegrityError:
        # The same key saved by someone else between our check and our insert.
        raise _key_taken(key) from None
    await webhook_events.license_created(await sql_connection(session), license_row)
    return license_row


async def get_license(session: AsyncSession, license_id: int, *, lock: bool = False) -> License:
    """The license, row-locked when it is about to change: activations take the same lock
    (licensing.locks), so a limit check here and a client's activation take turns."""
    if lock and await lock_license_by_id(await sql_connection(session), license_id) is None:
        raise license_not_found(license_id)
    # populate_existing: read afresh what was loaded before the lock (it may have changed since).
    license_row = await session.get(License, license_id, populate_existing=lock)
    if license_row is None:
        raise license_not_found(license_id)
    return license_row


async def _check_changes(session: AsyncSession, license_row: License, changes: dict[str, Any]) -> None:
    valid_from = changes.get("valid_from", license_row.valid_from)
    valid_until = changes.get("valid_until", license_row.valid_until)
    if valid_until is not None and valid_until < valid_from:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Gültig bis darf nicht vor Gültig ab liegen.")
    limit = changes.get("max_activations")
    if limit is not None and limit < license_row.max_activations:
        # The License API's promise, counted under the license lock its activations take.
        active = await count_active_devices(await sql_connection(session), license_row.id)
        if not within_limit(active, limit):
            raise AppError(
                409,
                ErrorCode.CONFLICT,
                f"{active} Geräte sind aktiviert; bitte zuerst Geräte deaktivieren, "
                f"bevor die Grenze auf {limit} sinkt.",
            )
    if changes.get("customer_id", license_row.customer_id) != license_row.customer_id:
        await _require_customer(session, changes["customer_id"])


async def change_license(
    session: AsyncSession, license_id: int, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply changed fields to a locked license; returns (before, after) of the fields that
    really changed, for the audit log (both empty when nothing changed)."""
    license_row = await get_license(session, license_id, lock=True)
    await _check_changes(session, license_row, changes)
    current = license_snapshot(license_row)
    changed = {name: value for name, value in changes.items() if current[name] != value}
    for name, value in changed.items():
        setattr(license_row, name, value)
    await session.flush()
    return {name: current[name] for name in changed}, changed


async def update_license(session: AsyncSession, license_id: int, changes: dict[str, Any], actor: Actor) -> bool:
    """Change a license and audit it; returns whether anything changed."""
    before, after = await change_license(session, license_id, changes)
    if after:
        await record(session, actor, "update", "license", license_id, before=before, after=after)
        await webhook_events.license_changed(await sql_connection(session), license_id, before, after)
    return bool(after)


async def toggle_license(session: AsyncSession, license_id: int, actor: Actor) -> bool:
    """Flip is_active and audit it; returns the new state."""
    license_row = await get_license(session, license_id, lock=True)
    license_row.is_active = not license_row.is_active
    await session.flush()
    action = "activate" if license_row.is_active else "deactivate"
    state = {"before": {"is_active": not license_row.is_active}, "after": {"is_active": license_row.is_active}}
    await record(session, actor, action, "license", license_id, **state)
    await webhook_events.license_changed(await sql_connection(session), license_id, **state)
    return license_row.is_active
