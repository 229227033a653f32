"""A license's page: its data and customer, its devices, sessions and resources, and the staff
actions on them; plus the reference's device and license-resource JSON endpoints.

The page's forms post normally and redirect back (303); a refused action shows the page again
with the reason and the refusal's status, so the request's transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import checked_form, form_fields, parse_form
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.routes.live_sessions import end_session_audited
from licenseserver.admin.routes.resources import allocate_audited
from licenseserver.db.models.resources import RESOURCE_TYPES
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import resource_allocation
from licenseserver.domain.licensing import staff_devices as devices
from licenseserver.domain.licensing import staff_sessions as sessions
from licenseserver.domain.licensing.device_schemas import RegisterDevice
from licenseserver.domain.licensing.rules import LicenseState, LicenseTerms, license_state
from licenseserver.domain.resources import queries as pool
from licenseserver.domain.resources import service as resources
from licenseserver.domain.resources.schemas import AllocateBody, AllocateByTypeForm
from licenseserver.domain.signing.offline import OFFLINE_TTL_DEFAULT_DAYS
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import MAX_PAGE, PageRequest, counted_page
from licenseserver.kit.timefmt import utc_today
from licenseserver.kit.validation import MAX_ID, parse_body

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
SESSIONS_PER_PAGE = 20
FREE_CHOICES = 200  # free resources offered for picking one by one; "type and count" covers more
DONE_MESSAGES = {
    "device_registered": _l("Gerät registriert."),
    "device_deactivated": _l("Gerät deaktiviert."),
    "session_ended": _l("Sitzung beendet."),
    "resources_allocated": _l("Ressourcen zugewiesen."),
    "resource_released": _l("Ressource freigegeben."),
    "license_created": _l("Lizenz angelegt."),
}
DEVICE_LABELS = {
    "hardware_hash": _l("Hardware-Hash"),
    "machine_name": _l("Rechnername"),
    "app_version": _l("App-Version"),
}
ALLOCATE_LABELS = {"resource_type": _l("Typ"), "count": _l("Anzahl"), "resource_ids": _l("Ressourcen")}


# The page's German label and badge class of each state (a license expiring soon is plainly active here).
STATUS_LABELS: dict[LicenseState, tuple[str, str]] = {
    "active": (_l("Aktiv"), "ok"),
    "expiring": (_l("Aktiv"), "ok"),
    "inactive": (_l("Deaktiviert"), "off"),
    "not_yet_valid": (_l("Noch nicht gültig"), "warn"),
    "expired": (_l("Abgelaufen"), "bad"),
}


def license_status(lic: LicenseTerms) -> tuple[str, str]:
    """German label and badge class of the license's state today."""
    return STATUS_LABELS[license_state(lic, utc_today())]


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


async def license_page_view(
    request: Request,
    db: Db,
    license_id: int,
    sessions_page: int = 1,
    error: AppError | None = None,
    device_form: dict[str, str] | None = None,
) -> Response:
    overview = await devices.license_overview(db, license_id)
    wanted = PageRequest(sessions_page, SESSIONS_PER_PAGE)
    session_rows, session_total = await sessions.sessions_of_license(db, license_id, wanted.per_page, wanted.offset)
    device_rows = await devices.devices_of_license(db, license_id)
    context = {
        "lic": overview.license,
        "customer": overview.customer,
        "status": license_status(overview.license),
        "devices": device_rows,
        "active_devices": sum(1 for d in device_rows if d.is_active),
        "sessions": session_rows,
        "sessions_page": counted_page(session_rows, wanted, session_total, param_name="sessions_page"),
        "resources": await pool.resources_of_license(db, license_id),
        "free_counts": await pool.free_counts(db),
        "free_resources": await pool.free_resources(db, None, FREE_CHOICES),
        "resource_types": RESOURCE_TYPES,
        "duration": duration,
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        "error": error.message if error else None,
        "offline_ttl_default": OFFLINE_TTL_DEFAULT_DAYS,
        # A refused registration: the form open again with what was typed.
        "device_form": device_form or {},
    }
    return render(request, "licenses/detail.html", context, status_code=error.status if error else 200)


async def _form_action(
    request: Request,
    db: Db,
    license_id: int,
    action: Callable[[], Awaitable[str]],
    anchor: str,
    kept_form: dict[str, str] | None = None,
) -> Response:
    """Run a form's action; back to the page with its notice, or the page with the refusal (and
    the registration form's fields as typed, `kept_form`)."""
    try:
        # A savepoint: a refused action is undone before the page is drawn again, so the page
        # never shows half of it (the request's transaction rolls back at the end anyway).
        async with db.begin_nested():
            done = await action()
    except AppError as refusal:
        if refusal.code == ErrorCode.LICENSE_NOT_FOUND:
            raise
        return await license_page_view(request, db, license_id, error=refusal, device_form=kept_form)
    return RedirectResponse(f"/licenses/{license_id}?done={done}#{anchor}", status_code=303)


@router.get("/licenses/{license_id}")
async def license_page(
    request: Request, db: Db, staff: Staff, license_id: Id, sessions_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
) -> Response:
    return await license_page_view(request, db, license_id, sessions_page)


# ---- devices -------------------------------------------------------------------------------


