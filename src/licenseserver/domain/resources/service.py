"""The resource pool: adding resources of the four types, each with a validated identifier."""

from __future__ import annotations

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Resource, ResourceHistory
from licenseserver.db.models.resources import RESOURCE_TYPES
from licenseserver.kit.errors import AppError, ErrorCode

DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()/-]{3,30}$")
SERVER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")


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
    await session.flush()
    session.add_all(ResourceHistory(resource_id=r.id, action="created", actor=actor) for r in resources)
    await session.flush()
    return [r.id for r in resources]
