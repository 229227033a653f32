"""The webhook events of licenses, activations and sessions: what each carries
(docs/integrations.md, "The events").

Each function is called where its change happens, on the change's own connection, so the event
commits with the change (domain/webhooks/outbox.py). Each writes only when an enabled endpoint
wants the type, and reads what it needs to build the data only then: when nothing subscribes,
the rules it is called from run exactly the statements they ran before.

The data carries ids and the facts a shop needs, never a secret: no session token (it works as
a credential with the license key on heartbeat and end), no API key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.licensing import session_statements
from licenseserver.domain.licensing.license_statements import LICENSE_COLUMNS, get_license
from licenseserver.domain.licensing.rules import expired_sql, usable_sql
from licenseserver.domain.licensing.schemas import ActivateRequest
from licenseserver.domain.licensing.session_schemas import SessionStartRequest
from licenseserver.domain.webhooks.events import (
    ACTIVATION_CREATED,
    ACTIVATION_DEACTIVATED,
    ACTIVATION_REFUSED,
    LICENSE_CREATED,
    LICENSE_DEACTIVATED,
    LICENSE_EXPIRING,
    LICENSE_UPDATED,
    SESSION_ENDED,
    SESSION_REFUSED,
    SESSION_STARTED,
)
from licenseserver.domain.webhooks.outbox import emit, wants
from licenseserver.domain.webhooks.scanner import DueLicense
from licenseserver.kit.errors import ErrorCode
from licenseserver.kit.timefmt import as_utc

LICENSE_FIELDS = tuple(name.strip() for name in LICENSE_COLUMNS.split(","))
GET_LICENSE_BY_ID = Query(f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = $1")
SESSION_DETAILS = Query(
    "SELECT s.id, s.license_id, s.hardware_hash, s.machine_id, s.app_version, s.started_at, s.ended_at,"
    " s.end_reason, l.license_key, l.customer_id"
    " FROM sessions s JOIN licenses l ON l.id = s.license_id WHERE s.id = $1"
)
# The licenses the expiry scan (domain/webhooks/scanner.py) tells of: usable and ending by $2;
# ended before today ($1) but not before $2. Both ranges are walks of ix_licenses_valid_until.
EXPIRING_BY = Query(
    f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE {usable_sql('$1')} AND valid_until <= $2 ORDER BY id"
)
EXPIRED_SINCE = Query(
    f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE {expired_sql('$1')} AND valid_until >= $2 ORDER BY id"
)
OPEN_SESSION_OF_LICENSE = Query(
    "SELECT id, hardware_hash FROM sessions WHERE license_id = $1 AND ended_at IS NULL ORDER BY id LIMIT 1"
)


def _field(source: Any, name: str) -> Any:
    # A row of the SQL layer (a dict, or an asyncpg Record, which is no registered Mapping) or an ORM object.
    return source[name] if hasattr(source, "keys") else getattr(source, name)


def license_data(license_row: Any) -> dict[str, Any]:
    """A license (a row of the SQL layer or an ORM object) as events show it."""
    data = {name: _field(license_row, name) for name in LICENSE_FIELDS}
    data["license_id"] = data.pop("id")
    data["is_active"] = bool(data["is_active"])
    return data


def _activation_data(license_row: Any, activation: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "activation_id": activation["id"],
        "license_id": _field(license_row, "id"),
        "license_key": _field(license_row, "license_key"),
        "customer_id": _field(license_row, "customer_id"),
        "hardware_hash": activation["hardware_hash"],
        "machine_name": activation["machine_name"],
        "app_version": activation["app_version"],
        "activated_at": activation["activated_at"],
    }


# ---- licenses ------------------------------------------------------------------------------


async def license_created(conn: Connection, license_row: Any) -> None:
    await emit(conn, LICENSE_CREATED, license_data(license_row))


async def license_changed(conn: Connection, license_id: int, before: dict[str, Any], after: dict[str, Any]) -> None:
    """After the change is written (flushed): license.deactivated when it switched the license
    off, else license.updated; the data is the license as it is now, and `previous` the changed
    fields' old values."""
    if not after:
        return
    event_type = LICENSE_DEACTIVATED if before.get("is_active") and after.get("is_active") is False else LICENSE_UPDATED
    if not await wants(conn, event_type):
        return
    row = await conn.fetchrow(GET_LICENSE_BY_ID, license_id)
    if row is not None:
        await emit(conn, event_type, {**license_data(row), "previous": before})


# ---- activations ---------------------------------------------------------------------------


async def activation_created(conn: Connection, license_row: Row, activation: Row | None) -> None:
    if activation is not None:
        await emit(conn, ACTIVATION_CREATED, _activation_data(license_row, activation))


async def activation_created_wanted(conn: Connection) -> bool:
    """Whether `activation_created` would write its event now: the same reading of the
    subscriptions (at most SUBSCRIPTION_CACHE_SECONDS old, else read again on `conn`), for a
    caller that must pick the path that can write it."""
    return await wants(conn, ACTIVATION_CREATED)


async def activation_deactivated(conn: Connection, license_row: Row, device: Mapping[str, Any]) -> None:
    """A device deactivated by staff (panel or management API); `device` as before the change."""
    data = _activation_data(license_row, device)
    await emit(conn, ACTIVATION_DEACTIVATED, {**data, "deactivated_by": "staff"})


