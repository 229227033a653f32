"""The resource pool: the filtered, paged list, adding many at once, quarantine and release, each
resource's history; and the reference's allocation and availability JSON endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import form_fields, parse_form
from licenseserver.admin.i18n import gettext
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.db.models.resources import RESOURCE_STATES, RESOURCE_TYPES
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import resource_allocation
from licenseserver.domain.resources import queries as pool
from licenseserver.domain.resources import service
from licenseserver.domain.resources.schemas import MAX_BATCH, AddResourcesForm, AllocateBody, ResourceType
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import MAX_PAGE, PageRequest, counted_page
from licenseserver.kit.validation import MAX_ID, Text, parse_body

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PER_PAGE = 50
ADD_LABELS = {"resource_type": _l("Typ"), "identifiers": _l("Bezeichner")}
TYPE_LABELS = {"domain": _l("Domain"), "ipv4": _l("IPv4-Adresse"), "phone": _l("Telefonnummer"), "server": _l("Server")}
STATUS_LABELS = {"available": _l("Verfügbar"), "allocated": _l("Zugewiesen"), "quarantine": _l("Quarantäne")}
NOTICES = {"quarantined": _l("Ressource in Quarantäne genommen."), "released": _l("Ressource freigegeben.")}
ACTION_LABELS = {
    "created": _l("Angelegt"),
    "allocated": _l("Zugewiesen"),
    "released": _l("Freigegeben"),
    "quarantined": _l("In Quarantäne"),
}


async def allocate_audited(request: Request, db: Db, staff: Staff, body: AllocateBody) -> list[int]:
    """Allocate the resources to the license, all or none, with the audit entry."""
    actor = actor_of(request, staff)
    ids = await resource_allocation.allocate_resources(
        db, body.license_id, body.resource_ids, actor.username, body.resource_type
    )
    await record(db, actor, "resource_allocate", "license", body.license_id, after={"resource_ids": ids})
    return ids


async def change_state_audited(request: Request, db: Db, staff: Staff, resource_id: int, target: str) -> None:
    actor = actor_of(request, staff)
    if target == "release":
        change = await service.release_resource(db, resource_id, actor.username)
    else:
        change = await service.quarantine_resource(db, resource_id, actor.username)
    await record(db, actor, f"resource_{target}", "resource", resource_id, before=change.before, after=change.after)


def _checked_filter(value: str, allowed: tuple[str, ...], name: str) -> str | None:
    if value and value not in allowed:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, f"Invalid request: {name}: use one of " + ", ".join(allowed))
    return value or None


def _notice(request: Request) -> str:
    """The message of the action that led here (after its redirect)."""
    added = request.query_params.get("added", "")
    if added.isascii() and added.isdigit() and len(added) <= 6:
        return gettext("%(added)s Ressourcen angelegt.") % {"added": added}
    return str(NOTICES.get(request.query_params.get("notice", ""), ""))


def _labels() -> dict[str, object]:
    return {
        "resource_types": RESOURCE_TYPES,
        "resource_states": RESOURCE_STATES,
        "type_labels": TYPE_LABELS,
        "status_labels": STATUS_LABELS,
    }


async def _pool_page(
    request: Request,
    db: Db,
    filters: dict[str, str],
    page: int,
    error: AppError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    resource_type = _checked_filter(filters.get("type", ""), RESOURCE_TYPES, "type")
    status = _checked_filter(filters.get("status", ""), RESOURCE_STATES, "status")
    search = filters.get("q", "").strip() or None
    wanted = PageRequest(page, PER_PAGE)
    rows, total = await pool.list_resources(db, resource_type, status, search, wanted.per_page, wanted.offset)
    context = {
        **_labels(),
        "resources": rows,
        "page": counted_page(rows, wanted, total, params=filters),
        "filters": filters,
        "free_counts": await pool.free_counts(db),
        "notice": "" if error else _notice(request),
        "error": error.message if error else None,
        "form": form or {},
        "max_batch": MAX_BATCH,
    }
    return render(request, "resources/list.html", context, status_code=error.status if error else 200)


@router.get("/resources")
async def pool_page(
    request: Request,
    db: Db,
    staff: Staff,
    resource_type: Annotated[Text, Query(alias="type", max_length=20)] = "",
    status: Annotated[Text, Query(max_length=20)] = "",
    q: Annotated[Text, Query(max_length=255)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    return await _pool_page(request, db, {"type": resource_type, "status": status, "q": q}, page)


@router.post("/resources/add")
async def add_form(request: Request, db: Db, staff: Staff) -> Response:
    """Add many at once, one identifier per line; all or none, the refusal shown with the text kept."""
    fields: dict[str, str] = {}
    try:
        fields = await form_fields(request)
        form = parse_form(AddResourcesForm, fields, ADD_LABELS)
        lines = form.identifier_lines()
        if not lines or len(lines) > MAX_BATCH:
            message = f"Bitte 1 bis {MAX_BATCH} Bezeichner angeben, einen je Zeile."
            raise AppError(400, ErrorCode.VALIDATION_ERROR, message)
        actor = actor_of(request, staff)
        async with db.begin_nested():  # a refused batch is undone before the page is drawn again
            ids = await service.add_resources(db, form.resource_type, lines, actor.username)
    except AppError as refusal:
        return await _pool_page(request, db, {}, 1, error=refusal, form=fields)
    after = {"resource_type": form.resource_type, "ids": ids, "identifiers": lines}
    await record(db, actor, "resource_create", "resource", None, after=after)
    return RedirectResponse(f"/resources?type={form.resource_type}&added={len(ids)}", status_code=303)


@router.get("/resources/{resource_id}")
async def resource_page(request: Request, db: Db, staff: Staff, resource_id: Id) -> Response:
    context = {
        **_labels(),
        "resource": await pool.get_resource(db, resource_id),
        "history": await pool.history_of(db, resource_id),
        "action_labels": ACTION_LABELS,
        "notice": _notice(request),
    }
    return render(request, "resources/detail.html", context)


async def _back_to(request: Request, resource_id: int, notice: str) -> str:
    """Where a button sends staff back to, with what happened: the pool list they came from (its
    filters kept), or the resource's page. Only paths of the pool: a form must not redirect
    elsewhere."""
    back = (await form_fields(request)).get("back", "")
    if not (back.startswith("/resources") and "//" not in back and "\\" not in back):
        back = f"/resources/{resource_id}"
    return f"{back}{'&' if '?' in back else '?'}notice={notice}"


@router.post("/resources/{resource_id}/release")
async def release_form(request: Request, db: Db, staff: Staff, resource_id: Id) -> Response:
    await change_state_audited(request, db, staff, resource_id, "release")
    return RedirectResponse(await _back_to(request, resource_id, "released"), status_code=303)


@router.post("/resources/{resource_id}/quarantine")
async def quarantine_form(request: Request, db: Db, staff: Staff, resource_id: Id) -> Response:
    await change_state_audited(request, db, staff, resource_id, "quarantine")
    return RedirectResponse(await _back_to(request, resource_id, "quarantined"), status_code=303)


# ---- JSON ----------------------------------------------------------------------------------


@router.post("/api/resources/allocate")
async def allocate_json(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_body(request, AllocateBody)
    ids = await allocate_audited(request, db, staff, body)
    return JsonResponse(
        {"success": True, "allocated": len(ids), "message": f"{len(ids)} resources allocated successfully"}
    )


@router.get("/api/resources/check-availability")
async def check_availability(
    db: Db,
    staff: Staff,
    resource_type: Annotated[ResourceType, Query(alias="type")],
    count: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 1,
) -> Response:
    return JsonResponse(await pool.availability(db, resource_type, count))


@router.post("/api/resources/{resource_id}/release")
async def release_json(request: Request, db: Db, staff: Staff, resource_id: Id) -> Response:
    await change_state_audited(request, db, staff, resource_id, "release")
    return JsonResponse({"success": True, "message": "Resource released successfully"})


@router.post("/api/resources/{resource_id}/quarantine")
async def quarantine_json(request: Request, db: Db, staff: Staff, resource_id: Id) -> Response:
    await change_state_audited(request, db, staff, resource_id, "quarantine")
    return JsonResponse({"success": True, "message": "Resource quarantined successfully"})
