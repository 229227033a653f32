"""Sessions as staff see them: the live ones of every license, a license's history, and ending a
session from the panel.

Ending goes through the very END_SESSION statement clients use (domain/licensing/session_statements.py),
run on the panel's transaction via db.unit_of_work.sql_connection, so a staff end and a client end
follow one rule: a session that had already timed out is recorded as a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Result, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientSession, Customer, License
from licenseserver.db.sql import Connection, Query, Row
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.clients.service import current_session_timeout, session_timeout_expression
from licenseserver.domain.licensing import session_statements as repo
from licenseserver.domain.licensing import webhook_events
from licenseserver.domain.licensing.session_rules import live_condition
from licenseserver.domain.licensing.sessions import END_REASON_ADMIN, session_not_found
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import as_utc

TOKEN_OF_SESSION = Query("SELECT session_token, license_id FROM sessions WHERE id = $1")
OPEN_SESSION_OF_DEVICE = Query(
    "SELECT session_token FROM sessions WHERE license_id = $1 AND hardware_hash = $2 AND ended_at IS NULL"
)


@dataclass(frozen=True, slots=True)
class SessionView:
    id: int
    license_id: int
    license_key: str
    customer_name: str
    machine_id: str
    machine_name: str | None  # the computer's name its activation of the license was given
    hardware_hash: str
    app_version: str | None
    started_at: datetime
    last_heartbeat: datetime
    ended_at: datetime | None
    end_reason: str | None
    live: bool

    @property
    def duration_seconds(self) -> int:
        end = self.ended_at or self.last_heartbeat
        return max(0, int((as_utc(end) - as_utc(self.started_at)).total_seconds()))


async def session_timeout(session: AsyncSession) -> int:
    """The timeout the live list is judged by, for the page to show."""
    timeout = await session.scalar(select(session_timeout_expression()))
    assert timeout is not None  # COALESCE with the default
    return int(timeout)


def _machine_name() -> Any:
    """The computer's name from the device's activation of the session's license (the newest,
    should it have been activated again); a session does not carry it itself."""
    return (
        select(func.nullif(Activation.machine_name, ""))
        .where(
            Activation.license_id == ClientSession.license_id, Activation.hardware_hash == ClientSession.hardware_hash
        )
        .order_by(Activation.is_active.desc(), Activation.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _sessions_query() -> Select[*tuple[Any, ...]]:
    """Sessions with their license and customer, and whether each is live now (database clock)."""
    return select(
        ClientSession.id,
        ClientSession.license_id,
        License.license_key,
        Customer.name.label("customer_name"),
        ClientSession.machine_id,
        _machine_name().label("machine_name"),
        ClientSession.hardware_hash,
        ClientSession.app_version,
        ClientSession.started_at,
        ClientSession.last_heartbeat,
        ClientSession.ended_at,
        ClientSession.end_reason,
        live_condition().label("live"),
    ).select_from(
        ClientSession.__table__.join(License.__table__, License.id == ClientSession.license_id).join(
            Customer.__table__, Customer.id == License.customer_id
        )
    )


def _views(rows: Result[*tuple[Any, ...]]) -> list[SessionView]:
    return [SessionView(**{**row._mapping, "live": bool(row.live)}) for row in rows]


async def live_sessions(session: AsyncSession, limit: int, offset: int) -> tuple[list[SessionView], int]:
    """The live sessions (not ended, heard from within the timeout), newest first, and their total."""
    condition = live_condition()
    query = _sessions_query().where(condition).order_by(ClientSession.started_at.desc(), ClientSession.id.desc())
    rows = await session.execute(query.limit(limit).offset(offset))
    total = await session.scalar(select(func.count()).select_from(ClientSession).where(condition))
    return _views(rows), int(total or 0)


async def sessions_of_license(
    session: AsyncSession, license_id: int, limit: int, offset: int
) -> tuple[list[SessionView], int]:
    """A license's sessions, live and ended, newest first, and how many it has in all."""
    query = _sessions_query().where(ClientSession.license_id == license_id)
    rows = await session.execute(query.order_by(ClientSession.id.desc()).limit(limit).offset(offset))
    total = await session.scalar(
        select(func.count()).select_from(ClientSession).where(ClientSession.license_id == license_id)
    )
    return _views(rows), int(total or 0)


async def end_session_by_staff(session: AsyncSession, session_id: int, license_id: int | None = None) -> Row:
    """End a session from the panel (end_reason "admin"); the ended row. Unknown id, or one of
    another license when `license_id` is given: 404; an already ended session: 409."""
    conn = await sql_connection(session)
    found = await conn.fetchrow(TOKEN_OF_SESSION, session_id)
    if found is None or (license_id is not None and found["license_id"] != license_id):
        raise session_not_found()
    ended = await repo.end_session(conn, found["session_token"], await current_session_timeout(conn), END_REASON_ADMIN)
    if ended is None:
        raise AppError(409, ErrorCode.CONFLICT, "Session has already ended")
    await webhook_events.session_ended(conn, ended)
    return ended


async def end_open_session_of_device(conn: Connection, license_id: int, hardware_hash: str) -> Row | None:
    """End the open session a device holds on a license (reason "admin"), if any: a deactivated
    device must not keep running on a session it started before."""
    token = await conn.fetchval(OPEN_SESSION_OF_DEVICE, license_id, hardware_hash)
    if token is None:
        return None
    ended = await repo.end_session(conn, token, await current_session_timeout(conn), END_REASON_ADMIN)
    await webhook_events.session_ended(conn, ended)
    return ended
