"""The client front: the one layer every call of a desktop program passes (docs/performance.md).

The calls clients make all day — activate, verify, sessions, heartbeats, version checks — are
answered here without FastAPI's routing, dependency and middleware stack: one pass over the
headers, then the same guard (body size, rate limit, API key, media type), the endpoint, the
contract's error bodies, the signature when asked for, the metrics and the access line, each
once. Every other path (status, health, metrics, the JWK Set, the docs, unknown paths, a method
a route does not take) goes on to the FastAPI app, whose middleware answers it as before; the
FastAPI routes of the client endpoints stay declared there, so /openapi.json describes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from licenseserver.api.errors import answer_for_error
from licenseserver.api.guard import MAX_BODY_BYTES, RequestHeaders, refusal_for, too_large
from licenseserver.api.signing import answer_signature, signature_wanted
from licenseserver.api.state import ApiState
from licenseserver.domain.signing.answers import SignatureRequest
from licenseserver.kit.body_limit import limited_receive
from licenseserver.kit.clientaddr import client_address
from licenseserver.kit.logs import ACCESS_LOG, REQUEST_ID, log_request, request_id_for
from licenseserver.kit.metrics import count_request

Endpoint = Callable[[Request], Awaitable[Response]]
JSON_HEADER = (b"content-type", b"application/json")
SET_BY_FRONT = (b"content-type", b"content-length")


@dataclass(frozen=True)
class ClientRoute:
    """One client endpoint: its path template (the metrics' label) and handler per method."""

    template: str
    handlers: dict[str, Endpoint]
    path_param: str | None = None  # the name of a trailing `{…}` segment, if the path has one


class ClientFront:
    """Pure ASGI: the outermost layer of the License API app."""

    def __init__(self, app: ASGIApp, state: ApiState, routes: list[ClientRoute], sign_all: bool = False) -> None:
        self.app = app
        self.state = state
        self.sign_all = sign_all
        self.exact = {route.template: route for route in routes if route.path_param is None}
        # `/api/license/info/{license_key}` → ("/api/license/info/", route)
        self.prefixed = [(route.template.rsplit("{", 1)[0], route) for route in routes if route.path_param]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self._match(scope)
            if found is not None:
                await self._serve(found[0], found[1], scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[ClientRoute, Endpoint] | None:
        path: str = scope["path"]
        route = self.exact.get(path)
        if route is None:
            route = self._match_prefixed(scope, path)
            if route is None:
                return None
        method = scope["method"]
        handler = route.handlers.get("GET" if method == "HEAD" else method)
        return None if handler is None else (route, handler)

    def _match_prefixed(self, scope: Scope, path: str) -> ClientRoute | None:
        for prefix, route in self.prefixed:
            if path.startswith(prefix):
                value = path[len(prefix) :]
                if value and "/" not in value:
                    scope["path_params"] = {route.path_param: value}
                    return route
        return None

    async def _serve(self, route: ClientRoute, handler: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = request_id_for(scope, self.state.trusted_proxies)
        context = REQUEST_ID.set(request_id)
        status = 500
        try:
            headers = RequestHeaders.of(scope)
            wanted = signature_wanted(headers.accept_signature, self.sign_all)
            extra: list[tuple[bytes, bytes]] = []
            if isinstance(wanted, bytes):  # a malformed Accept-Signature: refused, and signed
                status, body, wanted = 400, wanted, SignatureRequest()
            else:
                status, body, extra = await self._answer(handler, headers, scope, receive)
            extra.append((b"x-request-id", request_id.encode()))
            await self._send(scope, send, status, body, extra, wanted)
        finally:
            self._account(scope, route.template, status, time.perf_counter() - started)
            REQUEST_ID.reset(context)

    async def _answer(
        self, handler: Endpoint, headers: RequestHeaders, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Status, body and extra headers of the request's answer, refusals and errors included."""
        request = Request(scope, limited_receive(receive, MAX_BODY_BYTES, too_large))
        try:
            refusal = await refusal_for(self.state, scope, headers)
            if refusal is not None:
                return refusal.status, refusal.body, refusal.headers
            response = await handler(request)
        except Exception as exc:
            response = await answer_for_error(request, exc)
        extra = [(name, value) for name, value in response.raw_headers if name not in SET_BY_FRONT]
        return response.status_code, bytes(response.body), extra

    async def _send(
        self,
        scope: Scope,
        send: Send,
        status: int,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
        wanted: SignatureRequest | None,
    ) -> None:
        headers = [JSON_HEADER, (b"content-length", str(len(body)).encode()), *extra]
        if wanted is not None:
            headers += await answer_signature(self.state.signing, scope, wanted, status, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _account(self, scope: Scope, template: str, status: int, seconds: float) -> None:
        count_request("api", scope["method"], template, status, seconds)
        if ACCESS_LOG.isEnabledFor(logging.INFO):
            client = client_address(scope, self.state.trusted_proxies)
            log_request(scope["method"], template, scope["path"], status, seconds, client, "api")
