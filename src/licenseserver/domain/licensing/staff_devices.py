"""A license's devices (activations) as staff manage them.

Registering a device is the License API's activation rule itself (`activate_on`), run on the
panel's transaction through db.unit_of_work.sql_connection: staff meet the same limits and refusals
as a client (409 ACTIVATION_LIMIT_REACHED, 403 LICENSE_EXPIRED / LICENSE_INACTIVE, ...), and the
activation commits or rolls back together with its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, Customer, License
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.licensing import license_statements as licenses
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.license_calls import ActivationOutcome, activate_on
from licenseserver.domain.licensing.locks import lock_license_by_id
from licenseserver.domain.licensing.rules import license_not_found
from licenseserver.domain.licensing.schemas import ActivateRequest
from licenseserver.domain.licensing.staff_sessions import end_open_session_of_device
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.paging import Page, PageRequest, page_of
from licenseserver.kit.timefmt import iso_utc


@dataclass(frozen=True, slots=True)
class LicenseOverview:
    license: License
    customer: Customer


@dataclass(frozen=True, slots=True)
class Deactivation:
    device: dict[str, Any]
    ended_session_id: int | None


async def license_overview(session: AsyncSession, license_id: int) -> LicenseOverview:
    row = (
        await session.execute(
            select(License, Customer).join(Customer, Customer.id == License.customer_id).where(License.id == license_id)
        )
    ).one_or_none()
    if row is None:
        raise license_not_found()
    return LicenseOverview(row[0], row[1])


@dataclass(frozen=True, slots=True)
class ActiveDeviceRow:
    """An active device in the list across all licenses (the dashboard's "Aktive Geräte")."""

    id: int
    license_id: int
    license_key: str
    customer_id: int
    customer_name: str
    machine_name: str
    hardware_hash: str
    app_version: str | None
    activated_at: datetime
    last_heartbeat: datetime


async def active_devices(session: AsyncSession, wanted: PageRequest) -> Page[ActiveDeviceRow]:
    """Every active device of every license, newest activation first: walked backwards along
    the primary key, one page plus one row at a time, joined to its license and customer by
    their keys (no COUNT: kit/paging tells the total on the last page)."""
    query = (
        select(
            Activation.id,
            Activation.license_id,
            License.license_key,
            Customer.id.label("customer_id"),
            Customer.name.label("customer_name"),
            Activation.machine_name,
            Activation.hardware_hash,
            Activation.app_version,
            Activation.activated_at,
            Activation.last_heartbeat,
        )
        .join(License, License.id == Activation.license_id)
        .join(Customer, Customer.id == License.customer_id)
        .where(Activation.is_active)
        .order_by(Activation.id.desc())
        .limit(wanted.fetch)
        .offset(wanted.offset)
    )
    rows = [ActiveDeviceRow(**row._mapping) for row in await session.execute(query)]
    return page_of(rows, wanted)


async def license_key_of(session: AsyncSession, license_id: int) -> str:
    key = await session.scalar(select(License.license_key).where(License.id == license_id))
    if key is None:
        raise license_not_found()
    return key


async def devices_of_license(session: AsyncSession, license_id: int) -> list[Activation]:
    """Every activation of the license, active and deactivated, oldest first."""
    # populate_existing: rows the SQL layer changed earlier in this transaction are read afresh.
    query = select(Activation).where(Activation.license_id == license_id).order_by(Activation.id)
    rows = await session.scalars(query.execution_options(populate_existing=True))
    return list(rows)


def device_json(device: Activation) -> dict[str, Any]:
    return {
        "id": device.id,
        "hardware_hash": device.hardware_hash,
        "machine_name": device.machine_name,
        "activated_at": iso_utc(device.activated_at),
        "last_heartbeat": iso_utc(device.last_heartbeat),
        "is_active": bool(device.is_active),
        "app_version": device.app_version,
    }


async def register_device(
    session: AsyncSession, license_id: int, hardware_hash: str, machine_name: str, app_version: str | None
) -> ActivationOutcome:
    """Activate a device on the license by the client's own rule (a device already active there
    is refreshed, as for a client)."""
    key = await license_key_of(session, license_id)
    request = ActivateRequest(
        license_key=key, hardware_hash=hardware_hash, machine_name=machine_name, app_version=app_version
    )
    return await activate_on(await sql_connection(session), request)


async def deactivate_device(session: AsyncSession, license_id: int, device_id: int) -> Deactivation:
    """Deactivate an active device of the license and end the session it holds (reason "admin").

    The license row is locked first, as activations and session starts lock it: a session start
    racing with the deactivation either finishes first (and its session is ended here) or sees
    the device inactive and is refused."""
    conn = await sql_connection(session)
    license_row = await lock_license_by_id(conn, license_id)
    if license_row is None:
        raise license_not_found()
    device = await session.scalar(
        select(Activation).where(Activation.id == device_id, Activation.license_id == license_id)
    )
    if device is None:
        raise AppError(404, ErrorCode.DEVICE_NOT_FOUND, "Device not found")
    if not device.is_active or not await licenses.deactivate_activation(conn, license_id, device_id):
        raise AppError(409, ErrorCode.CONFLICT, "Device is already deactivated")
    before = device_json(device)
    await webhook_events.activation_deactivated(conn, license_row, {**before, "activated_at": device.activated_at})
    ended = await end_open_session_of_device(conn, license_id, device.hardware_hash)
    return Deactivation(before, None if ended is None else int(ended["id"]))


async def count_active_devices(session: AsyncSession) -> int:
    """How many devices are active (the device list's total, loaded after the page)."""
    total = await session.scalar(select(func.count()).select_from(Activation).where(Activation.is_active))
    return int(total or 0)
