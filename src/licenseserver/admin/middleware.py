"""Pure ASGI middleware of the admin panel: security headers (caching forbidden included) and the
request's transaction."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licenseserver.admin.errors import database_unavailable_answer, is_database_unavailable
from licenseserver.admin.state import AdminState
from licenseserver.kit.clientaddr import is_https
from licenseserver.kit.errors import ErrorCode, error_body

log = logging.getLogger(__name__)

# No inline script or style anywhere: everything the pages run comes from /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# Pages and JSON answers carry the API key, a TOTP secret, customer data: no browser or proxy
# may keep a copy. Only the static files (scripts, styles) may be cached.
NO_STORE = (b"cache-control", b"no-store")
STATIC_PREFIX = "/static/"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, state: AdminState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if not scope["path"].startswith(STATIC_PREFIX):
                    headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
                    headers.append(NO_STORE)
                if is_https(scope, self.state.trusted_proxies):
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class TransactionMiddleware:
    """One ORM session per request. It commits just before the response starts when the status
    is below 400 (or a route asked to keep its writes, e.g. a failed log-in's audit entry), so a
    2xx is only ever sent for committed work; otherwise it rolls back."""

    def __init__(self, app: ASGIApp, state: AdminState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        async with self.state.sessions() as session:
            scope.setdefault("state", {})["db"] = session

            answered = False

            async def finish_then_send(message: Message) -> None:
                nonlocal answered
                if answered:  # the app's response was replaced by a 503 below
                    return
                if message["type"] == "http.response.start":
                    keep = message["status"] < 400 or scope["state"].get("keep_writes", False)
                    try:
                        await (session.commit() if keep else session.rollback())
                    except Exception as exc:
                        if is_database_unavailable(exc):
                            # The database went away before the commit: nothing was saved, say so.
                            log.warning("commit failed, database unavailable: %s", type(exc).__name__)
                            answered = True
                            await database_unavailable_answer(Request(scope))(scope, receive, send)
                            return
                        log.exception("commit failed")
                        await session.rollback()
                        body = orjson.dumps(error_body(500, ErrorCode.INTERNAL_ERROR, "Internal server error"))
                        message = {
                            "type": "http.response.start",
                            "status": 500,
                            "headers": [(b"content-type", b"application/json")],
                        }
                        await send(message)
                        await send({"type": "http.response.body", "body": body})
                        raise
                await send(message)

            await self.app(scope, receive, finish_then_send)
