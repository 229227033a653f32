"""Log-in and log-out. Every password check is throttled per address and per username before it
runs (admin/login_throttle.py), every failure gets the same answer, and every attempt is in the
audit log."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import (
    ANONYMOUS_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailedError,
    Db,
    Staff,
    optional_staff,
    request_address,
)
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.login_throttle import LoginThrottledError, reserve_attempt
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.db.models import AdminUser
from licenseserver.domain.audit.service import Actor, record
from licenseserver.domain.staff import recovery_codes
from licenseserver.domain.staff.service import authenticate, close_session, open_session
from licenseserver.kit.clientaddr import is_https
from licenseserver.kit.validation import Text

router = APIRouter()
COOKIE_MAX_AGE = 12 * 3600
ACTOR_LENGTH = 100  # audit_log.actor
ENTITY_ID_LENGTH = 64  # audit_log.entity_id
LOGIN_FAILED = _l("Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch.")
TOO_MANY_LOGINS = _l("Zu viele Anmeldeversuche. Bitte warten Sie eine Minute.")


def _safe_next(target: str | None) -> str:
    """Only local paths: a log-in link must not send staff to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def _login_page(
    request: Request, message: str = "", status: int = 200, next_url: str = "/", username: str = ""
) -> Response:
    token = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(32)
    request.state.anonymous_csrf = token
    context = {"message": message, "next_url": next_url, "username": username}
    response = render(request, "login.html", context, status_code=status)
    response.set_cookie(
        ANONYMOUS_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request.scope, admin_state(request).trusted_proxies),
    )
    return response


@router.api_route("/login", methods=["GET", "HEAD"])
async def login_form(request: Request, next: Text | None = None) -> Response:
    if await optional_staff(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    response = _login_page(request, next_url=_safe_next(next))
    if request.method == "HEAD":
        response.body = b""  # the GET's headers (its Content-Length included), without the page
    return response


def _audited_name(username: str, length: int) -> str:
    """A typed username as the audit log keeps it: control characters escaped (PostgreSQL text
    cannot hold a NUL) and cut to the column. A name longer than 64 characters is cut in
    `entity_id` only: `actor` holds 100, as much as the form accepts."""
    escaped = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in username)
    return escaped[:length]


@router.post("/login")
async def login(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    totp: Annotated[str, Form(max_length=32)] = "",  # a TOTP code or a recovery code (xxxx-xxxx-xxxx)
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    cookie = request.cookies.get(ANONYMOUS_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise CsrfFailedError()
    actor = Actor(_audited_name(username, ACTOR_LENGTH), request_address(request))
    entity_id = _audited_name(username, ENTITY_ID_LENGTH)
    request.state.keep_writes = True  # a refused log-in is still written to the audit log
    if any("\x00" in field for field in (username, password, totp, next)):
        # No account can hold it, and PostgreSQL could not even look the name up: bad input, but
        # still a failed log-in for the audit log.
        await record(db, actor, "login_failed", "admin_user", entity_id)
        return _login_page(request, _l("Die Anmeldedaten enthalten ein unzulässiges Zeichen."), 400, _safe_next(next))
    try:
        attempt = await reserve_attempt(request, username, TOO_MANY_LOGINS)
    except LoginThrottledError as exc:
        await record(db, actor, "login_throttled", "admin_user", entity_id)
        # The log-in page itself says it (429 kept, with the Retry-After), form and name kept.
        response = _login_page(request, exc.message, 429, _safe_next(next), username=username)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    # A recovery code is typed into the code field: its attempt counts like a TOTP code's.
    authenticated = await authenticate(db, admin_state(request).secret_key, username, password, totp)
    if authenticated is None:
        await record(db, actor, "login_failed", "admin_user", entity_id)
        # One message for every failure: which part was wrong is the attacker's to find out.
        return _login_page(request, LOGIN_FAILED, 401, _safe_next(next), username=username)
    await attempt.give_back()
    admin = authenticated.admin
    if authenticated.recovery_code_used:
        left = {"recovery_codes_left": await recovery_codes.remaining(db, admin.id)}
        await record(db, actor, "recovery_code_used", "admin_user", admin.id, after=left)
    return await _logged_in(request, db, admin, actor, _safe_next(next))


async def _logged_in(request: Request, db: Db, admin: AdminUser, actor: Actor, target: str) -> Response:
    token = await open_session(db, admin, actor.address)
    await record(db, actor, "login", "admin_user", admin.id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=is_https(request.scope, admin_state(request).trusted_proxies),
    )
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE)
    return response


@router.get("/logout")
async def logout_form(request: Request, staff: Staff) -> Response:
    return render(request, "logout.html")


@router.post("/logout")
async def logout(request: Request, db: Db, staff: Staff) -> Response:
    await close_session(db, request.cookies.get(SESSION_COOKIE))
    await record(db, Actor(staff.admin.username, request_address(request)), "logout", "admin_user", staff.admin.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
