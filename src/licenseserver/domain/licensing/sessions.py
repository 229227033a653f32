"""One live session per license: start, heartbeat, end, and the sweep that ends timeouts.

Each rule runs on the connection it is given and never opens or commits a transaction: the API's
routes are the unit of work (`db.transaction()` for start, which reads then writes;
`db.autocommit()` for the one-statement end, heartbeat, sweep and count). The client's settings
come from its cache before a connection is borrowed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from licenseserver.db.sql import Connection, Row
from licenseserver.domain.clients.service import Client, ClientCache
from licenseserver.domain.licensing import session_statements as repo
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.locks import lock_license
from licenseserver.domain.licensing.rules import device_not_activated, require_usable
from licenseserver.domain.licensing.session_schemas import (
    SessionEndRequest,
    SessionHeartbeatRequest,
    SessionStartRequest,
)
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import as_utc, iso_utc, utc_today

SESSION_CONFLICT_MESSAGE = (
    "Es ist nur eine Sitzung erlaubt. Diese Lizenz wird bereits auf einem anderen Gerät verwendet."
)
END_REASON_CLIENT = "normal"
END_REASON_ADMIN = "admin"
END_REASON_TIMEOUT = "timeout"


def session_not_found() -> AppError:
    return AppError(404, ErrorCode.SESSION_NOT_FOUND, "Session not found or already ended")


async def require_supported_client(clients: ClientCache, version: str) -> Client:
    """The configured client (503 without one), refusing a version below its minimum; asked
    before a session start borrows a connection, as the cache may refresh on its own."""
    client = await clients.require()
    if client.is_below_minimum(version):
        latest = client.latest
        raise AppError(
            403,
            ErrorCode.VERSION_TOO_OLD,
            f"Version {version} is no longer supported; please update",
            minimum_version=str(client.minimum_version),
            download_url=latest.download_url if latest else None,
        )
    return client


async def start_session(conn: Connection, client: Client, request: SessionStartRequest) -> dict[str, Any]:
    """Start the license's one session, in the caller's transaction. The license row lock makes
    parallel starts take turns; the partial unique index on open sessions backs the rule up in
    the schema itself."""
    license_row = require_usable(await lock_license(conn, request.license_key), utc_today())
    await webhook_events.end_timed_out_of_license(conn, license_row["id"], client.session_timeout)
    check = repo.start_check(conn, license_row["id"], request.hardware_hash, client.session_timeout)
    activation_id, held = await check
    if activation_id is None:
        raise device_not_activated()
    if held:
        raise AppError(409, ErrorCode.SESSION_CONFLICT, SESSION_CONFLICT_MESSAGE)
    row = await repo.insert_session(
        conn,
        str(uuid.uuid4()),
        license_row["id"],
        activation_id,
        request.machine_id,
        request.hardware_hash,
        request.version,
    )
    await webhook_events.session_started(conn, license_row, row, request)
    return started_json(row, client, request)


async def start_session_in_one_call(
    conn: Connection, client: Client, request: SessionStartRequest
) -> dict[str, Any] | None:
    """`start_session` in one round trip on PostgreSQL, on the caller's autocommit connection of
    the durable pool, where the transaction takes five (BEGIN, lock, check, insert, COMMIT).

    The function start_license_session (migration 0013) locks the license while it is usable
    today, then finds the device's activation, ends the license's timed-out sessions and inserts
    the session unless a live one holds the license, each in a statement of its own: a VOLATILE
    function takes a fresh snapshot per statement, after the lock was granted, so the one-session
    rule is as exact as in the transaction. PostgreSQL only: the route asks for it there alone, so
    a start on SQLite borrows no connection for it. None when it started nothing (no such license,
    not usable, device not activated, session held), or while session.started or session.ended is
    wanted (the function writes no event, and events commit with their change): then
    `start_session` decides and answers, refusals included."""
    if await webhook_events.session_events_wanted(conn):
        return None
    args = (request.license_key, request.hardware_hash, request.machine_id, request.version)
    row = await repo.start_license_session(conn, *args, str(uuid.uuid4()), client.session_timeout, utc_today())
    return None if row is None else started_json(row, client, request)


def started_json(row: Row, client: Client, request: SessionStartRequest) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Session started",
        "session_token": row["session_token"],
        "heartbeat_interval": client.heartbeat_interval,
        "session_timeout": client.session_timeout,
        "started_at": iso_utc(row["started_at"]),
        **client.update_info(request.version),
    }


async def heartbeat(conn: Connection, client: Client, request: SessionHeartbeatRequest) -> dict[str, Any]:
    """One UPDATE, so the caller runs it on an autocommit connection."""
    row = await repo.heartbeat(conn, request.session_token, request.license_key, client.session_timeout)
    return heartbeat_json(row, client)


async def heartbeat_many_on(
    conn: Connection, asked: Sequence[tuple[SessionHeartbeatRequest, Client]]
) -> list[Row | None]:
    """`heartbeat` for many requests in one statement (PostgreSQL): the refreshed session's row,
    None where no live session matched; `heartbeat_json` makes the answer of each."""
    triples = [(r.session_token, r.license_key, client.session_timeout) for r, client in asked]
    return await repo.heartbeat_many(conn, triples)


def heartbeat_json(row: Row | None, client: Client) -> dict[str, Any]:
    if row is None:
        raise session_not_found()
    return {
        "success": True,
        "last_heartbeat": iso_utc(row["last_heartbeat"]),
        "heartbeat_interval": client.heartbeat_interval,
    }


def ended_json(row: Row) -> dict[str, Any]:
    duration = as_utc(row["ended_at"]) - as_utc(row["started_at"])
    return {
        "success": True,
        "session_token": row["session_token"],
        "duration_seconds": max(0, int(duration.total_seconds())),
        "end_reason": row["end_reason"],
        "ended_at": iso_utc(row["ended_at"]),
    }


async def end_session(
    conn: Connection, client: Client, request: SessionEndRequest, reason: str = END_REASON_CLIENT
) -> tuple[dict[str, Any], bool]:
    """End a session: one UPDATE, so the API runs it on an autocommit connection. Ending one that
    already ended answers its recorded end again (clients retry on network errors); the flag
    says whether this call did the ending."""
    row = await repo.end_session(conn, request.session_token, client.session_timeout, reason)
    ended_now = row is not None
    await webhook_events.session_ended(conn, row)
    if row is None:
        row = await repo.get_by_token(conn, request.session_token)
    if row is None:
        raise session_not_found()
    return ended_json(row), ended_now


async def sweep_timed_out_sessions(conn: Connection, client: Client) -> int:
    """End the sessions that stopped beating (one UPDATE); how many."""
    return await webhook_events.sweep_timed_out(conn, client.session_timeout)


async def count_live_sessions(conn: Connection, client: Client) -> int:
    return await repo.count_live(conn, client.session_timeout)
