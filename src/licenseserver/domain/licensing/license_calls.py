"""Activation, verification and license info: the rules clients and staff share.

Each rule runs on the connection it is given and never opens or commits a transaction: the
caller is the unit of work (the API's routes open `db.transaction()` for activation and
`db.autocommit()` for the one-statement verify and the read-only info; the panel runs
`activate_on` inside its request's ORM transaction through db.unit_of_work.sql_connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from licenseserver.db.sql import Connection, Row
from licenseserver.domain.clients.service import ClientCache
from licenseserver.domain.licensing import license_statements as repo
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.locks import lock_license
from licenseserver.domain.licensing.rules import (
    device_not_activated,
    license_not_found,
    require_usable,
    unusable_reason,
)
from licenseserver.domain.licensing.schemas import ActivateRequest, VerifyRequest
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import iso_date, iso_utc, utc_today


@dataclass(frozen=True, slots=True)
class ActivationOutcome:
    activation: Row
    license_key: str
    already_active: bool


async def activate_on(conn: Connection, request: ActivateRequest) -> ActivationOutcome:
    """Activate a device on a license, or refresh it when it is already active there.

    Runs inside the caller's transaction (the API's own, or the panel's request transaction via
    db.unit_of_work.sql_connection), so clients and staff obey one rule. The license row stays locked
    until commit, so concurrent activations of one license, on any number of instances, are
    counted one after another and never exceed max_activations.
    """
    license_row = require_usable(await lock_license(conn, request.license_key), utc_today())
    args = (license_row["id"], request.hardware_hash, request.machine_name, request.app_version)
    existing = await repo.refresh_active_activation(conn, *args)
    if existing is not None:
        return ActivationOutcome(existing, license_row["license_key"], already_active=True)
    return await _add_device(conn, license_row, request)


async def activate_new_on(conn: Connection, request: ActivateRequest) -> ActivationOutcome:
    """`activate_on` for a device that `reactivate_on` just found not active: under the license
    lock, the count and the insert in one statement, looking for the device again only at the
    limit. Should a concurrent activation of the same device have committed in between below
    the limit, the insert raises one of db.sql.DUPLICATE_ROW and the caller runs `activate_on`."""
    license_row = require_usable(await lock_license(conn, request.license_key), utc_today())
    created = await _insert_if_room(conn, license_row, request)
    if created is not None:
        return created
    # At the limit: the one device that may still come in is this one, activated meanwhile.
    args = (license_row["id"], request.hardware_hash, request.machine_name, request.app_version)
    existing = await repo.refresh_active_activation(conn, *args)
    if existing is not None:
        return ActivationOutcome(existing, license_row["license_key"], already_active=True)
    raise _limit_reached(license_row)


async def activate_in_one_call(conn: Connection, request: ActivateRequest) -> ActivationOutcome | None:
    """A device's activation in one round trip on PostgreSQL, on the caller's autocommit
    connection of the durable pool: a known device is refreshed (`reactivate_on`'s UPDATE) and a
    new one added by the function activate_new_device (migration 0012) in the same statement,
    where the transaction takes five round trips (the quick UPDATE, BEGIN, lock, insert, COMMIT).

    The function locks the license, checks it is usable today and inserts the device while there
    is room, the count in a statement of its own: a VOLATILE function takes a fresh snapshot per
    statement, after the lock was granted, so the count is as exact as the transaction's. None
    when it neither refreshed nor added (no such license, not usable, full): then
    `activate_new_on` decides and answers, refusals included. On SQLite, and while
    activation.created is wanted (the function does not write the event, which must commit with
    the activation), only `reactivate_on`'s quick UPDATE runs here. A concurrent activation of the
    same device raises db.sql.DUPLICATE_ROW."""
    if conn.dialect != "postgresql" or await webhook_events.activation_created_wanted(conn):
        return await reactivate_on(conn, request)
    args = (request.license_key, request.hardware_hash, request.machine_name, request.app_version)
    row = await repo.refresh_or_activate_new(conn, *args, utc_today())
    if row is None:
        return None
    return ActivationOutcome(row, request.license_key, already_active=bool(row["already_active"]))


async def _add_device(conn: Connection, license_row: Row, request: ActivateRequest) -> ActivationOutcome:
    created = await _insert_if_room(conn, license_row, request)
    if created is None:
        raise _limit_reached(license_row)
    return created


async def _insert_if_room(conn: Connection, license_row: Row, request: ActivateRequest) -> ActivationOutcome | None:
    """The device added when the license has room for it (activation_limit's rule, in SQL)."""
    args = (license_row["id"], request.hardware_hash, request.machine_name, request.app_version)
    row = await repo.insert_activation_if_room(conn, *args, license_row["max_activations"])
    await webhook_events.activation_created(conn, license_row, row)
    return None if row is None else ActivationOutcome(row, license_row["license_key"], already_active=False)


def _limit_reached(license_row: Row) -> AppError:
    limit = license_row["max_activations"]
    return AppError(409, ErrorCode.ACTIVATION_LIMIT_REACHED, f"Activation limit reached ({limit} devices)")


async def reactivate_on(conn: Connection, request: ActivateRequest) -> ActivationOutcome | None:
    """The quick path of a device that is already active on a usable license: its row refreshed
    in one statement, without the license lock (nothing is counted). None when the device is not
    active there or the license is not usable: then `activate_on`, under the lock, decides."""
    args = (request.license_key, request.hardware_hash, request.machine_name, request.app_version)
    row = await repo.refresh_known_device(conn, *args, utc_today())
    return None if row is None else ActivationOutcome(row, request.license_key, already_active=True)


async def require_active_device(conn: Connection, license_id: int, hardware_hash: str) -> int:
    """The id of the device's active activation of the license; 403 DEVICE_NOT_ACTIVATED without one."""
    activation_id = await repo.find_active_activation_id(conn, license_id, hardware_hash)
    if activation_id is None:
        raise device_not_activated()
    return activation_id


def activation_json(row: Row, license_key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": row["id"]}
    if license_key is not None:
        body["license_key"] = license_key
    body.update(
        hardware_hash=row["hardware_hash"],
        machine_name=row["machine_name"],
        app_version=row["app_version"],
        activated_at=iso_utc(row["activated_at"]),
        last_heartbeat=iso_utc(row["last_heartbeat"]),
        is_active=bool(row["is_active"]),
    )
    return body


async def verify_read_on(conn: Connection, request: VerifyRequest) -> tuple[Row | AppError, repo.Refresh | None]:
    """The license row when this device may run it now, or why not; and the refresh of its
    heartbeat and version to write (None when the device is fresh), which the caller writes with
    the other verifies' refreshes of its turn (`refresh_activations_on`; SQLite, one at a time)."""
    today = utc_today()
    row, refresh = await repo.verify_match(conn, request.license_key, request.hardware_hash, request.app_version, today)
    return (row if row is not None else await _verify_refusal(conn, request, today)), refresh


async def refresh_activations_on(conn: Connection, refreshes: Sequence[repo.Refresh]) -> None:
    await repo.refresh_activations(conn, refreshes)


async def verify_many_on(conn: Connection, requests: Sequence[VerifyRequest]) -> list[Row | None]:
    """`verify_read_on` for many requests in one statement (PostgreSQL), refreshes included: the
    license row where the device may run it now, None where not (`verify_refusal_on` says why)."""
    asked = [(r.license_key, r.hardware_hash, r.app_version) for r in requests]
    return await repo.verify_and_refresh_many(conn, asked, utc_today())


async def verify_refusal_on(conn: Connection, request: VerifyRequest) -> AppError:
    return await _verify_refusal(conn, request, utc_today())


async def verify_answer(checked: Row | AppError, clients: ClientCache, request: VerifyRequest) -> dict[str, Any]:
    """A well-formed verify always answers; `valid` says whether this device may run now. The
    client's release comes from its cache, after the caller has given its connection back."""
    if isinstance(checked, AppError):
        return {"valid": False, "code": str(checked.code), "message": checked.message}
    client = await clients.get()
    latest = client.latest if client else None
    return {
        "valid": True,
        "message": "License is valid",
        "license": {
            "key": checked["license_key"],
            "valid_until": iso_date(checked["valid_until"]),
            "max_users": checked["max_users"],
        },
        "update_available": client.update_available(request.app_version) if client else False,
        "latest_version": latest.version if latest else None,
    }


async def _verify_refusal(conn: Connection, request: VerifyRequest, today: date) -> AppError:
    """Why the one-statement verify matched nothing (the rare path, so a second query is fine)."""
    license_row = await repo.get_license(conn, request.license_key)
    if license_row is None:
        return license_not_found()
    reason = unusable_reason(license_row, today)
    if reason is not None:
        return reason
    return device_not_activated()


async def license_info(conn: Connection, license_key: str) -> dict[str, Any]:
    row = await repo.get_license_with_customer(conn, license_key)
    if row is None:
        raise license_not_found()
    activations = await repo.list_activations(conn, row["id"])
    return {
        "license": {
            "id": row["id"],
            "key": row["license_key"],
            "customer_name": row["customer_name"],
            "type": row["license_type"],
            "valid_from": iso_date(row["valid_from"]),
            "valid_until": iso_date(row["valid_until"]),
            "max_activations": row["max_activations"],
            "max_users": row["max_users"],
            "is_active": bool(row["is_active"]),
        },
        "activations": [activation_json(a) for a in activations],
    }
