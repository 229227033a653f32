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

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from licenseserver.api.errors import answer_for_error, on_unexpected
from licenseserver.api.guard import BODY_METHODS, MAX_BODY_BYTES, RequestHeaders, refusal_for, too_large
from licenseserver.api.signing import answer_signature, signature_wanted
from licenseserver.api.state import ApiState
from licenseserver.domain.signing.answers import SignatureRequest
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
    """Answers the client endpoints' requests; `FrontedApi` hands them over before FastAPI sees them."""

    def __init__(self, state: ApiState, routes: list[ClientRoute], sign_all: bool = False) -> None:
        self.state = state
        self.sign_all = sign_all
        self.exact = {route.template: route for route in routes if route.path_param is None}
        # `/api/license/info/{license_key}` → ("/api/license/info/", route)
        self.prefixed = [(route.template.rsplit("{", 1)[0], route) for route in routes if route.path_param]

    def match(self, scope: Scope) -> tuple[ClientRoute, Endpoint] | None:
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

    async def serve(self, route: ClientRoute, handler: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        """One client call, answered whatever happens: an exception that escapes is answered as
        Starlette's outermost layer answered it when this one ran inside (the app's handler for
        unexpected errors, then raised on to the server, which logs it)."""
        sent = _TrackedSend(send)
        try:
            await self._serve(route, handler, scope, receive, sent)
        except Exception as exc:
            response = await on_unexpected(Request(scope), exc)
            if not sent.started:
                await response(scope, receive, send)
            raise

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
        request = ReadRequest(scope, receive)
        try:
            refusal = await refusal_for(self.state, scope, headers)
            if refusal is not None:
                return refusal.status, refusal.body, refusal.headers
            if scope["method"] in BODY_METHODS:
                # Read here, straight from `receive`: every client endpoint that takes a body
                # reads it first thing, and Request's stream machinery costs more than the read.
                request._body = await read_body(receive)
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


async def read_body(receive: Receive) -> bytes:
    """The whole request body, refused (413) as soon as it passes MAX_BODY_BYTES: a chunked body
    announces no length to refuse up front. A client that hangs up meanwhile: ClientDisconnect."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: the whole body in one message
        if len(body) > MAX_BODY_BYTES:
            raise too_large()
        return body
    chunks: list[bytes] = []
    seen = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


class ReadRequest(Request):
    """A request whose body the front may have read already (`body()` then returns it)."""

    _body: bytes


class _TrackedSend:
    """A `send` that remembers whether the answer has begun."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = True
        await self.send(message)


class FrontedApi(FastAPI):
    """The License API app: the client front answers the client endpoints' calls ahead of
    FastAPI's own layers (Starlette's error layer, FastAPI's exception telemetry; 8 % of a
    verify's samples in the 2026-11-29 profile: docs/performance.md); every other request goes
    through FastAPI and its middleware as before."""

    front: ClientFront | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and scope["type"] == "http":
            found = front.match(scope)
            if found is not None:
                scope["app"] = self  # what Starlette sets: the endpoints find the app's state through it
                await front.serve(found[0], found[1], scope, receive, send)
                return
        await super().__call__(scope, receive, send)
