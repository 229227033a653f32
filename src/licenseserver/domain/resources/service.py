"""The resource pool: adding resources of the four types, releasing and quarantining them
(allocating them to a license, under its row lock, is licensing.resource_allocation). Every change is
kept in the resource's history (resource_history) with the staff member who made it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Resource, ResourceHistory
from licenseserver.db.models.resources import RESOURCE_TYPES
from licenseserver.domain.resources import repository as repo
from licenseserver.kit.errors import AppError, ErrorCode

DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()/-]{3,30}$")
SERVER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
# The history action each target state is recorded as.
TARGET_ACTIONS = {"available": "released", "quarantine": "quarantined"}


def normalize_identifier(resource_type: str, identifier: str) -> str:
    """The identifier in its stored form, or a 400 that says what is wrong with it."""
    value = identifier.strip()
    if resource_type == "domain":
        value = value.lower().rstrip(".")
        ok = bool(DOMAIN_PATTERN.match(value))
    elif resource_type == "ipv4":
        try:
            value = str(ipaddress.IPv4Address(value))
            ok = True
        except ValueError:
            ok = False
    elif resource_type == "phone":
        ok = bool(PHONE_PATTERN.match(value))
    elif resource_type == "server":
        ok = bool(SERVER_PATTERN.match(value))
    else:
        raise AppError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"Unknown resource type {resource_type!r}; use one of " + ", ".join(RESOURCE_TYPES),
        )
    if not ok:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, f"Not a valid {resource_type}: {identifier!r}")
    return value


async def add_resources(session: AsyncSession, resource_type: str, identifiers: list[str], actor: str) -> list[int]:
    """Add resources to the pool as available; all or none (a duplicate refuses the whole batch)."""
    values = [normalize_identifier(resource_type, raw) for raw in identifiers]
    if len(set(values)) != len(values):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "The same identifier is listed twice")
    existing = (
        await session.scalars(
            select(Resource.identifier).where(Resource.resource_type == resource_type, Resource.identifier.in_(values))
        )
    ).all()
    if existing:
        raise AppError(409, ErrorCode.RESOURCE_CONFLICT, "Already in the pool: " + ", ".join(sorted(existing)))
    resources = [Resource(resource_type=resource_type, identifier=value, status="available") for value in values]
    session.add_all(resources)
    try:
        await session.flush()
    except IntegrityError:
        # Someone added one of them since the check above; the unique constraint decides.
        raise AppError(409, ErrorCode.RESOURCE_CONFLICT, "Already in the pool") from None
    session.add_all(ResourceHistory(resource_id=r.id, action="created", actor=actor) for r in resources)
    await session.flush()
    return [r.id for r in resources]


@dataclass(frozen=True, slots=True)
class StateChange:
    resource_id: int
    before: dict[str, Any]
    after: dict[str, Any]


async def _change_state(
    session: AsyncSession, resource_id: int, target: str, actor: str, license_id: int | None = None
) -> StateChange:
    row = await repo.lock_resource(session, resource_id)
    if row is None or (license_id is not None and (row.license_id != license_id or row.status != "allocated")):
        raise AppError(404, ErrorCode.RESOURCE_NOT_FOUND, "Resource not found")
    if row.status == target:
        raise AppError(409, ErrorCode.CONFLICT, f"Resource is already {target}")
    await repo.set_state(session, resource_id, target)
    action = TARGET_ACTIONS[target]
    await repo.write_history(session, [(resource_id, row.license_id)], action, actor)
    before = {"status": row.status, "license_id": row.license_id}
    return StateChange(resource_id, before, {"status": target, "license_id": None})


async def release_resource(
    session: AsyncSession, resource_id: int, actor: str, license_id: int | None = None
) -> StateChange:
    """Return an allocated or quarantined resource to the pool. With `license_id`, only a resource
    allocated to that license (anything else is 404 for that license)."""
    return await _change_state(session, resource_id, "available", actor, license_id)


async def quarantine_resource(session: AsyncSession, resource_id: int, actor: str) -> StateChange:
    """Take a resource out of use (e.g. a blocked number); an allocated one leaves its license."""
    return await _change_state(session, resource_id, "quarantine", actor)


async def release_resources_of_locked_licenses(session: AsyncSession, license_ids: Sequence[int], actor: str) -> int:
    """Return every resource allocated to these licenses to the pool, each release in its history;
    how many were released. The caller holds the licenses' row locks (licensing.resource_allocation
    and the bulk deletion), so no allocation to them runs at the same time."""
    ids = await repo.allocated_ids_of_licenses(session, license_ids)
    if not ids:
        return 0
    released = await repo.return_to_pool(session, ids)
    await repo.write_history(session, released, "released", actor)
    return len(released)
