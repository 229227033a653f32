"""Licenses: list (filters, paging), get (with its devices and live session), create, update,
activate, deactivate, delete. Every change is the panel's own service (domain/licensing/
staff_edits.py, staff_bulk.py) under the license row lock, audited with the token's name: the
same refusals as in the panel, e.g. max_activations below the active devices (409 CONFLICT)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.idempotency import idempotent_create
from licenseserver.api.management.lists import Id, PageQuery, list_example, page_json
from licenseserver.api.management.sessions import DEVICE_EXAMPLE, SESSION_EXAMPLE, session_json
from licenseserver.db.models import License
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import staff_devices, staff_sessions
from licenseserver.domain.licensing.rules import LicenseState, license_not_found, license_state
from licenseserver.domain.licensing.staff_bulk import delete_licenses, set_active
from licenseserver.domain.licensing.staff_edits import (
    LicenseCreate,
    LicenseType,
    Limit,
    OfflineTtl,
    create_license,
    get_license,
    license_snapshot,
    update_license,
)
from licenseserver.domain.licensing.staff_list import LicenseFilter, LicenseRow, list_licenses
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.timefmt import iso_date, iso_utc, utc_today
from licenseserver.kit.validation import MAX_ID, Text, parse_body

router = APIRouter(prefix="/api/v1/licenses", tags=["Management: licenses"])

EXAMPLE = {
    "id": 7,
    "license_key": "K3F9-Q7MZ-2XWD-88PL",
    "customer_id": 42,
    "license_type": "subscription",
    "valid_from": "2026-11-29",
    "valid_until": "2027-11-28",
    "max_activations": 3,
    "max_users": 1,
    "is_active": True,
    "offline_ttl_days": None,
    "created_at": "2026-11-29T09:15:01Z",
    "state": "active",
}
LIST_ITEM_EXAMPLE = {
    **{k: v for k, v in EXAMPLE.items() if k != "offline_ttl_days"},
    "customer_name": "Muster GmbH",
    "active_devices": 1,
}
DETAIL_EXAMPLE = {**EXAMPLE, "active_devices": 1, "devices": [DEVICE_EXAMPLE], "live_session": SESSION_EXAMPLE}
CREATE_EXAMPLE = {
    "customer_id": 42,
    "license_type": "subscription",
    "valid_until": "2027-11-28",
    "max_activations": 3,
}


class LicenseQuery(PageQuery):
    customer_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None
    state: LicenseState | None = None
    type: LicenseType | None = None
    q: Annotated[Text, Field(max_length=100, description="Beginning of the key or part of the customer's name")] = ""


class LicensePatch(BaseModel):
    """The fields to change (the key never changes; is_active through activate/deactivate).
    `valid_until` and `offline_ttl_days` may be null: no end, the default time to live."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    license_type: LicenseType | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    max_activations: Limit | None = None
    max_users: Limit | None = None
    offline_ttl_days: OfflineTtl | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> Self:
        for name in ("customer_id", "license_type", "valid_from", "max_activations", "max_users"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def license_json(row: License) -> dict[str, Any]:
    return {
        "id": row.id,
        "license_key": row.license_key,
        "customer_id": row.customer_id,
        "license_type": row.license_type,
        "valid_from": iso_date(row.valid_from),
        "valid_until": iso_date(row.valid_until),
        "max_activations": row.max_activations,
        "max_users": row.max_users,
        "is_active": bool(row.is_active),
        "offline_ttl_days": row.offline_ttl_days,
        "created_at": iso_utc(row.created_at),
        "state": license_state(row, utc_today()),
    }


def _row_json(row: LicenseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "license_key": row.license_key,
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "license_type": row.license_type,
        "valid_from": iso_date(row.valid_from),
        "valid_until": iso_date(row.valid_until),
        "max_activations": row.max_activations,
        "max_users": row.max_users,
        "is_active": bool(row.is_active),
        "created_at": iso_utc(row.created_at),
        "state": row.state(utc_today()),
        "active_devices": row.active_devices,
    }


async def license_detail(session: AsyncSession, license_id: int) -> dict[str, Any]:
    """The license with its devices (active and deactivated) and its live session, if any."""
    license_row = await get_license(session, license_id)
    await session.refresh(license_row)  # read afresh what a change in this call wrote
    devices = await staff_devices.devices_of_license(session, license_id)
    # One open session per license at most (sessions.start_session), and it is the newest.
    newest, _total = await staff_sessions.sessions_of_license(session, license_id, 1, 0)
    live = newest[0] if newest and newest[0].live else None
    return {
        **license_json(license_row),
        "active_devices": sum(1 for d in devices if d.is_active),
        "devices": [staff_devices.device_json(d) for d in devices],
        "live_session": None if live is None else session_json(live),
    }


@router.get("", **operation("List licenses", answer_example=list_example(LIST_ITEM_EXAMPLE)))
async def list_all(request: Request, query: Annotated[LicenseQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        filters = LicenseFilter(query.q, query.customer_id, query.type, query.state)
        page = await list_licenses(call.session, filters, "created", True, query.request())
        return JsonResponse(page_json(page, _row_json))

    return await reading(request, work)


@router.post(
    "",
    **operation(
        "Create a license (the key generated, or given and checked)",
        (404, "CUSTOMER_NOT_FOUND"),
        (409, "CONFLICT"),
        write=True,
        body=LicenseCreate,
        body_example=CREATE_EXAMPLE,
        answer_example=EXAMPLE,
        status=201,
        idempotent=True,
    ),
)
async def create(request: Request) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, LicenseCreate)

        async def made() -> tuple[int, dict[str, Any]]:
            license_row = await create_license(call.session, body)
            snapshot = license_snapshot(license_row)
            await record(call.session, call.actor, "create", "license", license_row.id, after=snapshot)
            await call.session.refresh(license_row)  # created_at, set by the database
            return 201, license_json(license_row)

        return await idempotent_create(request, call, made)

    return await writing(request, work)


@router.get(
    "/{license_id}",
    **operation(
        "Get a license with its devices and live session", (404, "LICENSE_NOT_FOUND"), answer_example=DETAIL_EXAMPLE
    ),
)
async def get_one(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        return JsonResponse(await license_detail(call.session, license_id))

    return await reading(request, work)


@router.patch(
    "/{license_id}",
    **operation(
        "Change a license's dates, limits, type or customer",
        (404, "LICENSE_NOT_FOUND"),
        (404, "CUSTOMER_NOT_FOUND"),
        (409, "CONFLICT"),
        write=True,
        body=LicensePatch,
        body_example={"valid_until": "2028-11-28", "max_activations": 5},
        answer_example=DETAIL_EXAMPLE,
    ),
)
async def update(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        patch = await parse_body(request, LicensePatch)
        # The panel's rule and lock: lowering max_activations below the active devices is refused.
        await update_license(call.session, license_id, patch.changes(), call.actor)
        return JsonResponse(await license_detail(call.session, license_id))

    return await writing(request, work)


async def _set_active(request: Request, license_id: int, active: bool) -> Response:
    async def work(call: Call) -> Response:
        await get_license(call.session, license_id)  # 404 for an unknown license
        # Already in that state: nothing changes and nothing is audited, as in the panel's bulk action.
        await set_active(call.session, [license_id], active, call.actor)
        return JsonResponse(await license_detail(call.session, license_id))

    return await writing(request, work)


@router.post(
    "/{license_id}/activate",
    **operation("Switch a license on", (404, "LICENSE_NOT_FOUND"), write=True, answer_example=DETAIL_EXAMPLE),
)
async def activate(request: Request, license_id: Id) -> Response:
    return await _set_active(request, license_id, True)


@router.post(
    "/{license_id}/deactivate",
    **operation("Switch a license off", (404, "LICENSE_NOT_FOUND"), write=True, answer_example=DETAIL_EXAMPLE),
)
async def deactivate(request: Request, license_id: Id) -> Response:
    return await _set_active(request, license_id, False)


@router.delete(
    "/{license_id}",
    **operation(
        "Delete a license with its devices and sessions (its resources return to the pool)",
        (404, "LICENSE_NOT_FOUND"),
        write=True,
        status=204,
    ),
)
async def delete(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        if not await delete_licenses(call.session, [license_id], call.actor):
            raise license_not_found(license_id)
        return Response(status_code=204)

    return await writing(request, work)
