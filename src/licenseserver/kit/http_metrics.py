"""The request wrapper both apps share: metrics, access log and request id for every request."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licenseserver.kit.clientaddr import Network, client_address
from licenseserver.kit.logs import ACCESS_LOG, REQUEST_ID, log_request, request_id_for
from licenseserver.kit.metrics import count_request


class MetricsMiddleware:
    """Counts, times and logs every request by its route template (never the raw path), and gives
    it a request id: one wrapper of `send` per request serves the metrics, the access line and
    the X-Request-ID header. An incoming X-Request-ID is kept only from a trusted proxy."""

    def __init__(self, app: ASGIApp, app_name: str, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.app_name = app_name
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = request_id_for(scope, self.trusted_proxies)
        request_id_header = (b"x-request-id", request_id.encode())
        context = REQUEST_ID.set(request_id)

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            count_request(self.app_name, scope["method"], template, status, elapsed)
            if ACCESS_LOG.isEnabledFor(logging.INFO):
                client = client_address(scope, self.trusted_proxies)
                log_request(scope["method"], template, scope["path"], status, elapsed, client, self.app_name)
            REQUEST_ID.reset(context)
