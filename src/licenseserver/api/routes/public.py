"""Endpoints that need no API key: service status, health and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.api.schemas import SIZE_ERRORS, HealthStatus, ServiceStatus, errors
from licenseserver.api.state import api_state
from licenseserver.db.sql import Query
from licenseserver.domain.licensing.sessions import count_live_sessions
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.metrics import render_metrics
from licenseserver.kit.timefmt import iso_utc, utc_now

log = logging.getLogger(__name__)
router = APIRouter()

HEALTH_TIMEOUT_SECONDS = 2.0
PING = Query("SELECT 1 AS ok")
SERVICE_NAME = "V2 License Server"


@router.get("/", response_model=ServiceStatus, summary="Service status", responses=errors(*SIZE_ERRORS))
async def service_status() -> Response:
    return JsonResponse({"status": "ok", "service": SERVICE_NAME, "timestamp": iso_utc(utc_now())})


@router.get(
    "/health",
    response_model=HealthStatus,
    summary="Health check",
    responses={
        **errors(*SIZE_ERRORS),
        503: {"model": HealthStatus, "description": "The database does not answer"},
    },
)
async def health(request: Request) -> Response:
    db = api_state(request).db
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), db.autocommit() as conn:
            await conn.fetchval(PING)
    except Exception as exc:  # any failure to reach the database means unhealthy, never a 500
        log.warning("health check failed: %s", type(exc).__name__)
        return JsonResponse(
            {"status": "unhealthy", "timestamp": iso_utc(utc_now()), "database": "unreachable"}, status_code=503
        )
    return JsonResponse({"status": "healthy", "timestamp": iso_utc(utc_now())})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, responses=errors(*SIZE_ERRORS))
async def metrics(request: Request) -> Response:
    state = api_state(request)
    try:
        live = await state.for_served_client(count_live_sessions)
    except Exception:  # metrics must still be served while the database is away
        live = -1
    body, content_type = render_metrics(live)
    return Response(body, media_type=content_type)
