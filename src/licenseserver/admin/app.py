"""The admin panel application: server-rendered German pages (htmx for interactivity) and the
reference's JSON endpoints, for the vendor's staff."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from licenseserver.admin.errors import install_error_handlers
from licenseserver.admin.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware, TransactionMiddleware
from licenseserver.admin.routes import (
    account,
    administration,
    api_tokens,
    audit,
    auth,
    customers,
    dashboard,
    devices,
    favicon,
    health,
    leads,
    leads_api,
    leads_transfer,
    license_detail,
    licenses,
    live_sessions,
    offline_file,
    resources,
    search,
    signing_keys,
    webhook_deliveries,
    webhooks,
)
from licenseserver.admin.state import AdminState
from licenseserver.config import Settings, get_settings
from licenseserver.domain.installation import SECRET_KEY_NAME, ensure_secret
from licenseserver.kit.http_metrics import MetricsMiddleware
from licenseserver.kit.logs import access_lines_flushed
from licenseserver.kit.metrics import tally_written
from licenseserver.kit.slash_redirects import use_relative_slash_redirects

STATIC_DIR = Path(__file__).with_name("static")
# licenses before license_detail: `/licenses/new` must match before `/licenses/{license_id}`.
ROUTERS = tuple(
    module.router
    for module in (
        auth,
        dashboard,
        customers,
        licenses,
        license_detail,
        offline_file,
        live_sessions,
        devices,
        resources,
        search,
        administration,
        signing_keys,
        api_tokens,
        webhooks,  # before webhook_deliveries: `/administration/webhooks/new` before `/{endpoint_id}`
        webhook_deliveries,
        audit,
        account,
        leads,
        leads_api,
        leads_transfer,
        health,
        favicon,
    )
)


def create_admin_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = AdminState.build(settings, secret_key=settings.secret_key or "")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.sql_db.open()
        if not state.secret_key:
            async with state.sql_db.transaction() as conn:
                state.secret_key = await ensure_secret(conn, SECRET_KEY_NAME)
        # Everything imported and built so far lives as long as the process: moved out of the
        # collector's reach, later full collections walk only what requests leave behind. They
        # took 90-190 ms each before (bench/admin_lists.py, the slow first-page requests).
        gc.freeze()
        try:
            async with tally_written():
                yield
        finally:
            await state.sql_db.close()
            await state.engine.dispose()
            await state.login_throttle.close()
            access_lines_flushed()

    app = FastAPI(
        title="V2 License Server — Admin panel", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.admin = state
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    use_relative_slash_redirects(app)
    install_error_handlers(app)
    app.add_middleware(TransactionMiddleware, state=state)
    upload_limit = (leads_transfer.MAX_UPLOAD_BYTES, leads_transfer.TOO_LARGE)
    app.add_middleware(BodyLimitMiddleware, per_path={"/leads/import": upload_limit})
    app.add_middleware(SecurityHeadersMiddleware, state=state)
    app.add_middleware(MetricsMiddleware, app_name="admin", trusted_proxies=state.trusted_proxies)
    return app
