"""Log-in and log-out. Failed attempts are throttled per address and per username before any
password hash is computed, and every attempt is in the audit log."""

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
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.domain.audit.service import Actor, record
from licenseserver.domain.staff.service import authenticate, close_session, open_session
from licenseserver.kit.clientaddr import is_https
from licenseserver.kit.errors import AppError, ErrorCode

router = APIRouter()
COOKIE_MAX_AGE = 12 * 3600


def _safe_next(target: str | None) -> str:
    """Only local paths: a log-in link must not send staff to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def _login_page(
    request: Request,
    message: str = "",
    status: int = 200,
    next_url: str = "/",
    totp: bool = False,
    username: str = "",
) -> Response:
    token = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(32)
    request.state.anonymous_csrf = token
    context = {"message": message, "next_url": next_url, "ask_totp": totp, "username": username}
    response = render(request, "login.html", context, status_code=status)
    response.set_cookie(
        ANONYMOUS_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request.scope, admin_state(request).trusted_proxies),
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    if await optional_staff(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_url=_safe_next(next))


async def _throttled(request: Request, username: str) -> bool:
    state = admin_state(request)
    per_minute = (await state.rate_limits.get()).login_per_minute
    keys = (f"address:{request_address(request)}", f"user:{username.lower()}")
    return any([await state.login_throttle.exhausted("login", key, per_minute) for key in keys])


async def _count_failure(request: Request, username: str) -> None:
    state = admin_state(request)
    per_minute = (await state.rate_limits.get()).login_per_minute
    for key in (f"address:{request_address(request)}", f"user:{username.lower()}"):
        await state.login_throttle.hit("login", key, per_minute)


@router.post("/login")
async def login(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    totp: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    cookie = request.cookies.get(ANONYMOUS_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise CsrfFailedError()
    actor = Actor(username, request_address(request))
    request.state.keep_writes = True  # a refused log-in is still written to the audit log
    if await _throttled(request, username):
        await record(db, actor, "login_throttled", "admin_user", username)
        raise AppError(429, ErrorCode.RATE_LIMITED, "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute.")
    result = await authenticate(db, admin_state(request).secret_key, username, password, totp or None)
    if result.admin is None:
        await _count_failure(request, username)
        await record(db, actor, "login_failed", "admin_user", username)
        message = (
            "Bitte den Code Ihrer Authenticator-App eingeben."
            if result.needs_totp and not totp
            else ("Anmeldung fehlgeschlagen: Benutzername, Passwort oder Code falsch.")
        )
        return _login_page(request, message, 401, _safe_next(next), totp=result.needs_totp, username=username)
    token = await open_session(db, result.admin, actor.address)
    await record(db, actor, "login", "admin_user", result.admin.id)
    response = RedirectResponse(_safe_next(next), status_code=303)
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
