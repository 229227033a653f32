"""Pure ASGI middleware of the License API (cheaper per request than BaseHTTPMiddleware); the
metrics and access-log wrapper both apps share is `kit/http_metrics.py`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from licenseserver.api.errors import DATABASE_UNAVAILABLE, on_database_unavailable
from licenseserver.api.state import ApiState
from licenseserver.kit.body_limit import limited_receive
from licenseserver.kit.clientaddr import client_address
from licenseserver.kit.errors import AppError, ErrorCode, error_body
from licenseserver.kit.metrics import RATE_LIMITED

MAX_BODY_BYTES = 16 * 1024
PROTECTED_PREFIX = "/api/"
# The methods whose body the API reads; a GET that carries a body anyway is answered without it.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
INVALID_API_KEY_BODY = orjson.dumps(error_body(401, ErrorCode.INVALID_API_KEY, "Invalid or missing API key"))
UNSUPPORTED_MEDIA_TYPE_BODY = orjson.dumps(
    error_body(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Request bodies must be JSON (Content-Type: application/json)")
)


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def body_headers(scope: Scope) -> tuple[str | None, bytes | None]:
    """Content-Length and Content-Type in one pass over the headers; a Content-Type counts only
    when a body comes (a length above 0 or a chunked transfer)."""
    length: str | None = None
    content_type: bytes | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            length = value.decode("latin-1")
        elif key == b"content-type":
            content_type = value
        elif key == b"transfer-encoding":
            chunked = True
    if not chunked and (length is None or length == "0"):
        content_type = None
    return length, content_type


def is_json_or_absent(content_type: bytes | None) -> bool:
    """No Content-Type (clients in the field omit it; the body is read as JSON either way, see
    docs/api.md), `application/json` with any parameters such as charset, or `application/*+json`."""
    if content_type is None or content_type == b"application/json":
        return True
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


class ApiGuardMiddleware:
    """Body size limit on every request; rate limit, then API key, on every `/api/` request."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, content_type = body_headers(scope)
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await send_json(send, 413, orjson.dumps(_too_large().body()))
            return
        if scope["path"].startswith(PROTECTED_PREFIX):
            try:
                refusal = await self._refusal(scope)
            except DATABASE_UNAVAILABLE as exc:
                # Raised out here, outside FastAPI's exception handlers: answer as they would.
                await (await on_database_unavailable(Request(scope), exc))(scope, receive, send)
                return
            if refusal is not None:
                await refusal(send)
                return
            # After the key: a caller without one learns nothing about what the API accepts.
            if scope["method"] in BODY_METHODS and not is_json_or_absent(content_type):
                await send_json(send, 415, UNSUPPORTED_MEDIA_TYPE_BODY)
                return
        await self.app(scope, limited_receive(receive, MAX_BODY_BYTES, _too_large), send)

    async def _refusal(self, scope: Scope) -> Any:
        limits = await self.state.rate_limits.get()
        address = client_address(scope, self.state.trusted_proxies)
        verdict = await self.state.limiter.hit("api", address, limits.api_per_minute)
        if not verdict.allowed:
            RATE_LIMITED.labels("api").inc()
            body = orjson.dumps(error_body(429, ErrorCode.RATE_LIMITED, "Too many requests, slow down"))
            headers = [(b"retry-after", str(verdict.retry_after_seconds).encode())]
            return lambda send: send_json(send, 429, body, headers)
        if not await self.state.api_keys.accepts(_header(scope, b"x-api-key")):
            return lambda send: send_json(send, 401, INVALID_API_KEY_BODY)
        return None


def _too_large() -> AppError:
    return AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"Request body larger than {MAX_BODY_BYTES} bytes")
