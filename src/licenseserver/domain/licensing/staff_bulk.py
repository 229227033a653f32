"""Changing many licenses at once, and deleting licenses with everything hanging on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientSession, License
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import Actor, record
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.locks import lock_licenses
from licenseserver.domain.licensing.staff_edits import license_snapshot
from licenseserver.domain.resources.service import release_resources_of_locked_licenses
from licenseserver.kit.validation import MAX_ID

MAX_BULK = 1000
LicenseId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class LicenseIds(BaseModel):
    """Body of the bulk endpoints: `{"license_ids": [1, 2, 3]}`."""

    model_config = ConfigDict(extra="forbid")

    license_ids: Annotated[list[LicenseId], Field(min_length=1, max_length=MAX_BULK)]

    def unique(self) -> list[int]:
        return sorted(set(self.license_ids))


async def set_active(session: AsyncSession, license_ids: Sequence[int], active: bool, actor: Actor) -> int:
    """Activate or deactivate the listed licenses; returns how many changed. Unknown ids and
    licenses already in that state are skipped, so repeating a bulk action changes nothing.

    The license rows are locked first, in id order (licensing.locks), as a single toggle, an
    activation and a bulk deletion lock them: two bulk actions over the same licenses take turns
    instead of deadlocking on rows locked in another order."""
    found = await lock_licenses(await sql_connection(session), license_ids)
    if not found:
        return 0
    changed = (
        await session.execute(
            update(License)
            .where(License.id.in_(found), License.is_active == (not active))
            .values(is_active=active)
            .returning(License.id)
            .execution_options(synchronize_session=False)
        )
    ).scalars()
    changed_ids = sorted(changed)
    for license_id in changed_ids:
        await record(
            session,
            actor,
            "activate" if active else "deactivate",
            "license",
            license_id,
            before={"is_active": not active},
            after={"is_active": active},
        )
        conn = await sql_connection(session)
        await webhook_events.license_changed(conn, license_id, {"is_active": not active}, {"is_active": active})
    return len(changed_ids)


async def delete_licenses(session: AsyncSession, license_ids: Sequence[int], actor: Actor) -> int:
    """Delete licenses with their sessions and activations, return their resources to the pool,
    and audit each one; returns how many were deleted (unknown ids are skipped).

    The license rows are locked first, as every activation and session start does, so a client
    racing the deletion either finishes before it or finds the license gone.
    """
    found = await lock_licenses(await sql_connection(session), license_ids)
    if not found:
        return 0
    rows = (await session.execute(select(*License.__table__.c).where(License.id.in_(found)).order_by(License.id))).all()
    await release_resources_of_locked_licenses(session, found, actor.username)
    for table in (ClientSession, Activation):
        await session.execute(
            delete(table).where(table.license_id.in_(found)).execution_options(synchronize_session=False)
        )
    await session.execute(delete(License).where(License.id.in_(found)).execution_options(synchronize_session=False))
    for row in rows:
        await record(session, actor, "delete", "license", row.id, before=license_snapshot(row))
    return len(found)
