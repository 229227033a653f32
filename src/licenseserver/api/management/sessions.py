"""A license's devices and the live sessions: list them, deactivate a device, end a session.
The panel's own rules (domain/licensing/staff_devices.py, staff_sessions.py): the client's
statements under the license row lock, audited with the token's name as in the panel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.lists import Id, PageQuery, items_json, list_example, page_json
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import staff_devices, staff_sessions
from licenseserver.domain.licensing.sessions import ended_json
from licenseserver.domain.licensing.staff_sessions import SessionView
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import counted_page
from licenseserver.kit.timefmt import iso_utc

router = APIRouter(prefix="/api/v1", tags=["Management: devices and sessions"])

SESSION_EXAMPLE = {
    "id": 11,
    "license_id": 7,
    "license_key": "K3F9-Q7MZ-2XWD-88PL",
    "customer_name": "Muster GmbH",
    "machine_id": "BUERO-PC-1",
    "machine_name": "BUERO-PC-1",
    "hardware_hash": "9f2c…e1",
    "app_version": "2.4.1",
    "started_at": "2026-11-29T10:00:05Z",
    "last_heartbeat": "2026-11-29T10:05:05Z",
    "ended_at": None,
    "end_reason": None,
    "live": True,
}
DEVICE_EXAMPLE = {
    "id": 3,
    "hardware_hash": "9f2c…e1",
    "machine_name": "BUERO-PC-1",
    "activated_at": "2026-11-29T10:00:00Z",
    "last_heartbeat": "2026-11-29T10:05:00Z",
    "is_active": True,
    "app_version": "2.4.1",
}


def session_json(view: SessionView) -> dict[str, Any]:
    return {
        "id": view.id,
        "license_id": view.license_id,
        "license_key": view.license_key,
        "customer_name": view.customer_name,
        "machine_id": view.machine_id,
        "machine_name": view.machine_name,
        "hardware_hash": view.hardware_hash,
        "app_version": view.app_version,
        "started_at": iso_utc(view.started_at),
        "last_heartbeat": iso_utc(view.last_heartbeat),
        "ended_at": iso_utc(view.ended_at),
        "end_reason": view.end_reason,
        "live": view.live,
    }


@router.get(
    "/licenses/{license_id}/devices",
    **operation(
        "List a license's devices (active and deactivated)",
        (404, "LICENSE_NOT_FOUND"),
        answer_example={"items": [DEVICE_EXAMPLE]},
    ),
)
async def devices_of_license(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        await staff_devices.license_key_of(call.session, license_id)  # 404 for an unknown license
        rows = await staff_devices.devices_of_license(call.session, license_id)
        return JsonResponse(items_json(rows, staff_devices.device_json))

    return await reading(request, work)


@router.post(
    "/licenses/{license_id}/devices/{device_id}/deactivate",
    **operation(
        "Deactivate a device (its open session ends)",
        (404, "LICENSE_NOT_FOUND"),
        (404, "DEVICE_NOT_FOUND"),
        (409, "CONFLICT"),
        write=True,
        answer_example={**DEVICE_EXAMPLE, "is_active": False, "ended_session_id": 11},
    ),
)
async def deactivate_device(request: Request, license_id: Id, device_id: Id) -> Response:
    async def work(call: Call) -> Response:
        outcome = await staff_devices.deactivate_device(call.session, license_id, device_id)
        after = {"is_active": False, "ended_session_id": outcome.ended_session_id}
        await record(
            call.session, call.actor, "device_deactivate", "device", device_id, before=outcome.device, after=after
        )
        return JsonResponse({**outcome.device, **after})

    return await writing(request, work)


@router.get("/sessions", **operation("List the live sessions", answer_example=list_example(SESSION_EXAMPLE)))
async def live_sessions(request: Request, query: Annotated[PageQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        wanted = query.request()
        rows, total = await staff_sessions.live_sessions(call.session, wanted.per_page, wanted.offset)
        return JsonResponse(page_json(counted_page(rows, wanted, total), session_json))

    return await reading(request, work)


@router.post(
    "/sessions/{session_id}/end",
    **operation(
        "End a session (end_reason admin)",
        (404, "SESSION_NOT_FOUND"),
        (409, "CONFLICT"),
        write=True,
        answer_example={
            "session_id": 11,
            "license_id": 7,
            "ended_at": "2026-11-29T10:06:00Z",
            "end_reason": "admin",
            "duration_seconds": 355,
        },
    ),
)
async def end_session(request: Request, session_id: Id) -> Response:
    async def work(call: Call) -> Response:
        row = await staff_sessions.end_session_by_staff(call.session, session_id)
        # The audit entry the panel writes for the same action (admin/routes/live_sessions.py).
        after = {
            "ended_at": iso_utc(row["ended_at"]),
            "end_reason": row["end_reason"],
            "duration_seconds": ended_json(row)["duration_seconds"],
        }
        before = {"license_id": row["license_id"], "ended_at": None}
        await record(call.session, call.actor, "session_end", "session", session_id, before=before, after=after)
        return JsonResponse({"session_id": session_id, "license_id": row["license_id"], **after})

    return await writing(request, work)
