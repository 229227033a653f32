"""The guard as pure ASGI middleware, for every path the client front (api/front.py) passes on:
status, health, metrics, the JWK Set, the docs and unknown paths. The metrics and access-log
wrapper both apps share is `kit/http_metrics.py`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from licenseserver.api.errors import DATABASE_UNAVAILABLE, on_database_unavailable
from licenseserver.api.guard import MAX_BODY_BYTES, RequestHeaders, refusal_for, too_large
from licenseserver.api.state import ApiState
from licenseserver.kit.body_limit import limited_receive


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


class ApiGuardMiddleware:
    """Body size limit on every request; rate limit, API key and media type on every `/api/` one."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            refusal = await refusal_for(self.state, scope, RequestHeaders.of(scope))
        except DATABASE_UNAVAILABLE as exc:
            # Raised out here, outside FastAPI's exception handlers: answer as they would.
            await (await on_database_unavailable(Request(scope), exc))(scope, receive, send)
            return
        if refusal is not None:
            await send_json(send, refusal.status, refusal.body, refusal.headers)
            return
        await self.app(scope, limited_receive(receive, MAX_BODY_BYTES, too_large), send)
