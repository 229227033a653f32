"""License endpoints: activate, verify, info, and checkout of an offline license file.

Each endpoint is its request's unit of work: it opens the transaction (or the autocommit
connection of a one-statement rule) and the domain rule runs on the connection it is handed."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.api.schemas import (
    API_KEY_ERRORS,
    BODY_ERRORS,
    DB_ERRORS,
    PATH_ERRORS,
    ActivateResponse,
    CheckoutResponse,
    InfoResponse,
    VerifyResponse,
    errors,
)
from licenseserver.api.state import api_state
from licenseserver.db.sql import DUPLICATE_ROW, Database
from licenseserver.domain.licensing import license_calls, webhook_events
from licenseserver.domain.licensing.schemas import ActivateRequest, VerifyRequest
from licenseserver.domain.signing.offline import CheckoutRequest, build_license_file
from licenseserver.domain.webhooks.events import ACTIVATION_REFUSED
from licenseserver.domain.webhooks.outbox import may_want
from licenseserver.kit.docpatterns import LICENSE_KEY, padded
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.metrics import ACTIVATIONS, VERIFICATIONS
from licenseserver.kit.validation import parse_body, parse_value, request_body_doc

router = APIRouter(prefix="/api/license", tags=["License"])
log = logging.getLogger(__name__)


@router.post(
    "/activate",
    summary="Activate a license on a device",
    response_model=ActivateResponse,
    openapi_extra=request_body_doc(ActivateRequest),
    responses=errors(
        *API_KEY_ERRORS,
        *BODY_ERRORS,
        *DB_ERRORS,
        (404, "LICENSE_NOT_FOUND"),
        (403, "LICENSE_INACTIVE"),
        (403, "LICENSE_EXPIRED"),
        (403, "LICENSE_NOT_YET_VALID"),
        (409, "ACTIVATION_LIMIT_REACHED"),
        (409, "CONFLICT"),
    ),
)
async def activate(request: Request) -> Response:
    body = await parse_body(request, ActivateRequest)
    try:
        outcome = await _activation(api_state(request).db, body)
    except AppError as refusal:
        ACTIVATIONS.labels(str(refusal.code)).inc()
        raise
    ACTIVATIONS.labels("refreshed" if outcome.already_active else "created").inc()
    return JsonResponse(
        {
            "message": "License activated successfully",
            "activation": license_calls.activation_json(outcome.activation, outcome.license_key),
            "already_active": outcome.already_active,
        }
    )


async def _activation(db: Database, body: ActivateRequest) -> license_calls.ActivationOutcome:
    """A known device in one statement, on PostgreSQL a new one in the same statement
    (`license_calls.activate_in_one_call`). Anything else — a refusal, a new device on SQLite or
    while activation.created is wanted — under the license lock in a transaction, which answers
    as it always has."""
    try:
        try:
            async with db.autocommit() as conn:
                done = await license_calls.activate_in_one_call(conn, body)
            if done is not None:
                return done
            async with db.transaction() as conn:
                return await license_calls.activate_new_on(conn, body)
        except DUPLICATE_ROW:  # the same device activated by a concurrent request meanwhile
            async with db.transaction() as conn:
                return await license_calls.activate_on(conn, body)
    except AppError as refusal:
        if refusal.code == ErrorCode.ACTIVATION_LIMIT_REACHED and may_want(ACTIVATION_REFUSED):
            await _tell_refused(db, body)
        raise


async def _tell_refused(db: Database, body: ActivateRequest) -> None:
    """activation.refused, written on its own after the refused transaction rolled back. The
    client gets its refusal even when this write fails: the refusal is the answer that matters."""
    try:
        async with db.autocommit() as conn:
            await webhook_events.activation_refused(conn, body)
    except Exception as exc:
        log.warning("activation.refused not recorded: %s", type(exc).__name__)


@router.post(
    "/verify",
    summary="Verify a license on a device",
    description="A well-formed request always answers 200; `valid` and `code` say whether and why not.",
    response_model=VerifyResponse,
    openapi_extra=request_body_doc(VerifyRequest),
    responses=errors(*API_KEY_ERRORS, *BODY_ERRORS, *DB_ERRORS),
)
async def verify(request: Request) -> Response:
    state = api_state(request)
    body = await parse_body(request, VerifyRequest)
    checked = await state.calls.verify(body)
    result = await license_calls.verify_answer(checked, state.clients, body)
    VERIFICATIONS.labels("valid" if result["valid"] else result["code"]).inc()
    return JsonResponse(result)


@router.get(
    "/info/{license_key}",
    summary="License information with its activations",
    response_model=InfoResponse,
    responses=errors(*API_KEY_ERRORS, *PATH_ERRORS, *DB_ERRORS, (404, "LICENSE_NOT_FOUND")),
    openapi_extra={
        "parameters": [
            {
                "name": "license_key",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": padded(LICENSE_KEY)},
            }
        ]
    },
)
async def info(request: Request) -> Response:
    raw_key = request.path_params["license_key"]
    key = parse_value(VerifyRequest, {"license_key": raw_key, "hardware_hash": "-"}).license_key
    async with api_state(request).db.autocommit() as conn:
        return JsonResponse(await license_calls.license_info(conn, key))


@router.post(
    "/checkout",
    summary="An offline license file for an activated device",
    description="A compact JWS (EdDSA) a program checks without the server: docs/signatures.md.",
    response_model=CheckoutResponse,
    openapi_extra=request_body_doc(CheckoutRequest),
    responses=errors(
        *API_KEY_ERRORS,
        *BODY_ERRORS,
        *DB_ERRORS,
        (404, "LICENSE_NOT_FOUND"),
        (403, "LICENSE_INACTIVE"),
        (403, "LICENSE_EXPIRED"),
        (403, "LICENSE_NOT_YET_VALID"),
        (403, "DEVICE_NOT_ACTIVATED"),
    ),
)
async def checkout(request: Request) -> Response:
    state = api_state(request)
    body = await parse_body(request, CheckoutRequest)
    key = await state.signing.get()
    if key is None:
        raise AppError(503, ErrorCode.SERVICE_UNAVAILABLE, "No signing key available, retry shortly")
    async with state.db.autocommit() as conn:
        license_file = await build_license_file(conn, key, body.license_key, body.hardware_hash, body.ttl_days)
    return JsonResponse(license_file.json())
