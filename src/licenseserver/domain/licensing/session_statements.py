"""SQL for client sessions in the SQL layer. When a session is live or has timed out is
licensing/session_rules.py's rule; these statements are built from its SQL form."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.licensing.license_statements import find_active_activation_id
from licenseserver.domain.licensing.session_rules import live_sql, silent_sql, timed_out_sql

SESSION_COLUMNS = "id, session_token, license_id, started_at, last_heartbeat, ended_at, end_reason"

END_TIMED_OUT_OF_LICENSE = Query(
    "UPDATE sessions SET ended_at = last_heartbeat, end_reason = 'timeout'"
    f" WHERE license_id = $1 AND {timed_out_sql('$2')} RETURNING id"
)
FIND_OPEN_OF_LICENSE = Query("SELECT id FROM sessions WHERE license_id = $1 AND ended_at IS NULL")
INSERT_SESSION = Query(
    "INSERT INTO sessions (session_token, license_id, activation_id, machine_id, hardware_hash,"
    " app_version, started_at, last_heartbeat) VALUES ($1, $2, $3, $4, $5, $6, {now}, {now})"
    f" RETURNING {SESSION_COLUMNS}"
)
# What a session start asks under the license lock, in one statement on PostgreSQL: the device's
# active activation, whether a live session holds the license, with the license's timed-out
# sessions ended on the way. A timed-out session never counts as live (session_rules), so the
# check does not depend on the ending being visible to the same statement.
START_CHECK = Query(
    "WITH ended AS (UPDATE sessions SET ended_at = last_heartbeat, end_reason = 'timeout'"
    f" WHERE license_id = $1 AND {timed_out_sql('$3')} RETURNING id)"
    " SELECT (SELECT activations.id FROM activations WHERE activations.license_id = $1"
    " AND activations.hardware_hash = $2 AND activations.is_active = TRUE) AS activation_id,"
    f" EXISTS (SELECT 1 FROM sessions WHERE license_id = $1 AND {live_sql('$3')}) AS held,"
    " (SELECT COUNT(*) FROM ended) AS timed_out"
)
# Migration 0013's function (why it is exact: sessions.start_session_in_one_call); $7 is today.
START_LICENSE_SESSION = Query(f"SELECT {SESSION_COLUMNS} FROM start_license_session($1, $2, $3, $4, $5, $6, $7)")
# Heartbeat's hot path: one statement finds the live session of this license and refreshes it.
HEARTBEAT = Query(
    "UPDATE sessions SET last_heartbeat = {now} FROM licenses"
    " WHERE sessions.session_token = $1 AND licenses.id = sessions.license_id"
    f" AND licenses.license_key = $2 AND {live_sql('$3', 'sessions')}"
    " RETURNING sessions.last_heartbeat"
)
# The same for every heartbeat of one event-loop turn (api/batched_calls.py): (token, key, timeout)
# triples as arrays, numbered so each answer finds its request; each pair asked once.
HEARTBEAT_MANY = Query(
    "WITH asked AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[])"
    " WITH ORDINALITY AS a(session_token, license_key, timeout_seconds, n))"
    " UPDATE sessions SET last_heartbeat = {now} FROM asked, licenses"
    " WHERE sessions.session_token = asked.session_token AND licenses.id = sessions.license_id"
    f" AND licenses.license_key = asked.license_key AND {live_sql('asked.timeout_seconds', 'sessions')}"
    " RETURNING asked.n, sessions.last_heartbeat"
)
# A session that already timed out ends as a timeout at its last heartbeat, whoever ends it.
END_SESSION = Query(
    "UPDATE sessions SET"
    f" ended_at = CASE WHEN {silent_sql('$2')} THEN last_heartbeat ELSE {{now}} END,"
    f" end_reason = CASE WHEN {silent_sql('$2')} THEN 'timeout' ELSE $3 END"
    f" WHERE session_token = $1 AND ended_at IS NULL RETURNING {SESSION_COLUMNS}"
)
GET_BY_TOKEN = Query(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_token = $1")
SWEEP_TIMED_OUT = Query(
    f"UPDATE sessions SET ended_at = last_heartbeat, end_reason = 'timeout' WHERE {timed_out_sql('$1')} RETURNING id"
)
COUNT_LIVE = Query(f"SELECT COUNT(*) AS n FROM sessions WHERE {live_sql('$1')}")


async def end_timed_out_of_license(conn: Connection, license_id: int, timeout_seconds: int) -> int:
    return len(await conn.fetch(END_TIMED_OUT_OF_LICENSE, license_id, timeout_seconds))


async def start_check(
    conn: Connection, license_id: int, hardware_hash: str, timeout_seconds: int
) -> tuple[int | None, bool]:
    """Under the license lock: (the device's active activation id or None, whether an open
    session still holds the license), the license's timed-out sessions ended first. One
    statement on PostgreSQL; SQLite, which has no UPDATE inside WITH, asks in three."""
    if conn.dialect == "postgresql":
        row = await conn.fetchrow(START_CHECK, license_id, hardware_hash, timeout_seconds)
        assert row is not None  # a SELECT without FROM always yields its row
        return row["activation_id"], bool(row["held"])
    activation = await find_active_activation_id(conn, license_id, hardware_hash)
    await end_timed_out_of_license(conn, license_id, timeout_seconds)
    return activation, await has_open_session(conn, license_id)


async def start_license_session(
    conn: Connection,
    license_key: str,
    hardware_hash: str,
    machine_id: str,
    app_version: str,
    session_token: str,
    timeout_seconds: int,
    today: date,
) -> Row | None:
    args = (license_key, hardware_hash, machine_id, app_version, session_token, timeout_seconds, today)
    return await conn.fetchrow(START_LICENSE_SESSION, *args)


async def has_open_session(conn: Connection, license_id: int) -> bool:
    return await conn.fetchrow(FIND_OPEN_OF_LICENSE, license_id) is not None


async def insert_session(conn: Connection, *values: object) -> Row:
    row = await conn.fetchrow(INSERT_SESSION, *values)
    assert row is not None  # INSERT ... RETURNING always yields the row
    return row


async def heartbeat(conn: Connection, token: str, license_key: str, timeout_seconds: int) -> Row | None:
    return await conn.fetchrow(HEARTBEAT, token, license_key, timeout_seconds)


async def heartbeat_many(conn: Connection, asked: Sequence[tuple[str, str, int]]) -> list[Row | None]:
    """`heartbeat` for many (token, license key, timeout) at once, in one statement (PostgreSQL
    only): the answers in the order asked. A pair asked twice is sent once and answered twice."""
    distinct = list(dict.fromkeys(asked))
    tokens, keys, timeouts = zip(*distinct, strict=True) if distinct else ((), (), ())
    rows = await conn.fetch(HEARTBEAT_MANY, list(tokens), list(keys), list(timeouts))
    by_pair: dict[tuple[str, str, int], Row] = {distinct[row["n"] - 1]: row for row in rows}
    return [by_pair.get(pair) for pair in asked]


async def end_session(conn: Connection, token: str, timeout_seconds: int, reason: str) -> Row | None:
    return await conn.fetchrow(END_SESSION, token, timeout_seconds, reason)


async def get_by_token(conn: Connection, token: str) -> Row | None:
    return await conn.fetchrow(GET_BY_TOKEN, token)


async def sweep_timed_out(conn: Connection, timeout_seconds: int) -> int:
    return len(await conn.fetch(SWEEP_TIMED_OUT, timeout_seconds))


async def count_live(conn: Connection, timeout_seconds: int) -> int:
    return int(await conn.fetchval(COUNT_LIVE, timeout_seconds))
