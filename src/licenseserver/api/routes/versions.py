"""Version endpoints, answered from the current client's release history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.api.schemas import (
    API_KEY_ERRORS,
    BODY_ERRORS,
    DB_ERRORS,
    VersionCheckResponse,
    VersionLatestResponse,
    errors,
)
from licenseserver.api.state import api_state
from licenseserver.domain.clients import versions
from licenseserver.domain.clients.schemas import VersionCheckRequest
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import parse_body, request_body_doc

router = APIRouter(prefix="/api/version", tags=["Versions"])
NO_CLIENT = (503, "CLIENT_NOT_CONFIGURED")


@router.post(
    "/check",
    summary="Check for an update",
    response_model=VersionCheckResponse,
    openapi_extra=request_body_doc(VersionCheckRequest),
    responses=errors(*API_KEY_ERRORS, *BODY_ERRORS, *DB_ERRORS, NO_CLIENT),
)
async def check(request: Request) -> Response:
    body = await parse_body(request, VersionCheckRequest)
    return JsonResponse(await versions.check_version(api_state(request).clients, body))


@router.get(
    "/latest",
    summary="The latest release",
    response_model=VersionLatestResponse,
    responses=errors(*API_KEY_ERRORS, *DB_ERRORS, NO_CLIENT, (404, "NOT_FOUND")),
)
async def latest(request: Request) -> Response:
    return JsonResponse(await versions.latest_version(api_state(request).clients))
