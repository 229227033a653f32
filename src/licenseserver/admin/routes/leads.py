"""The leads' pages: the overview (search, type filter, paging), create, a lead's page (edit,
contacts, details, notes with their versions, timeline), delete with confirmation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.charts.reports import leads_chart
from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import form_fields, parse_form
from licenseserver.admin.i18n import N_, gettext
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.labels import DETAIL_TYPES
from licenseserver.admin.labels import INSTITUTION_TYPES as LEAD_TYPES
from licenseserver.admin.query_params import EntityId, list_link
from licenseserver.admin.rendering import render
from licenseserver.db.models.leads import INSTITUTION_TYPES
from licenseserver.domain.audit.service import record
from licenseserver.domain.customers.service import customer_option
from licenseserver.domain.leads import queries, service
from licenseserver.domain.leads.csv_encoding import ENCODING_NAMES, UTF8
from licenseserver.domain.leads.csv_format import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from licenseserver.domain.leads.import_problems import Problem
from licenseserver.domain.leads.schemas import FIELD_LABELS, InstitutionCreate
from licenseserver.kit.errors import AppError
from licenseserver.kit.paging import MAX_PAGE, PageRequest
from licenseserver.kit.validation import Text

router = APIRouter()
FIELDS = ("name", "type", "customer_id")
PER_PAGE = 25
READ_AS = N_("Die Datei wurde als %(encoding)s gelesen (nicht UTF-8).")
NOTICES = {"deleted": _l("Institution gelöscht."), "saved": "Gespeichert.", "imported": _l("Import abgeschlossen.")}


class LeadListQuery(BaseModel):
    q: Annotated[Text, Field(max_length=255)] = ""
    type: Annotated[Text, Field(pattern="^(|university|company|government|other)$")] = ""
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1


def labels() -> dict[str, Any]:
    return {"type_labels": LEAD_TYPES, "detail_labels": DETAIL_TYPES, "institution_types": INSTITUTION_TYPES}


def _notice(request: Request) -> str:
    notice = NOTICES.get(request.query_params.get("notice", ""), "")
    count = request.query_params.get("count", "")
    if notice and request.query_params.get("notice") == "imported" and count.isdigit():
        notice = gettext("Import abgeschlossen: %(count)s Institution(en) angelegt.") % {"count": count}
        read_as = request.query_params.get("read_as", "")
        if read_as in ENCODING_NAMES and read_as != UTF8:
            # The domain's read_as_note, in the staff member's language.
            notice += " " + gettext(READ_AS) % {"encoding": ENCODING_NAMES[read_as]}
    return str(notice)


async def overview_page(
    request: Request,
    db: Db,
    query: LeadListQuery,
    error: AppError | None = None,
    problems: list[Problem] | None = None,
) -> Response:
    page = await queries.list_institutions(db, query.q, query.type or None, PageRequest(query.page, PER_PAGE))
    context = {
        **labels(),
        "page": page,
        "query": query,
        "link": list_link("/leads/", {"q": query.q, "type": query.type}),
        "stats": await queries.lead_stats(db),
        "lead_chart": await leads_chart(db),
        "notice": _notice(request),
        "error": error.message if error else "",
        "problems": problems or [],
        "max_import_mib": MAX_IMPORT_BYTES // (1024 * 1024),
        "max_import_rows": f"{MAX_IMPORT_ROWS:,}".replace(",", "."),  # German digit grouping
    }
    return render(request, "leads/list.html", context, status_code=error.status if error else 200)


@router.get("/leads/")
async def lead_overview(request: Request, db: Db, staff: Staff, query: Annotated[LeadListQuery, Query()]) -> Response:
    return await overview_page(request, db, query)


def _institution_form(fields: dict[str, str]) -> InstitutionCreate:
    values: dict[str, Any] = {name: fields.get(name, "") for name in FIELDS}
    values["customer_id"] = values["customer_id"].strip() or None
    return parse_form(InstitutionCreate, values, FIELD_LABELS)


async def _create_page(request: Request, db: Db, values: dict[str, Any], error: AppError | None = None) -> Response:
    context = {
        **labels(),
        "values": values,
        "customer": await _customer_choice(db, values.get("customer_id")),
        "error": error.message if error else "",
    }
    return render(request, "leads/form.html", context, status_code=error.status if error else 200)


async def _customer_choice(db: Db, raw: object) -> dict[str, Any] | None:
    text = str(raw or "").strip()
    return await customer_option(db, int(text)) if text.isdigit() and len(text) < 10 else None


@router.get("/leads/create")
async def create_lead_form(request: Request, db: Db, staff: Staff) -> Response:
    return await _create_page(request, db, {"name": "", "type": "university", "customer_id": ""})


@router.post("/leads/create")
async def create_lead(request: Request, db: Db, staff: Staff) -> Response:
    fields = {"name": "", "type": "university", "customer_id": ""}  # shown when the form cannot be read
    try:
        fields = await form_fields(request)
        institution = await service.create_institution(db, _institution_form(fields))
    except AppError as error:
        return await _create_page(request, db, fields, error)
    after = service.institution_snapshot(institution)
    await record(db, actor_of(request, staff), "create", "lead_institution", institution.id, after=after)
    return RedirectResponse(f"/leads/edit/{institution.id}?notice=saved", status_code=303)


async def lead_page(
    request: Request, db: Db, lead_id: int, values: dict[str, Any] | None = None, error: AppError | None = None
) -> Response:
    lead = await queries.lead_view(db, lead_id)
    institution = lead.institution
    shown = values or {
        "name": institution.name,
        "type": institution.institution_type,
        "customer_id": institution.customer_id or "",
    }
    context = {
        **labels(),
        "lead": lead,
        "values": shown,
        "customer": await _customer_choice(db, shown.get("customer_id")),
        "timeline": lead.timeline(),
        "notice": _notice(request),
        "error": error.message if error else "",
    }
    return render(request, "leads/detail.html", context, status_code=error.status if error else 200)


@router.get("/leads/edit/{lead_id}")
async def lead_detail(request: Request, db: Db, staff: Staff, lead_id: EntityId) -> Response:
    return await lead_page(request, db, lead_id)


@router.post("/leads/update/{lead_id}")
async def update_lead(request: Request, db: Db, staff: Staff, lead_id: EntityId) -> Response:
    institution = await service.get_institution(db, lead_id)
    fields: dict[str, str] = {}  # the stored values are shown when the form cannot be read
    try:
        fields = await form_fields(request)
        before = await service.update_institution(db, institution, _institution_form(fields))
    except AppError as error:
        return await lead_page(request, db, lead_id, fields, error)
    after = service.institution_snapshot(institution)
    if before != after:
        await record(db, actor_of(request, staff), "update", "lead_institution", lead_id, before=before, after=after)
    return RedirectResponse(f"/leads/edit/{lead_id}?notice=saved", status_code=303)


@router.post("/leads/delete/{lead_id}")
async def delete_lead(request: Request, db: Db, staff: Staff, lead_id: EntityId) -> Response:
    """Without `confirm=yes` this shows what would be deleted and asks; with it, deletes the
    institution with its contacts, their details and notes (every version)."""
    if (await form_fields(request)).get("confirm") != "yes":
        lead = await queries.lead_view(db, lead_id)
        return render(request, "leads/confirm_delete.html", {**labels(), "lead": lead})
    before = await service.delete_institution(db, lead_id)
    await record(db, actor_of(request, staff), "delete", "lead_institution", lead_id, before=before)
    return RedirectResponse("/leads/?notice=deleted", status_code=303)
