"""The panel's one mapping from exceptions to answers: the contract's JSON error body for its
JSON endpoints, a rendered error page (or the log-in redirect) for its pages."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import CsrfFailedError, NotAuthenticatedError, wants_json
from licenseserver.admin.formdata import PanelRefusalError, german_problem
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.messages import translate_message
from licenseserver.admin.rendering import render
from licenseserver.db.sql import DATABASE_UNAVAILABLE
from licenseserver.db.unit_of_work import is_database_unavailable
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse

log = logging.getLogger(__name__)

HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.PAYLOAD_TOO_LARGE}
GERMAN_TITLES = {
    400: _l("Ungültige Eingabe"),
    401: _l("Nicht angemeldet"),
    403: _l("Zugriff verweigert"),
    404: _l("Nicht gefunden"),
    405: _l("Methode nicht erlaubt"),
    409: _l("Konflikt"),
    429: _l("Zu viele Anfragen"),
    500: _l("Interner Fehler"),
    503: _l("Vorübergehend nicht verfügbar"),
}
RETRY_AFTER_SECONDS = "5"
# Sent by the panel's own scripts (static/leads.js): its JSON refusals then carry `display`, the
# reason in the staff member's language, beside the contract's English `error`.
PANEL_PAGE_HEADER = "x-panel-page"
# Query and path parameters as the pages' error messages name them.
PARAMETER_LABELS: dict[str, Any] = {
    "page": _l("Seite"),
    "per_page": _l("Pro Seite"),
    "q": _l("Suchbegriff"),
    "sort": _l("Sortierung"),
    "dir": _l("Richtung"),
    "state": _l("Status"),
    "type": _l("Typ"),
    "status": _l("Status"),
    "customer_id": _l("Kunde"),
    "license_id": _l("Lizenz"),
    "resource_id": _l("Ressource"),
    "lead_id": _l("Institution"),
}


def database_unavailable_answer(request: Request) -> Response:
    error = AppError(503, ErrorCode.SERVICE_UNAVAILABLE, "Database temporarily unavailable, retry shortly")
    response = answer_error(request, error)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def answer_error(request: Request, error: AppError) -> Response:
    if wants_json(request):
        body = error.body()
        if request.headers.get(PANEL_PAGE_HEADER) == "1":
            display = error.display if isinstance(error, PanelRefusalError) else error.message
            body["display"] = translate_message(display)
        return JsonResponse(body, status_code=error.status)
    context = {"status": error.status, "title": GERMAN_TITLES.get(error.status, _l("Fehler")), "message": error.message}
    return render(request, "error.html", context, status_code=error.status)


async def on_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return answer_error(request, exc)


async def on_not_authenticated(request: Request, _exc: Exception) -> Response:
    if wants_json(request):
        return answer_error(request, AppError(401, ErrorCode.NOT_AUTHENTICATED, "Not logged in"))
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def on_csrf_failed(request: Request, _exc: Exception) -> Response:
    return answer_error(request, AppError(403, ErrorCode.CSRF_FAILED, "CSRF token missing or wrong"))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return answer_error(request, AppError(exc.status_code, code, message))


async def on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")),
            "message": str(err.get("msg", "")),
        }
        for err in exc.errors()
    ]
    first = details[0] if details else {"field": "", "message": "invalid"}
    message = f"Invalid request: {first['field']}: {first['message']}"
    if not wants_json(request) and exc.errors():
        # A page gets the reason in the panel's words, by pydantic's error type, not its English.
        error = dict(exc.errors()[0])
        error["loc"] = tuple(p for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = N_("Ungültige Eingabe") + " – " + german_problem(error, PARAMETER_LABELS)  # type: ignore[arg-type]
    return answer_error(request, AppError(400, ErrorCode.VALIDATION_ERROR, message, details=details))


async def on_database_error(request: Request, exc: Exception) -> Response:
    if not is_database_unavailable(exc):
        return await on_unexpected(request, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    return database_unavailable_answer(request)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return answer_error(request, AppError(500, ErrorCode.INTERNAL_ERROR, "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(NotAuthenticatedError, on_not_authenticated)
    app.add_exception_handler(CsrfFailedError, on_csrf_failed)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    for exc_type in (*DATABASE_UNAVAILABLE, sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError):
        app.add_exception_handler(exc_type, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
