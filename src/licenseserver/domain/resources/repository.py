"""SQL of the resource pool (ORM path). Every state change is one conditional UPDATE, so the
database decides who wins when staff act on the same resources at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Resource, ResourceHistory


async def take_available(
    session: AsyncSession, resource_ids: Sequence[int], license_id: int, now: datetime
) -> list[int]:
    """Allocate those of the resources that are still available; the ids actually taken.

    The `status = 'available'` condition is re-checked by PostgreSQL after it waits for a
    concurrent writer's row lock, so two transactions never both take one resource."""
    result = await session.execute(
        update(Resource)
        .where(Resource.id.in_(resource_ids), Resource.status == "available")
        .values(status="allocated", license_id=license_id, allocated_at=now)
        .returning(Resource.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


async def return_to_pool(session: AsyncSession, resource_ids: Sequence[int]) -> list[tuple[int, int | None]]:
    """Make allocated resources available again; (id, former license id) of each one released."""
    old = (
        await session.execute(
            select(Resource.id, Resource.license_id)
            .where(Resource.id.in_(resource_ids), Resource.status == "allocated")
            .order_by(Resource.id)
            .with_for_update()
        )
    ).all()
    if not old:
        return []
    await session.execute(
        update(Resource)
        .where(Resource.id.in_([row.id for row in old]), Resource.status == "allocated")
        .values(status="available", license_id=None, allocated_at=None)
        .execution_options(synchronize_session=False)
    )
    return [(row.id, row.license_id) for row in old]


async def allocated_ids_of_licenses(session: AsyncSession, license_ids: Sequence[int]) -> list[int]:
    result = await session.execute(
        select(Resource.id)
        .where(Resource.license_id.in_(license_ids), Resource.status == "allocated")
        .order_by(Resource.id)
    )
    return list(result.scalars().all())


async def write_history(
    session: AsyncSession, entries: Sequence[tuple[int, int | None]], action: str, actor: str
) -> None:
    session.add_all(
        ResourceHistory(resource_id=resource_id, action=action, license_id=license_id, actor=actor[:100])
        for resource_id, license_id in entries
    )
    await session.flush()


async def pick_available(session: AsyncSession, resource_type: str, count: int) -> list[int]:
    """Up to `count` free resources of a type, lowest ids first, locked for this transaction.
    SKIP LOCKED lets parallel allocations by count take different resources instead of queueing
    behind (and then losing to) each other; SQLite serialises writers anyway."""
    result = await session.execute(
        select(Resource.id)
        .where(Resource.resource_type == resource_type, Resource.status == "available")
        .order_by(Resource.id)
        .limit(count)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars().all())


async def lock_resource(session: AsyncSession, resource_id: int) -> Row[int, str, int | None] | None:
    result = await session.execute(
        select(Resource.id, Resource.status, Resource.license_id).where(Resource.id == resource_id).with_for_update()
    )
    return result.one_or_none()


async def set_state(session: AsyncSession, resource_id: int, status: str) -> None:
    """Any state but allocated belongs to no license."""
    await session.execute(
        update(Resource)
        .where(Resource.id == resource_id)
        .values(status=status, license_id=None, allocated_at=None)
        .execution_options(synchronize_session=False)
    )
