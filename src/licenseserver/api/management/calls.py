"""Every management API call passes here: the token refused in a URL, the Bearer token, the
rate limit per token, the scope, the media type of a body; then the call's unit of work.

The order is the License API guard's (api/guard.py) with a token in place of the system key:
who the caller is before anything about what it sent. A call is one ORM transaction that
commits when the endpoint returns and rolls back when it raises, so a 2xx is only ever sent for
committed work, and a change and its audit entry commit together."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from licenseserver.api.errors import RETRY_AFTER_SECONDS
from licenseserver.api.guard import BODY_METHODS, is_json_or_absent
from licenseserver.api.management.state import ManagementState, management_state
from licenseserver.db.unit_of_work import is_database_unavailable
from licenseserver.domain.audit.service import Actor
from licenseserver.domain.tokens.auth import TokenIdentity, authenticate
from licenseserver.kit.clientaddr import client_address
from licenseserver.kit.errors import AppError, ErrorCode, error_body
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.metrics import RATE_LIMITED

log = logging.getLogger(__name__)

# Query parameters a token must never travel in: URLs end up in access logs, proxies and
# browser histories. Refused even when the token in them is wrong, so nobody gets used to it.
TOKEN_PARAMETERS = ("token", "access_token", "api_key", "apikey", "bearer")
RATE_SCOPE = "token"
FAILED_SCOPE = "token_failed"
INVALID_TOKEN = AppError(401, ErrorCode.INVALID_TOKEN, "Invalid, expired, revoked or missing token")
READ_ONLY = AppError(403, ErrorCode.INSUFFICIENT_SCOPE, "This token may only read; the call needs a write token")
NOT_JSON = AppError(
    415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Request bodies must be JSON (Content-Type: application/json)"
)


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated call: its transaction, its token and the actor its changes are audited as."""

    session: AsyncSession
    token: TokenIdentity
    actor: Actor


Work = Callable[[Call], Awaitable[Response]]


def _refuse_token_in_query(request: Request) -> None:
    found = [name for name in TOKEN_PARAMETERS if name in request.query_params]
    if found:
        raise AppError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"Tokens are sent in the Authorization header (Bearer), never in the URL: remove {found[0]!r}",
        )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _too_many(retry_after: int) -> Response:
    body = error_body(429, ErrorCode.RATE_LIMITED, "Too many requests, slow down")
    return JsonResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})


async def _admit(state: ManagementState, request: Request, write: bool) -> TokenIdentity | Response:
    """The caller's token, or the refusal to answer. Failed attempts are counted per address with
    the API's limit, so guessing costs a caller what flooding the License API would."""
    api = state.api
    per_minute = (await api.rate_limits.get()).api_per_minute
    address = client_address(request.scope, api.trusted_proxies)
    if await api.limiter.exhausted(FAILED_SCOPE, address, per_minute):
        RATE_LIMITED.labels("api").inc()
        return _too_many((await api.limiter.refusal(FAILED_SCOPE, address, per_minute)).retry_after_seconds)
    key = await state.token_key()  # before the connection below: on SQLite they would share one
    async with api.db.autocommit() as conn:
        token = await authenticate(conn, key, _bearer(request))
    if token is None:
        await api.limiter.hit(FAILED_SCOPE, address, per_minute)
        raise INVALID_TOKEN
    # Each token gets the License API's per-address limit (the panel's Rate-Limit setting), counted
    # for the token wherever its calls come from (in Redis across instances when REDIS_URL is set).
    verdict = await api.limiter.hit(RATE_SCOPE, str(token.id), per_minute)
    if not verdict.allowed:
        RATE_LIMITED.labels("api").inc()
        return _too_many(verdict.retry_after_seconds)
    if write and not token.can_write:
        raise READ_ONLY
    if request.method in BODY_METHODS and not is_json_or_absent(_body_content_type(request)):
        raise NOT_JSON
    return token


def _body_content_type(request: Request) -> bytes | None:
    length = request.headers.get("content-length")
    if length in (None, "0") and "transfer-encoding" not in request.headers:
        return None
    value = request.headers.get("content-type")
    return None if value is None else value.encode("latin-1")


async def run_call(request: Request, work: Work, *, write: bool) -> Response:
    """Admit the call, then run `work` as the call's one transaction."""
    _refuse_token_in_query(request)
    state = management_state(request)
    admitted = await _admit(state, request, write)
    if isinstance(admitted, Response):
        return admitted
    actor = Actor(f"token:{admitted.name}", client_address(request.scope, state.api.trusted_proxies))
    try:
        async with state.sessions.begin() as session:
            return await work(Call(session, admitted, actor))
    except sqlalchemy.exc.IntegrityError:
        # The schema's constraints stand behind the services' locks: a lost race is a conflict.
        raise AppError(409, ErrorCode.CONFLICT, "Conflicting concurrent change, retry") from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        if not is_database_unavailable(exc):
            raise
        log.warning("database unavailable: %s", type(exc).__name__)
        body = error_body(503, ErrorCode.SERVICE_UNAVAILABLE, "Database temporarily unavailable, retry shortly")
        return JsonResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})


async def reading(request: Request, work: Work) -> Response:
    return await run_call(request, work, write=False)


async def writing(request: Request, work: Work) -> Response:
    return await run_call(request, work, write=True)
