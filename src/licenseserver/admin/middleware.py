"""Pure ASGI middleware of the admin panel: security headers (caching forbidden included) and the
request's transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licenseserver.admin.deps import wants_json
from licenseserver.admin.errors import answer_error, database_unavailable_answer
from licenseserver.admin.state import AdminState
from licenseserver.db.unit_of_work import is_database_unavailable
from licenseserver.kit.body_limit import limited_receive
from licenseserver.kit.clientaddr import is_https
from licenseserver.kit.errors import AppError, ErrorCode, error_body

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


# Forms and JSON bodies of the panel: the largest real one (1,000 resource identifiers, or a lead
# note at its length limit) stays well below this. The leads CSV upload has its own limit.
MAX_BODY_BYTES = 1024 * 1024


def _too_large(scope: Scope, limit: int, page_message: str | None) -> tuple[int, str]:
    if wants_json(Request(scope)):
        return 413, f"Request body larger than {limit} bytes"
    return 413, page_message or f"Die Anfrage ist zu groß: höchstens {limit // 1024} KiB."


class BodyLimitMiddleware:
    """Refuses a request body over the limit with 413: at once when the Content-Length announces
    it, and while it is read when it comes chunked without a length (the read then fails, and the
    panel's handler answers the contract's body or the error page). `per_path` gives a path its
    own limit and the message its page shows."""

    def __init__(
        self, app: ASGIApp, default: int = MAX_BODY_BYTES, per_path: Mapping[str, tuple[int, str]] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, page_message = self.per_path.get(scope["path"], (self.default, None))
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            status, message = _too_large(scope, limit, page_message)
            response = answer_error(Request(scope), AppError(status, ErrorCode.PAYLOAD_TOO_LARGE, message))
            await response(scope, receive, send)
            return
        if not declared.isdigit():
            receive = limited_receive(receive, limit, lambda: HTTPException(*_too_large(scope, limit, page_message)))
        await self.app(scope, receive, send)


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
