"""Allocating pool resources to a license, all or nothing, under the license's row lock.

The lock (licensing.locks) makes allocations to one license and the release of its resources
before it is deleted take turns, so no resource is left allocated to a license that no longer
exists; the conditional UPDATE in resources.repository makes sure no resource goes to two licenses.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Resource
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.licensing.locks import lock_license_by_id
from licenseserver.domain.licensing.rules import license_not_found
from licenseserver.domain.resources import repository as repo
from licenseserver.domain.resources.service import release_resources_of_locked_licenses
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import utc_now


async def _lock_license(session: AsyncSession, license_id: int) -> bool:
    """Lock the license row (licensing.locks): allocations to it and the release of its resources
    before it is deleted take turns, so no resource is left allocated to a license that no longer
    exists. False when there is no such license."""
    return await lock_license_by_id(await sql_connection(session), license_id) is not None


async def _check_requested(session: AsyncSession, resource_ids: list[int], resource_type: str | None) -> None:
    if len(set(resource_ids)) != len(resource_ids):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "The same resource is listed twice")
    rows = await session.execute(select(Resource.id, Resource.resource_type).where(Resource.id.in_(resource_ids)))
    found = {resource_id: resource_type for resource_id, resource_type in rows}
    missing = [str(i) for i in resource_ids if i not in found]
    if missing:
        raise AppError(404, ErrorCode.RESOURCE_NOT_FOUND, "Resources not found: " + ", ".join(missing))
    if resource_type is not None and any(t != resource_type for t in found.values()):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, f"Not every resource is of type {resource_type}")


async def allocate_resources(
    session: AsyncSession, license_id: int, resource_ids: list[int], actor: str, resource_type: str | None = None
) -> list[int]:
    """Allocate exactly these resources to the license, all or none.

    One conditional UPDATE takes those still available; fewer rows than asked means another
    request got some first, and the 409 rolls the whole request back (nothing is half-done)."""
    if not await _lock_license(session, license_id):
        raise license_not_found()
    return await _allocate_locked(session, license_id, resource_ids, actor, resource_type)


async def _allocate_locked(
    session: AsyncSession, license_id: int, resource_ids: list[int], actor: str, resource_type: str | None
) -> list[int]:
    await _check_requested(session, resource_ids, resource_type)
    taken = await repo.take_available(session, resource_ids, license_id, utc_now())
    if len(taken) != len(resource_ids):
        busy = sorted(set(resource_ids) - set(taken))
        raise AppError(
            409,
            ErrorCode.RESOURCE_NOT_AVAILABLE,
            "Resources not available: " + ", ".join(str(i) for i in busy),
        )
    await repo.write_history(session, [(i, license_id) for i in sorted(taken)], "allocated", actor)
    return sorted(taken)


async def allocate_by_type(
    session: AsyncSession, license_id: int, resource_type: str, count: int, actor: str
) -> list[int]:
    """Allocate `count` free resources of a type to the license (the lowest ids free), all or none."""
    if not await _lock_license(session, license_id):
        raise license_not_found()
    ids = await repo.pick_available(session, resource_type, count)
    if len(ids) < count:
        raise AppError(
            409,
            ErrorCode.RESOURCE_NOT_AVAILABLE,
            f"Only {len(ids)} resources of type {resource_type} are available, {count} requested",
        )
    return await _allocate_locked(session, license_id, ids, actor, resource_type)


async def release_resources_of_license(session: AsyncSession, license_id: int, actor: str) -> int:
    """Return every resource allocated to the license to the pool, each release in its history;
    how many were released. Call it before deleting the license (the foreign key would only null
    `license_id` and leave the resources marked allocated). A license that no longer exists has
    nothing to release (0)."""
    if not await _lock_license(session, license_id):
        return 0
    return await release_resources_of_locked_licenses(session, [license_id], actor)
