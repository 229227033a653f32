"""The License API application: what desktop clients call."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from licenseserver.api.docs import serve_docs_locally
from licenseserver.api.errors import install_error_handlers
from licenseserver.api.front import ClientFront, ClientRoute, Endpoint
from licenseserver.api.guard import MANAGEMENT_PREFIX, PROTECTED_PREFIX
from licenseserver.api.links import add_links
from licenseserver.api.management import ROUTERS as MANAGEMENT_ROUTERS
from licenseserver.api.management.docs import document_management
from licenseserver.api.management.state import ManagementState
from licenseserver.api.middleware import ApiGuardMiddleware
from licenseserver.api.routes import license, public, sessions, versions, wellknown
from licenseserver.api.signing import SignedAnswerMiddleware
from licenseserver.api.state import ApiState
from licenseserver.config import Settings, get_settings
from licenseserver.domain.installation import sealing_secret
from licenseserver.domain.licensing.sessions import sweep_timed_out_sessions
from licenseserver.domain.licensing.webhook_events import due_for_expiry_events
from licenseserver.domain.webhooks.delivery import DeliveryRules
from licenseserver.domain.webhooks.events import SESSION_ENDED
from licenseserver.domain.webhooks.outbox import may_want
from licenseserver.domain.webhooks.scanner import SCANNED_TYPES, scan_expiries
from licenseserver.domain.webhooks.worker import Deliverer
from licenseserver.kit.http_metrics import MetricsMiddleware
from licenseserver.kit.logs import access_lines_flushed
from licenseserver.kit.metrics import SESSIONS_ENDED, tally_written
from licenseserver.kit.slash_redirects import use_relative_slash_redirects
from licenseserver.kit.timefmt import utc_today

log = logging.getLogger(__name__)


async def sweep_sessions_forever(state: ApiState) -> None:
    """End timed-out sessions in the history now and then; live checks never wait for this."""
    while True:
        await asyncio.sleep(state.settings.session_sweep_seconds)
        try:
            ended = await sweep_once(state)
        except Exception as exc:  # a sweep that fails is retried next round
            log.warning("session sweep failed: %s", type(exc).__name__)
            continue
        if ended:
            SESSIONS_ENDED.labels("timeout").inc(ended)


def webhook_deliverer(state: ApiState) -> Deliverer:
    """Every API process delivers webhooks beside its requests (docs/webhook-delivery.md)."""
    settings = state.settings
    rules = DeliveryRules(settings.webhook_timeout_seconds, settings.webhook_allow_private)
    return Deliverer(state.db, rules, lambda conn: sealing_secret(conn, settings), settings.webhook_poll_seconds)


async def sweep_once(state: ApiState) -> int:
    """One sweep: one UPDATE on an autocommit connection, or, while session.ended may be wanted,
    in a transaction with the events it writes (domain/webhooks/outbox.py)."""
    if not may_want(SESSION_ENDED):
        return await state.for_served_client(sweep_timed_out_sessions)
    client = await state.clients.get()
    if client is None:
        return 0
    async with state.db.transaction() as conn:
        return await sweep_timed_out_sessions(conn, client)


async def scan_expiries_forever(state: ApiState) -> None:
    """license.expiring / license.expired now and then (domain/webhooks/scanner.py); nothing is
    read while no endpoint wants them."""
    while True:
        await asyncio.sleep(state.settings.webhook_scan_seconds)
        if not any(may_want(event_type) for event_type in SCANNED_TYPES):
            continue
        try:
            async with state.db.transaction() as conn:
                days = state.settings.webhook_expiring_days
                await scan_expiries(conn, utc_today(), days, due_for_expiry_events)
        except Exception as exc:  # a scan that fails is retried next round
            log.warning("expiry scan failed: %s", type(exc).__name__)


def create_api_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = ApiState.build(settings)
    management = ManagementState.build(state)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.db.open()
        # What start-up built lives as long as the process: out of the collector's reach, a full
        # collection walks only what requests leave behind instead of pausing every request for
        # tens of milliseconds (the open-loop p99 of bench/run_bench.py, docs/performance.md).
        gc.freeze()
        background = [
            asyncio.create_task(sweep_sessions_forever(state)),
            asyncio.create_task(scan_expiries_forever(state)),
            asyncio.create_task(webhook_deliverer(state).run_forever()),
        ]
        try:
            async with tally_written():
                yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.db.close()
            await management.close()
            await state.limiter.close()
            access_lines_flushed()

    app = FastAPI(
        title="V2 License Server — License API",
        version="1.0",
        description="Activate, verify and hold sessions for licensed desktop programs.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by serve_docs_locally
        redoc_url=None,
        # Per-request OpenTelemetry hooks cost measurable time on the hot path (docs/performance.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.api = state
    app.state.management = management
    for module in (public, wellknown, license, sessions, versions):
        app.include_router(module.router)
    for router in MANAGEMENT_ROUTERS:
        app.include_router(router)
    serve_docs_locally(app)
    use_relative_slash_redirects(app)
    install_error_handlers(app)
    app.add_middleware(ApiGuardMiddleware, state=state)
    app.add_middleware(MetricsMiddleware, app_name="api", trusted_proxies=state.trusted_proxies)
    # It signs whatever any layer inside answers (docs/signatures.md).
    app.add_middleware(SignedAnswerMiddleware, keys=state.signing, sign_all=settings.sign_all_responses)
    # Added last, so outermost: the clients' calls are answered here in one layer (api/front.py).
    client_endpoints = client_routes((license.router, sessions.router, versions.router))
    app.add_middleware(ClientFront, state=state, routes=client_endpoints, sign_all=settings.sign_all_responses)
    app.openapi = lambda: _openapi_with_api_key(app)  # type: ignore[method-assign]
    return app


def client_routes(routers: tuple[APIRouter, ...]) -> list[ClientRoute]:
    """The client front's table, from the same declarations FastAPI documents: the endpoints take
    only the request and build their own responses, so FastAPI's dependency and parameter
    machinery would add nothing but cost (docs/performance.md)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in route.methods or ():
                    by_path.setdefault(route.path, {})[method] = route.endpoint
    return [
        ClientRoute(path, handlers, path.rsplit("{", 1)[1].rstrip("}") if path.endswith("}") else None)
        for path, handlers in by_path.items()
    ]


def _openapi_with_api_key(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    for path, operations in schema["paths"].items():
        if path.startswith(PROTECTED_PREFIX) and not path.startswith(MANAGEMENT_PREFIX):
            for operation in operations.values():
                operation["security"] = [{"ApiKey": []}]
    document_management(schema)
    add_links(schema)
    app.openapi_schema = schema
    return schema
