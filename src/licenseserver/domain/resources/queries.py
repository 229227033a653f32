"""Reading the resource pool: the paged list, a license's resources, free counts and a
resource's history. Filtering, counting and paging happen in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import License, Resource, ResourceHistory
from licenseserver.db.models.resources import RESOURCE_TYPES
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import iso_utc

HISTORY_LIMIT = 500


@dataclass(frozen=True, slots=True)
class ResourceRow:
    id: int
    resource_type: str
    identifier: str
    status: str
    license_id: int | None
    license_key: str | None
    allocated_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRow:
    action: str
    license_id: int | None
    license_key: str | None
    actor: str
    created_at: datetime


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def natural_order(column: Any) -> tuple[Any, ...]:
    """Identifiers in natural order: kunde1, kunde2, kunde10 (and 10.0.0.2 before 10.0.0.10).
    The text without its trailing digits, then how many digits follow, then the text: the same
    digit count compares like the number. rtrim(text, characters) exists on SQLite and
    PostgreSQL alike. No index serves this order: the pool is sorted per request, which stays
    quick for the pool sizes we plan for (up to about 100,000 resources; the licenses, up to a
    million, are joined only for the page's rows)."""
    return (func.rtrim(column, "0123456789"), func.length(column), column)


def _pool_query() -> Any:
    return select(
        Resource.id,
        Resource.resource_type,
        Resource.identifier,
        Resource.status,
        Resource.license_id,
        License.license_key,
        Resource.allocated_at,
        Resource.created_at,
    ).outerjoin(License, License.id == Resource.license_id)


async def list_resources(
    session: AsyncSession,
    resource_type: str | None,
    status: str | None,
    search: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ResourceRow], int]:
    """One page of the pool, ordered by type and identifier (naturally), and how many match in all."""
    conditions = []
    if resource_type:
        conditions.append(Resource.resource_type == resource_type)
    if status:
        conditions.append(Resource.status == status)
    if search:
        conditions.append(Resource.identifier.ilike(f"%{_escape_like(search)}%", escape="\\"))
    query = (
        _pool_query()
        .where(*conditions)
        .order_by(Resource.resource_type, *natural_order(Resource.identifier), Resource.id)
    )
    rows = await session.execute(query.limit(limit).offset(offset))
    total = await session.scalar(select(func.count()).select_from(Resource).where(*conditions))
    return [ResourceRow(**row._mapping) for row in rows], int(total or 0)


async def resources_of_license(session: AsyncSession, license_id: int) -> list[ResourceRow]:
    query = _pool_query().where(Resource.license_id == license_id, Resource.status == "allocated")
    rows = await session.execute(query.order_by(Resource.resource_type, *natural_order(Resource.identifier)))
    return [ResourceRow(**row._mapping) for row in rows]


def license_resource_json(row: ResourceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.resource_type,
        "identifier": row.identifier,
        "status": row.status,
        "allocated_at": iso_utc(row.allocated_at),
    }


async def free_counts(session: AsyncSession) -> dict[str, int]:
    """Free resources per type (every type listed, zero included)."""
    rows = await session.execute(
        select(Resource.resource_type, func.count())
        .where(Resource.status == "available")
        .group_by(Resource.resource_type)
    )
    counts = {t: 0 for t in RESOURCE_TYPES}
    counts.update({t: int(n) for t, n in rows})
    return counts


async def free_resources(session: AsyncSession, resource_type: str | None, limit: int) -> list[ResourceRow]:
    """Up to `limit` free resources (of one type, or of all), by type and identifier."""
    query = _pool_query().where(Resource.status == "available")
    if resource_type:
        query = query.where(Resource.resource_type == resource_type)
    rows = await session.execute(query.order_by(Resource.resource_type, Resource.identifier).limit(limit))
    return [ResourceRow(**row._mapping) for row in rows]


async def availability(session: AsyncSession, resource_type: str, count: int) -> dict[str, Any]:
    """The reference's check-availability answer: at least `count` free? how many? which (up to `count`)?"""
    free = int(
        await session.scalar(
            select(func.count())
            .select_from(Resource)
            .where(Resource.resource_type == resource_type, Resource.status == "available")
        )
        or 0
    )
    sample = await free_resources(session, resource_type, count)
    return {
        "available": free >= count,
        "count": free,
        "resources": [{"id": r.id, "type": r.resource_type, "identifier": r.identifier} for r in sample],
    }


async def get_resource(session: AsyncSession, resource_id: int) -> ResourceRow:
    row = (await session.execute(_pool_query().where(Resource.id == resource_id))).one_or_none()
    if row is None:
        raise AppError(404, ErrorCode.RESOURCE_NOT_FOUND, "Resource not found")
    return ResourceRow(**row._mapping)


async def history_of(session: AsyncSession, resource_id: int) -> list[HistoryRow]:
    """The resource's history, newest first (the latest HISTORY_LIMIT entries)."""
    rows = await session.execute(
        select(
            ResourceHistory.action,
            ResourceHistory.license_id,
            License.license_key,
            ResourceHistory.actor,
            ResourceHistory.created_at,
        )
        .outerjoin(License, License.id == ResourceHistory.license_id)
        .where(ResourceHistory.resource_id == resource_id)
        .order_by(ResourceHistory.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return [HistoryRow(**row._mapping) for row in rows]
