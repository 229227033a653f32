"""The License API's one mapping from exceptions to the contract's error body."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from licenseserver.db.sql import DATABASE_UNAVAILABLE
from licenseserver.kit.errors import AppError, ErrorCode, error_body
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import invalid_request

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: ErrorCode.VALIDATION_ERROR,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}
HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}
# A client that waits this long finds the database back after a restart or a fail-over.
RETRY_AFTER_SECONDS = "5"


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return JsonResponse(body, status_code=status, headers=headers)


async def on_app_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _json(exc.status, exc.body())


async def on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    return _json(exc.status_code, error_body(exc.status_code, code, message), dict(exc.headers or {}))


async def on_request_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return _json(400, error_body(400, ErrorCode.VALIDATION_ERROR, "Invalid request", details=details))


async def on_database_unavailable(_request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", type(exc).__name__)
    body = error_body(503, ErrorCode.SERVICE_UNAVAILABLE, "Database temporarily unavailable, retry shortly")
    return _json(503, body, {"Retry-After": RETRY_AFTER_SECONDS})


async def on_integrity_error(_request: Request, exc: Exception) -> Response:
    # The schema's constraints are the last line behind the services' row locks; a request that
    # reaches one lost a race and is answered as a conflict, not a crash.
    log.info("constraint refused a write: %s", type(exc).__name__)
    return _json(409, error_body(409, ErrorCode.CONFLICT, "Conflicting concurrent change, retry"))


async def on_client_disconnect(_request: Request, _exc: Exception) -> Response:
    # The client hung up while sending its body: nobody reads this answer, and it is no error of ours.
    return Response(status_code=400)


async def on_unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return _json(500, error_body(500, ErrorCode.INTERNAL_ERROR, "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, handler in ERROR_HANDLERS:
        app.add_exception_handler(exc_type, handler)


# Most specific first: `answer_for_error` takes the first entry whose type matches.
ERROR_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Exception], Awaitable[Response]]], ...] = (
    (AppError, on_app_error),
    (HTTPException, on_http_error),
    (RequestValidationError, on_request_validation),
    *((exc_type, on_database_unavailable) for exc_type in DATABASE_UNAVAILABLE),
    (asyncpg.IntegrityConstraintViolationError, on_integrity_error),
    (sqlite3.IntegrityError, on_integrity_error),
    (ClientDisconnect, on_client_disconnect),
    (Exception, on_unexpected),
)


async def answer_for_error(request: Request, exc: Exception) -> Response:
    """The answer FastAPI's exception handlers would give, for a layer that runs outside them
    (the client front, api/front.py)."""
    for exc_type, handler in ERROR_HANDLERS:
        if isinstance(exc, exc_type):
            return await handler(request, exc)
    return await on_unexpected(request, exc)  # pragma: no cover - Exception matches everything


__all__ = ["DATABASE_UNAVAILABLE", "answer_for_error", "install_error_handlers", "invalid_request"]