async def activation_refused(conn: Connection, request: ActivateRequest) -> None:
    """A new device refused at the license's limit. The refused attempt's transaction rolled
    back, so this is written on a connection of its own, after it (api/routes/license.py)."""
    if not await wants(conn, ACTIVATION_REFUSED):
        return
    license_row = await get_license(conn, request.license_key)
    if license_row is None:
        return
    await emit(
        conn,
        ACTIVATION_REFUSED,
        {
            "license_id": license_row["id"],
            "license_key": license_row["license_key"],
            "customer_id": license_row["customer_id"],
            "hardware_hash": request.hardware_hash,
            "machine_name": request.machine_name,
            "app_version": request.app_version,
            "max_activations": license_row["max_activations"],
            "reason": str(ErrorCode.ACTIVATION_LIMIT_REACHED),
        },
    )


# ---- sessions ------------------------------------------------------------------------------


def _session_data(row: Mapping[str, Any]) -> dict[str, Any]:
    data = {
        "session_id": row["id"],
        "license_id": row["license_id"],
        "license_key": row["license_key"],
        "customer_id": row["customer_id"],
        "hardware_hash": row["hardware_hash"],
        "machine_id": row["machine_id"],
        "app_version": row["app_version"],
        "started_at": row["started_at"],
    }
    if row.get("ended_at") is not None:
        duration = as_utc(row["ended_at"]) - as_utc(row["started_at"])
        data.update(
            ended_at=row["ended_at"],
            end_reason=row["end_reason"],
            duration_seconds=max(0, int(duration.total_seconds())),
        )
    return data


async def session_started(conn: Connection, license_row: Row, session: Row, request: SessionStartRequest) -> None:
    started = {
        **dict(session),
        "license_key": license_row["license_key"],
        "customer_id": license_row["customer_id"],
        "hardware_hash": request.hardware_hash,
        "machine_id": request.machine_id,
        "app_version": request.version,
    }
    await emit(conn, SESSION_STARTED, _session_data(started))


async def session_events_wanted(conn: Connection) -> bool:
    """Whether a session start could write an event now (session.started, or session.ended for a
    timed-out session it ends): for a caller that must pick the path that writes them."""
    return await wants(conn, SESSION_STARTED) or await wants(conn, SESSION_ENDED)


async def session_ended(conn: Connection, session: Row | None) -> None:
    """A session this call ended (None: it ended nothing), whoever ended it: client, staff,
    timeout. The end reason is the one recorded (a silent session ends as a timeout)."""
    if session is None or not await wants(conn, SESSION_ENDED):
        return
    row = await conn.fetchrow(SESSION_DETAILS, session["id"])
    if row is not None:
        await emit(conn, SESSION_ENDED, _session_data(row))


async def end_timed_out_of_license(conn: Connection, license_id: int, timeout_seconds: int) -> None:
    """Before a session start (under the license lock), when session.ended is wanted: end the
    license's timed-out sessions here, one by one told, so the start's own check finds none left."""
    if not await wants(conn, SESSION_ENDED):
        return
    for row in await conn.fetch(session_statements.END_TIMED_OUT_OF_LICENSE, license_id, timeout_seconds):
        await session_ended(conn, row)


async def sweep_timed_out(conn: Connection, timeout_seconds: int) -> int:
    """The periodic sweep: end the silent sessions (one UPDATE); when session.ended is wanted,
    tell each, in the caller's transaction (api/app.py opens one then). How many ended."""
    if not await wants(conn, SESSION_ENDED):
        return await session_statements.sweep_timed_out(conn, timeout_seconds)
    ended = await conn.fetch(session_statements.SWEEP_TIMED_OUT, timeout_seconds)
    for row in ended:
        await session_ended(conn, row)
    return len(ended)


async def session_refused(conn: Connection, request: SessionStartRequest) -> None:
    """A start refused because another session holds the license; written after the refused
    transaction rolled back, on a connection of its own (api/routes/sessions.py)."""
    if not await wants(conn, SESSION_REFUSED):
        return
    license_row = await get_license(conn, request.license_key)
    if license_row is None:
        return
    holder = await conn.fetchrow(OPEN_SESSION_OF_LICENSE, license_row["id"])
    await emit(
        conn,
        SESSION_REFUSED,
        {
            "license_id": license_row["id"],
            "license_key": license_row["license_key"],
            "customer_id": license_row["customer_id"],
            "hardware_hash": request.hardware_hash,
            "machine_id": request.machine_id,
            "app_version": request.version,
            "held_by_session_id": None if holder is None else holder["id"],
            "reason": str(ErrorCode.SESSION_CONFLICT),
        },
    )


# ---- the expiry scan -----------------------------------------------------------------------


async def due_for_expiry_events(
    conn: Connection, event_type: str, today: date, days_before: int, catch_up_days: int
) -> Sequence[DueLicense]:
    """The scanner's question (domain/webhooks/scanner.py `DueLicenses`): the licenses that
    license.expiring (usable, ending within `days_before` days) or license.expired (ended
    within the last `catch_up_days` days) may tell of today, with the event's data."""
    if event_type == LICENSE_EXPIRING:
        rows = await conn.fetch(EXPIRING_BY, today, today + timedelta(days=days_before))
        return [_due(row, days_left=(row["valid_until"] - today).days) for row in rows]
    rows = await conn.fetch(EXPIRED_SINCE, today, today - timedelta(days=catch_up_days))
    return [_due(row) for row in rows]


def _due(row: Row, **extra: Any) -> DueLicense:
    return DueLicense(row["id"], row["valid_until"], {**license_data(row), **extra})
