"""SQL for licenses and activations in the SQL layer (licenseserver.db.sql). The license row lock is
in licensing.locks, the count of active devices in licensing.activation_limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.licensing.activation_limit import room_for_one_more_sql
from licenseserver.domain.licensing.rules import usable_sql

LICENSE_COLUMNS = (
    "id, license_key, customer_id, license_type, valid_from, valid_until, max_activations, max_users, is_active"
)
ACTIVATION_COLUMNS = "id, license_id, hardware_hash, machine_name, app_version, activated_at, last_heartbeat, is_active"

GET_LICENSE = Query(f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE license_key = $1")
GET_LICENSE_WITH_CUSTOMER = Query(
    "SELECT l.id, l.license_key, l.license_type, l.valid_from, l.valid_until, l.max_activations,"
    " l.max_users, l.is_active, c.name AS customer_name"
    " FROM licenses l JOIN customers c ON c.id = l.customer_id WHERE l.license_key = $1"
)
REFRESH_ACTIVE_ACTIVATION = Query(
    "UPDATE activations SET last_heartbeat = {now},"
    " machine_name = CASE WHEN $3 = '' THEN machine_name ELSE $3 END,"
    " app_version = COALESCE($4, app_version)"
    f" WHERE license_id = $1 AND hardware_hash = $2 AND is_active = TRUE RETURNING {ACTIVATION_COLUMNS}"
)
# A device active on a usable license activating again: one statement, no license lock (the
# count of active devices does not change). The UPDATE re-checks is_active on the row it writes,
# so a device staff deactivate meanwhile is not revived; anything else takes the locked path.
REFRESH_KNOWN_DEVICE = Query(
    "UPDATE activations SET last_heartbeat = {now},"
    " machine_name = CASE WHEN $3 = '' THEN activations.machine_name ELSE $3 END,"
    " app_version = COALESCE($4, activations.app_version) FROM licenses"
    " WHERE licenses.license_key = $1 AND activations.license_id = licenses.id"
    f" AND activations.hardware_hash = $2 AND activations.is_active = TRUE AND {usable_sql('$5')}"
    " RETURNING activations.id, activations.license_id, activations.hardware_hash, activations.machine_name,"
    " activations.app_version, activations.activated_at, activations.last_heartbeat, activations.is_active"
)
# Under the license lock, the count and the insert in one statement: the device is added only
# while the license has room for it ($5 = max_activations); no row back means the limit is reached.
INSERT_ACTIVATION_IF_ROOM = Query(
    "INSERT INTO activations (license_id, hardware_hash, machine_name, app_version, activated_at,"
    " last_heartbeat, is_active) SELECT CAST($1 AS INTEGER), CAST($2 AS TEXT), CAST($3 AS TEXT),"
    f" CAST($4 AS TEXT), {{now}}, {{now}}, TRUE WHERE {room_for_one_more_sql('$1', '$5')}"
    f" RETURNING {ACTIVATION_COLUMNS}"
)
# A device's activation in one statement on PostgreSQL (license_calls.activate_in_one_call): a
# known device refreshed as REFRESH_KNOWN_DEVICE does; only when that found none, migration 0012's
# function adds the device (why it is exact: the migration). The NOT EXISTS asks nothing of the
# outer row, so PostgreSQL gates the call with a one-time filter and never runs the function for a
# known device. $5 is today.
REFRESH_OR_ACTIVATE_NEW = Query(
    f"WITH refreshed AS ({REFRESH_KNOWN_DEVICE.text})"
    " SELECT refreshed.*, TRUE AS already_active FROM refreshed"
    f" UNION ALL SELECT {ACTIVATION_COLUMNS}, FALSE FROM activate_new_device($1, $2, $3, $4, $5)"
    " WHERE NOT EXISTS (SELECT FROM refreshed)"
)
FIND_ACTIVE_ACTIVATION = Query(
    "SELECT id FROM activations WHERE license_id = $1 AND hardware_hash = $2 AND is_active = TRUE"
)
LIST_ACTIVATIONS = Query(f"SELECT {ACTIVATION_COLUMNS} FROM activations WHERE license_id = $1 ORDER BY id")
DEACTIVATE_ACTIVATION = Query(
    "UPDATE activations SET is_active = FALSE, deactivated_at = {now}"
    " WHERE id = $1 AND license_id = $2 AND is_active = TRUE RETURNING id"
)
# The stored last_heartbeat may lag the newest verify by at most this many seconds (CONTRACT.md,
# section 5): a verify writes only when the device's heartbeat is older or its version changed, so
# most verifies are one indexed read with nothing to write and no WAL to flush at commit.
VERIFY_WRITE_AFTER_SECONDS = 60
_VERIFY_MATCH_WHERE = (
    " FROM activations JOIN licenses ON activations.license_id = licenses.id"
    " WHERE licenses.license_key = $1 AND activations.hardware_hash = $2 AND activations.is_active = TRUE"
)
# Verify's hot path on PostgreSQL: every verify of one event-loop turn (api/batched_calls.py):
# the asked (key, device, version) triples come as arrays, numbered so each answer finds its request.
# Two verifies of one device in one batch update its row once, with one of the two versions.
VERIFY_AND_REFRESH_MANY = Query(
    "WITH asked AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
    " WITH ORDINALITY AS a(license_key, hardware_hash, app_version, n)),"
    " device AS (SELECT asked.n, asked.app_version AS asked_version, activations.id,"
    " activations.last_heartbeat, activations.app_version, licenses.license_key, licenses.valid_until,"
    " licenses.max_users FROM asked JOIN licenses ON licenses.license_key = asked.license_key"
    " JOIN activations ON activations.license_id = licenses.id AND activations.hardware_hash = asked.hardware_hash"
    f" AND activations.is_active = TRUE WHERE {usable_sql('$4')}),"
    " refreshed AS (UPDATE activations SET last_heartbeat = {now},"
    " app_version = COALESCE(device.asked_version, activations.app_version) FROM device"
    " WHERE activations.id = device.id AND activations.is_active = TRUE AND (device.last_heartbeat < {ago $5}"
    " OR device.app_version IS DISTINCT FROM COALESCE(device.asked_version, device.app_version)))"
    " SELECT n, license_key, valid_until, max_users FROM device"
)
# A verify alone (SQLite, where each reads on the loop's own connection): a SELECT and, for a stale
# or changed device, an UPDATE on the one connection the process holds (no network in between).
VERIFY_MATCH = Query(
    "SELECT activations.id AS activation_id, activations.app_version,"
    " activations.last_heartbeat < {ago $4} AS stale, licenses.license_key, licenses.valid_until, licenses.max_users"
    f"{_VERIFY_MATCH_WHERE} AND {usable_sql('$3')}"
)
REFRESH_ACTIVATION = Query(
    "UPDATE activations SET last_heartbeat = {now}, app_version = COALESCE($2, app_version) WHERE id = $1"
)


async def get_license(conn: Connection, license_key: str) -> Row | None:
    return await conn.fetchrow(GET_LICENSE, license_key)


async def get_license_with_customer(conn: Connection, license_key: str) -> Row | None:
    return await conn.fetchrow(GET_LICENSE_WITH_CUSTOMER, license_key)


async def refresh_active_activation(
    conn: Connection, license_id: int, hardware_hash: str, machine_name: str, app_version: str | None
) -> Row | None:
    return await conn.fetchrow(REFRESH_ACTIVE_ACTIVATION, license_id, hardware_hash, machine_name, app_version)


async def refresh_known_device(
    conn: Connection, license_key: str, hardware_hash: str, machine_name: str, app_version: str | None, today: date
) -> Row | None:
    return await conn.fetchrow(REFRESH_KNOWN_DEVICE, license_key, hardware_hash, machine_name, app_version, today)


async def insert_activation_if_room(
    conn: Connection, license_id: int, hardware_hash: str, machine_name: str, app_version: str | None, limit: int
) -> Row | None:
    return await conn.fetchrow(INSERT_ACTIVATION_IF_ROOM, license_id, hardware_hash, machine_name, app_version, limit)


async def refresh_or_activate_new(
    conn: Connection, license_key: str, hardware_hash: str, machine_name: str, app_version: str | None, today: date
) -> Row | None:
    """The known device refreshed or a new one added (`already_active` says which); None when
    neither: the license is missing, not usable today or full (PostgreSQL only)."""
    return await conn.fetchrow(REFRESH_OR_ACTIVATE_NEW, license_key, hardware_hash, machine_name, app_version, today)


async def find_active_activation_id(conn: Connection, license_id: int, hardware_hash: str) -> int | None:
    value: Any = await conn.fetchval(FIND_ACTIVE_ACTIVATION, license_id, hardware_hash)
    return None if value is None else int(value)


async def list_activations(conn: Connection, license_id: int) -> list[Row]:
    return list(await conn.fetch(LIST_ACTIVATIONS, license_id))


async def deactivate_activation(conn: Connection, license_id: int, activation_id: int) -> bool:
    return await conn.fetchrow(DEACTIVATE_ACTIVATION, activation_id, license_id) is not None


# What a verify that matched must write: (activation id, asked app version), or None.
Refresh = tuple[int, str | None]


async def verify_match(
    conn: Connection, license_key: str, hardware_hash: str, app_version: str | None, today: date
) -> tuple[Row | None, Refresh | None]:
    """The license's key, valid_until and max_users when this device may run it now (None
    otherwise), and the refresh to write when the device is stale or its version changed."""
    row = await conn.fetchrow(VERIFY_MATCH, license_key, hardware_hash, today, VERIFY_WRITE_AFTER_SECONDS)
    if row is not None and (row["stale"] or (app_version is not None and app_version != row["app_version"])):
        return row, (row["activation_id"], app_version)
    return row, None


async def refresh_activations(conn: Connection, refreshes: Sequence[Refresh]) -> None:
    """Write verify's refreshes (last_heartbeat now, the asked version), in one call to the driver."""
    await conn.execute_many(REFRESH_ACTIVATION, refreshes)


async def verify_and_refresh_many(
    conn: Connection, asked: Sequence[tuple[str, str, str | None]], today: date
) -> list[Row | None]:
    """`verify_and_refresh` for many (license key, hardware hash, app version) at once, in one
    statement (PostgreSQL only): the answers in the order asked."""
    keys, hashes, versions = zip(*asked, strict=True) if asked else ((), (), ())
    rows = await conn.fetch(
        VERIFY_AND_REFRESH_MANY, list(keys), list(hashes), list(versions), today, VERIFY_WRITE_AFTER_SECONDS
    )
    answers: list[Row | None] = [None] * len(asked)
    for row in rows:
        answers[row["n"] - 1] = row
    return answers
