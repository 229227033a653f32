"""Session endpoints: one live session per license, kept alive by heartbeats.

Each endpoint is its request's unit of work: it takes the client's settings from the cache, then
opens the transaction (start; on PostgreSQL first one call on an autocommit connection) or the
autocommit connection (end: one UPDATE, and for a session already ended a read of its recorded
end) the domain rule runs on. The one-UPDATE heartbeat runs on an autocommit connection too,
batched with the other heartbeats of its event-loop turn on PostgreSQL (api/batched_calls.py)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.api.schemas import (
    API_KEY_ERRORS,
    BODY_ERRORS,
    DB_ERRORS,
    HeartbeatResponse,
    SessionEndResponse,
    SessionStartResponse,
    errors,
)
from licenseserver.api.state import api_state
from licenseserver.db.sql import Database
from licenseserver.domain.clients.service import Client
from licenseserver.domain.licensing import sessions, webhook_events
from licenseserver.domain.licensing.session_schemas import (
    SessionEndRequest,
    SessionHeartbeatRequest,
    SessionStartRequest,
)
from licenseserver.domain.webhooks.events import SESSION_ENDED, SESSION_REFUSED
from licenseserver.domain.webhooks.outbox import may_want
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.metrics import SESSIONS_ENDED, SESSIONS_REFUSED, SESSIONS_STARTED
from licenseserver.kit.validation import parse_body, request_body_doc

router = APIRouter(prefix="/api/license/session", tags=["Sessions"])
NO_CLIENT = (503, "CLIENT_NOT_CONFIGURED")
log = logging.getLogger(__name__)


@router.post(
    "/start",
    summary="Start the license's single session",
    response_model=SessionStartResponse,
    openapi_extra=request_body_doc(SessionStartRequest),
    responses=errors(
        *API_KEY_ERRORS,
        *BODY_ERRORS,
        *DB_ERRORS,
        NO_CLIENT,
        (404, "LICENSE_NOT_FOUND"),
        (403, "LICENSE_INACTIVE"),
        (403, "LICENSE_EXPIRED"),
        (403, "LICENSE_NOT_YET_VALID"),
        (403, "DEVICE_NOT_ACTIVATED"),
        (403, "VERSION_TOO_OLD"),
        (409, "SESSION_CONFLICT"),
        (409, "CONFLICT"),
    ),
)
async def start(request: Request) -> Response:
    state = api_state(request)
    body = await parse_body(request, SessionStartRequest)
    try:
        client = await sessions.require_supported_client(state.clients, body.version)
        result = await _start(state.db, client, body)
    except AppError as refusal:
        SESSIONS_REFUSED.labels(str(refusal.code)).inc()
        if refusal.code == ErrorCode.SESSION_CONFLICT and may_want(SESSION_REFUSED):
            await _tell_refused(state.db, body)
        raise
    SESSIONS_STARTED.inc()
    return JsonResponse(result)


@router.post(
    "/heartbeat",
    summary="Keep a session alive",
    response_model=HeartbeatResponse,
    openapi_extra=request_body_doc(SessionHeartbeatRequest),
    responses=errors(*API_KEY_ERRORS, *BODY_ERRORS, *DB_ERRORS, NO_CLIENT, (404, "SESSION_NOT_FOUND")),
)
async def heartbeat(request: Request) -> Response:
    state = api_state(request)
    body = await parse_body(request, SessionHeartbeatRequest)
    client = await state.clients.require()
    return JsonResponse(await state.calls.heartbeat(client, body))


@router.post(
    "/end",
    summary="End a session",
    description="Ending an already ended session answers its recorded end again.",
    response_model=SessionEndResponse,
    openapi_extra=request_body_doc(SessionEndRequest),
    responses=errors(*API_KEY_ERRORS, *BODY_ERRORS, *DB_ERRORS, NO_CLIENT, (404, "SESSION_NOT_FOUND")),
)
async def end(request: Request) -> Response:
    state = api_state(request)
    body = await parse_body(request, SessionEndRequest)
    client = await state.clients.require()
    # One UPDATE on an autocommit connection; while session.ended may be wanted, a transaction,
    # so the event commits with the end (domain/webhooks/outbox.py).
    unit = state.db.transaction() if may_want(SESSION_ENDED) else state.db.autocommit()
    async with unit as conn:
        result, ended_now = await sessions.end_session(conn, client, body)
    if ended_now:
        SESSIONS_ENDED.labels(result["end_reason"]).inc()
    return JsonResponse(result)


async def _start(db: Database, client: Client, body: SessionStartRequest) -> dict[str, Any]:
    """On PostgreSQL one call (`sessions.start_session_in_one_call`); anything else — a refusal,
    SQLite, a session event wanted — under the license lock in a transaction, which answers as
    it always has."""
    if db.dialect == "postgresql":
        async with db.autocommit() as conn:
            started = await sessions.start_session_in_one_call(conn, client, body)
        if started is not None:
            return started
    async with db.transaction() as conn:
        return await sessions.start_session(conn, client, body)


async def _tell_refused(db: Database, body: SessionStartRequest) -> None:
    """session.refused, written on its own after the refused transaction rolled back. The client
    gets its 409 even when this write fails."""
    try:
        async with db.autocommit() as conn:
            await webhook_events.session_refused(conn, body)
    except Exception as exc:
        log.warning("session.refused not recorded: %s", type(exc).__name__)
