"""Dependencies of the panel's routes: the request's ORM session, the logged-in staff member and
the CSRF check. Routes translate nothing by hand: refusals are exceptions the handlers render."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.admin.i18n import use_language
from licenseserver.admin.state import admin_state
from licenseserver.domain.audit.service import Actor
from licenseserver.domain.staff.service import StaffSession, resume_session
from licenseserver.kit.clientaddr import client_address

SESSION_COOKIE = "ls_admin"
ANONYMOUS_CSRF_COOKIE = "ls_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_PREFIXES = ("/api/", "/leads/api/")


class NotAuthenticatedError(Exception):
    """No valid log-in: JSON endpoints answer 401, pages redirect to /login."""


class CsrfFailedError(Exception):
    """An unsafe request without the session's CSRF token: 403 CSRF_FAILED."""


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES)


def db_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.db
    return session


async def optional_staff(request: Request) -> StaffSession | None:
    cached: StaffSession | None = getattr(request.state, "staff", None)
    if cached is not None:
        return cached
    staff = await resume_session(db_session(request), request.cookies.get(SESSION_COOKIE))
    request.state.staff = staff
    # Texts built before the page renders (labels, messages) follow the account's language too.
    use_language(staff.admin.language if staff else None)
    return staff


async def require_staff(request: Request) -> StaffSession:
    staff = await optional_staff(request)
    if staff is None:
        raise NotAuthenticatedError()
    if request.method in UNSAFE_METHODS:
        await _check_csrf(request, staff.record.csrf_token)
    return staff


async def presented_csrf_token(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


async def _check_csrf(request: Request, expected: str) -> None:
    presented = await presented_csrf_token(request)
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        # The route that would close an uploaded file never runs: close the parsed form here.
        await request.close()
        raise CsrfFailedError()


def request_address(request: Request) -> str:
    return client_address(request.scope, admin_state(request).trusted_proxies)


def actor_of(request: Request, staff: StaffSession) -> Actor:
    return Actor(staff.admin.username, request_address(request))


Staff = Annotated[StaffSession, Depends(require_staff)]
Db = Annotated[AsyncSession, Depends(db_session)]
