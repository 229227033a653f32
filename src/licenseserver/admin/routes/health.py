"""GET /health for load balancers and orchestrators: the panel answers and reaches its database.
No log-in needed; the body says nothing an anonymous caller should not know."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.state import admin_state
from licenseserver.db.sql import Query
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.timefmt import iso_utc, utc_now

log = logging.getLogger(__name__)
router = APIRouter()

HEALTH_TIMEOUT_SECONDS = 2.0
PING = Query("SELECT 1 AS ok")


@router.get("/health")
async def health(request: Request) -> Response:
    """The same body as the License API's /health: 200 healthy, or 503 when the database is away."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), admin_state(request).sql_db.autocommit() as conn:
            await conn.fetchval(PING)
    except Exception as exc:  # any failure to reach the database means unhealthy, never a 500
        log.warning("health check failed: %s", type(exc).__name__)
        body = {"status": "unhealthy", "timestamp": iso_utc(utc_now()), "database": "unreachable"}
        return JsonResponse(body, status_code=503)
    return JsonResponse({"status": "healthy", "timestamp": iso_utc(utc_now())})