async def _register(request: Request, db: Db, staff: Staff, license_id: int, body: RegisterDevice) -> int:
    outcome = await devices.register_device(db, license_id, body.hardware_hash, body.machine_name, body.app_version)
    row = outcome.activation
    after = {
        "license_id": license_id,
        "hardware_hash": row["hardware_hash"],
        "machine_name": row["machine_name"],
        "app_version": row["app_version"],
        "already_active": outcome.already_active,
    }
    await record(db, actor_of(request, staff), "device_register", "device", row["id"], after=after)
    return int(row["id"])


async def _deactivate(request: Request, db: Db, staff: Staff, license_id: int, device_id: int) -> None:
    outcome = await devices.deactivate_device(db, license_id, device_id)
    after = {"is_active": False, "ended_session_id": outcome.ended_session_id}
    await record(
        db, actor_of(request, staff), "device_deactivate", "device", device_id, before=outcome.device, after=after
    )


@router.get("/api/license/{license_id}/devices")
async def devices_json(db: Db, staff: Staff, license_id: Id) -> Response:
    await devices.license_key_of(db, license_id)  # 404 for an unknown license
    rows = await devices.devices_of_license(db, license_id)
    return JsonResponse({"devices": [devices.device_json(d) for d in rows]})


@router.post("/api/license/{license_id}/register-device")
async def register_device_json(request: Request, db: Db, staff: Staff, license_id: Id) -> Response:
    body = await parse_body(request, RegisterDevice)
    device_id = await _register(request, db, staff, license_id, body)
    return JsonResponse({"success": True, "device_id": device_id, "message": "Device registered successfully"})


@router.post("/api/license/{license_id}/deactivate-device/{device_id}")
async def deactivate_device_json(request: Request, db: Db, staff: Staff, license_id: Id, device_id: Id) -> Response:
    await _deactivate(request, db, staff, license_id, device_id)
    return JsonResponse({"success": True, "message": "Device deactivated successfully"})


@router.post("/licenses/{license_id}/devices")
async def register_device_form(request: Request, db: Db, staff: Staff, license_id: Id) -> Response:
    typed: dict[str, str] = {}

    async def action() -> str:
        typed.update(await form_fields(request))
        body = parse_form(RegisterDevice, typed, DEVICE_LABELS)
        await _register(request, db, staff, license_id, body)
        return "device_registered"

    return await _form_action(request, db, license_id, action, "geraete", kept_form=typed)


@router.post("/licenses/{license_id}/devices/{device_id}/deactivate")
async def deactivate_device_form(request: Request, db: Db, staff: Staff, license_id: Id, device_id: Id) -> Response:
    async def action() -> str:
        await _deactivate(request, db, staff, license_id, device_id)
        return "device_deactivated"

    return await _form_action(request, db, license_id, action, "geraete")


# ---- sessions ------------------------------------------------------------------------------


@router.post("/licenses/{license_id}/sessions/{session_id}/end")
async def end_session_form(request: Request, db: Db, staff: Staff, license_id: Id, session_id: Id) -> Response:
    async def action() -> str:
        await devices.license_key_of(db, license_id)
        await end_session_audited(request, db, staff, session_id, license_id)
        return "session_ended"

    return await _form_action(request, db, license_id, action, "sitzungen")


# ---- resources -----------------------------------------------------------------------------


@router.get("/api/license/{license_id}/resources")
async def license_resources_json(db: Db, staff: Staff, license_id: Id) -> Response:
    await devices.license_key_of(db, license_id)  # 404 for an unknown license
    rows = await pool.resources_of_license(db, license_id)
    return JsonResponse({"resources": [pool.license_resource_json(r) for r in rows]})


@router.post("/licenses/{license_id}/resources/allocate")
async def allocate_form(request: Request, db: Db, staff: Staff, license_id: Id) -> Response:
    """Either the resources picked one by one (`resource_ids`, repeated) or `count` of a type."""

    async def action() -> str:
        form = await checked_form(request)
        picked = [value for value in form.getlist("resource_ids") if isinstance(value, str) and value]
        if picked:
            data = {"license_id": license_id, "resource_ids": picked}
            await allocate_audited(request, db, staff, parse_form(AllocateBody, data, ALLOCATE_LABELS))
        else:
            fields = {k: v for k, v in (await form_fields(request)).items() if k != "resource_ids"}
            by_type = parse_form(AllocateByTypeForm, fields, ALLOCATE_LABELS)
            actor = actor_of(request, staff)
            ids = await resource_allocation.allocate_by_type(
                db, license_id, by_type.resource_type, by_type.count, actor.username
            )
            await record(db, actor, "resource_allocate", "license", license_id, after={"resource_ids": ids})
        return "resources_allocated"

    return await _form_action(request, db, license_id, action, "ressourcen")


@router.post("/licenses/{license_id}/resources/{resource_id}/release")
async def release_form(request: Request, db: Db, staff: Staff, license_id: Id, resource_id: Id) -> Response:
    async def action() -> str:
        await devices.license_key_of(db, license_id)
        actor = actor_of(request, staff)
        change = await resources.release_resource(db, resource_id, actor.username, license_id)
        await record(db, actor, "resource_release", "resource", resource_id, before=change.before, after=change.after)
        return "resource_released"

    return await _form_action(request, db, license_id, action, "ressourcen")
