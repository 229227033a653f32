"""Idempotent creates: a create sent with an `Idempotency-Key` header is answered once; a retry
with the same key and the same request (method, path, body) within 24 hours gets that first
answer again (same status, same body, so the same id) instead of a second record.

The claim is a row in idempotent_answers, inserted in the call's own transaction before the
record is created and filled with the answer after it: the record and its stored answer commit
together or not at all. Two creates with one key at the same moment meet at the unique index
(token_id, idempotency_key): on PostgreSQL the second insert waits for the first transaction
and then fails, and the second call answers what the first stored; SQLite runs one writing
transaction at a time anyway. Only answers that committed are kept: a create that was refused
stores nothing, so its retry runs again (and nothing was created the first time)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from licenseserver.api.management.calls import Call
from licenseserver.db.clock import database_ago
from licenseserver.db.models.integrations import IdempotentAnswer
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse

HEADER = "idempotency-key"
REPLAY_HEADER = "Idempotent-Replayed"
KEY_MAX = 255
KEPT_SECONDS = 24 * 3600
Create = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not all("!" <= ch <= "~" for ch in key):
        raise AppError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"Idempotency-Key must be 1 to {KEY_MAX} visible ASCII characters (no spaces)",
        )
    return key


async def _fingerprint(request: Request) -> str:
    """Method, path and body; the body read as JSON with its keys sorted, so a retry that
    serialises the same object in another order still matches."""
    raw = await request.body()
    try:
        body = orjson.dumps(orjson.loads(raw or b"null"), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay(stored: IdempotentAnswer, fingerprint: str) -> Response:
    if stored.request_fingerprint != fingerprint:
        raise AppError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used for a different request; use a new key for a new create",
        )
    return Response(
        stored.body.encode(),
        status_code=stored.status_code,
        media_type="application/json",
        headers={REPLAY_HEADER: "true"},
    )


async def idempotent_create(request: Request, call: Call, create: Create) -> Response:
    """Run `create` (it returns the status and JSON body of a success) at most once per key."""
    key = _key(request)
    if key is None:
        status, payload = await create()
        return JsonResponse(payload, status_code=status)
    fingerprint = await _fingerprint(request)
    session = call.session
    # Answers older than a day are forgotten: the key may be used afresh (and the table stays small).
    await session.execute(
        delete(IdempotentAnswer).where(
            IdempotentAnswer.token_id == call.token.id, IdempotentAnswer.created_at < database_ago(KEPT_SECONDS)
        )
    )
    claim = IdempotentAnswer(
        token_id=call.token.id, idempotency_key=key, request_fingerprint=fingerprint, status_code=0, body=""
    )
    try:
        async with session.begin_nested():
            session.add(claim)
    except IntegrityError:
        stored = await session.scalar(
            select(IdempotentAnswer)
            .where(IdempotentAnswer.token_id == call.token.id, IdempotentAnswer.idempotency_key == key)
            .execution_options(populate_existing=True)
        )
        if stored is None:  # pragma: no cover - the row that refused ours was deleted in between
            raise AppError(409, ErrorCode.CONFLICT, "Conflicting concurrent request, retry") from None
        return _replay(stored, fingerprint)
    status, payload = await create()
    body = orjson.dumps(payload)
    claim.status_code = status
    claim.body = body.decode()
    await session.flush()
    return Response(body, status_code=status, media_type="application/json")
