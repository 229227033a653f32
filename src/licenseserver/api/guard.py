"""The License API's guard, in the order a request meets it: body size on every request, then on
every `/api/` request the rate limit, the API key, and the media type of a body.

Both the client front (api/front.py) and the middleware of every other path
(api/middleware.py) ask `refusal_for`, so the two answer alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.types import Scope

from licenseserver.api.state import ApiState
from licenseserver.kit.clientaddr import client_address
from licenseserver.kit.errors import AppError, ErrorCode, error_body
from licenseserver.kit.metrics import RATE_LIMITED

MAX_BODY_BYTES = 16 * 1024
PROTECTED_PREFIX = "/api/"
# The management API checks its own Bearer tokens, rate limit and media type
# (api/management/calls.py); the system key never opens it (CONTRACT.md §9).
MANAGEMENT_PREFIX = "/api/v1/"
# The methods whose body the API reads; a GET that carries a body anyway is answered without it.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
INVALID_API_KEY_BODY = orjson.dumps(error_body(401, ErrorCode.INVALID_API_KEY, "Invalid or missing API key"))
UNSUPPORTED_MEDIA_TYPE_BODY = orjson.dumps(
    error_body(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Request bodies must be JSON (Content-Type: application/json)")
)


@dataclass
class RequestHeaders:
    """The headers the guard and the signing layer read, gathered in one pass."""

    content_length: bytes | None = None
    content_type: bytes | None = None
    chunked: bool = False
    api_key: bytes | None = None
    accept_signature: bytes | None = None

    @classmethod
    def of(cls, scope: Scope) -> RequestHeaders:
        found = cls()
        for name, value in scope["headers"]:
            if name == b"content-length":
                found.content_length = value
            elif name == b"content-type":
                found.content_type = value
            elif name == b"x-api-key":
                found.api_key = value
            elif name == b"accept-signature":
                # Repeated fields are one list (RFC 9110, 5.3).
                earlier = found.accept_signature
                found.accept_signature = value if earlier is None else earlier + b", " + value
            elif name == b"transfer-encoding":
                found.chunked = True
        return found


@dataclass(frozen=True)
class Refusal:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def too_large() -> AppError:
    return AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"Request body larger than {MAX_BODY_BYTES} bytes")


def is_json_or_absent(content_type: bytes | None) -> bool:
    """No Content-Type (clients in the field omit it; the body is read as JSON either way, see
    docs/api.md), `application/json` with any parameters such as charset, or `application/*+json`."""
    if content_type is None or content_type == b"application/json":
        return True
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def size_refusal(headers: RequestHeaders) -> Refusal | None:
    declared = headers.content_length
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return Refusal(413, orjson.dumps(too_large().body()))
    return None


async def refusal_for(state: ApiState, scope: Scope, headers: RequestHeaders) -> Refusal | None:
    """Why the request is refused before any endpoint runs, or None. Raises what the database
    raises when the API key must be read and cannot be."""
    refusal = size_refusal(headers)
    if refusal is not None or not scope["path"].startswith(PROTECTED_PREFIX):
        return refusal
    if scope["path"].startswith(MANAGEMENT_PREFIX):
        return None
    limits = await state.rate_limits.get()
    verdict = await state.limiter.hit("api", client_address(scope, state.trusted_proxies), limits.api_per_minute)
    if not verdict.allowed:
        RATE_LIMITED.labels("api").inc()
        body = orjson.dumps(error_body(429, ErrorCode.RATE_LIMITED, "Too many requests, slow down"))
        return Refusal(429, body, [(b"retry-after", str(verdict.retry_after_seconds).encode())])
    api_key = headers.api_key
    if not await state.api_keys.accepts(None if api_key is None else api_key.decode("latin-1")):
        return Refusal(401, INVALID_API_KEY_BODY)
    # After the key: a caller without one learns nothing about what the API accepts.
    if scope["method"] in BODY_METHODS and not is_json_or_absent(_body_content_type(headers)):
        return Refusal(415, UNSUPPORTED_MEDIA_TYPE_BODY)
    return None


def _body_content_type(headers: RequestHeaders) -> bytes | None:
    """A Content-Type counts only when a body comes (a length above 0 or a chunked transfer)."""
    if not headers.chunked and headers.content_length in (None, b"0"):
        return None
    return headers.content_type
