"""The leads' JSON endpoints: the reference's institutions, contact, contact details and stats, and
the contract's additions the lead page's script uses (new contact, new note, edit note)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import parse_panel_body
from licenseserver.admin.i18n import N_
from licenseserver.admin.query_params import EntityId
from licenseserver.domain.audit.service import record
from licenseserver.domain.leads import queries, service
from licenseserver.domain.leads.schemas import FIELD_LABELS, ContactCreate, DetailCreate, InstitutionCreate, NoteBody
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import MAX_PAGE, MAX_PER_PAGE, PageRequest
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import Text

router = APIRouter(prefix="/leads/api")
# The fields as the lead page's forms label them, for the reason its script shows.
PAGE_LABELS = {**FIELD_LABELS, "type": N_("Art"), "value": N_("E-Mail oder Telefon"), "content": N_("Notiz")}


class InstitutionListQuery(BaseModel):
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = 20  # the reference's default
    search: Annotated[Text, Field(max_length=255)] = ""


@router.get("/institutions")
async def institutions_json(db: Db, staff: Staff, query: Annotated[InstitutionListQuery, Query()]) -> Response:
    page = await queries.list_institutions(db, query.search, None, PageRequest(query.page, query.per_page))
    return JsonResponse(
        {
            "institutions": [row.as_json() for row in page.items],
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
        }
    )


@router.post("/institutions")
async def create_institution_json(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_panel_body(request, InstitutionCreate, FIELD_LABELS)
    institution = await service.create_institution(db, body)
    after = service.institution_snapshot(institution)
    await record(db, actor_of(request, staff), "create", "lead_institution", institution.id, after=after)
    created = {
        "id": institution.id,
        "name": institution.name,
        "created_at": iso_utc(institution.created_at),
        "type": institution.institution_type,
        "customer_id": institution.customer_id,
    }
    return JsonResponse(created, status_code=201)


@router.get("/contacts/{contact_id}")
async def contact_json(db: Db, staff: Staff, contact_id: EntityId) -> Response:
    return JsonResponse((await queries.contact_view(db, contact_id)).as_json())


@router.post("/contacts")
async def create_contact_json(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_panel_body(request, ContactCreate, PAGE_LABELS)
    contact = await service.create_contact(db, body)
    after = service.contact_snapshot(contact)
    await record(db, actor_of(request, staff), "create", "lead_contact", contact.id, after=after)
    return JsonResponse(queries.ContactView(contact).as_json(), status_code=201)


@router.post("/contacts/{contact_id}/details")
async def add_detail_json(request: Request, db: Db, staff: Staff, contact_id: EntityId) -> Response:
    body = await parse_panel_body(request, DetailCreate, PAGE_LABELS)
    detail = await service.add_detail(db, contact_id, body)
    after = service.detail_snapshot(detail)
    await record(db, actor_of(request, staff), "create", "lead_contact_detail", detail.id, after=after)
    return JsonResponse(queries.detail_json(detail), status_code=201)


@router.post("/contacts/{contact_id}/notes")
async def add_note_json(request: Request, db: Db, staff: Staff, contact_id: EntityId) -> Response:
    body = await parse_panel_body(request, NoteBody, PAGE_LABELS)
    actor = actor_of(request, staff)
    note, version = await service.add_note(db, contact_id, body.content, actor.username)
    await record(db, actor, "create", "lead_note", note.id, after=service.note_snapshot(note, version))
    return JsonResponse(queries.NoteView(note.id, note.contact_id, [version]).as_json(), status_code=201)


@router.put("/notes/{note_id}")
async def edit_note_json(request: Request, db: Db, staff: Staff, note_id: EntityId) -> Response:
    """The note's next version; every earlier version is kept."""
    body = await parse_panel_body(request, NoteBody, PAGE_LABELS)
    actor = actor_of(request, staff)
    note, previous, version = await service.edit_note(db, note_id, body.content, actor.username)
    before, after = service.note_snapshot(note, previous), service.note_snapshot(note, version)
    await record(db, actor, "update", "lead_note", note.id, before=before, after=after)
    return JsonResponse((await queries.note_view(db, note_id)).as_json())


@router.get("/stats")
async def stats_json(db: Db, staff: Staff) -> Response:
    return JsonResponse(await queries.lead_stats(db))
