"""Leads, so a CRM can push them in: institutions and their contacts, created and listed through
the panel's services (domain/leads/), audited with the token's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.idempotency import idempotent_create
from licenseserver.api.management.lists import Id, PageQuery, items_json, list_example, page_json
from licenseserver.db.models import LeadInstitution
from licenseserver.domain.audit.service import record
from licenseserver.domain.leads import queries, service
from licenseserver.domain.leads.schemas import ContactCreate, InstitutionCreate, InstitutionType
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import Text, parse_body

router = APIRouter(prefix="/api/v1/leads", tags=["Management: leads"])

INSTITUTION_EXAMPLE = {
    "id": 4,
    "name": "Hochschule Musterstadt",
    "contact_count": 1,
    "created_at": "2026-11-29T09:30:00Z",
    "type": "university",
    "customer_id": None,
}
CONTACT_EXAMPLE = {
    "id": 9,
    "first_name": "Erika",
    "last_name": "Mustermann",
    "position": "IT-Leitung",
    "institution_id": 4,
    "details": [],
    "notes": [],
}


class InstitutionQuery(PageQuery):
    q: Annotated[Text, Field(max_length=255, description="Part of a name or contact detail")] = ""
    type: InstitutionType | None = None


def institution_json(institution: LeadInstitution, contact_count: int) -> dict[str, Any]:
    return {
        "id": institution.id,
        "name": institution.name,
        "contact_count": contact_count,
        "created_at": iso_utc(institution.created_at),
        "type": institution.institution_type,
        "customer_id": institution.customer_id,
    }


@router.get("/institutions", **operation("List lead institutions", answer_example=list_example(INSTITUTION_EXAMPLE)))
async def list_institutions(request: Request, query: Annotated[InstitutionQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        page = await queries.list_institutions(call.session, query.q, query.type, query.request())
        return JsonResponse(page_json(page, queries.InstitutionRow.as_json))

    return await reading(request, work)


@router.post(
    "/institutions",
    **operation(
        "Create a lead institution",
        (404, "CUSTOMER_NOT_FOUND"),
        write=True,
        body=InstitutionCreate,
        body_example={"name": "Hochschule Musterstadt", "type": "university"},
        answer_example={**INSTITUTION_EXAMPLE, "contact_count": 0},
        status=201,
        idempotent=True,
    ),
)
async def create_institution(request: Request) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, InstitutionCreate)

        async def create() -> tuple[int, dict[str, Any]]:
            institution = await service.create_institution(call.session, body)
            after = service.institution_snapshot(institution)
            await record(call.session, call.actor, "create", "lead_institution", institution.id, after=after)
            return 201, institution_json(institution, 0)

        return await idempotent_create(request, call, create)

    return await writing(request, work)


@router.get(
    "/institutions/{institution_id}/contacts",
    **operation(
        "List an institution's contacts with their details and notes",
        (404, "NOT_FOUND"),
        answer_example={"items": [CONTACT_EXAMPLE]},
    ),
)
async def contacts_of_institution(request: Request, institution_id: Id) -> Response:
    async def work(call: Call) -> Response:
        lead = await queries.lead_view(call.session, institution_id)
        return JsonResponse(items_json(lead.contacts, queries.ContactView.as_json))

    return await reading(request, work)


@router.post(
    "/contacts",
    **operation(
        "Create a contact of an institution",
        (404, "NOT_FOUND"),
        write=True,
        body=ContactCreate,
        body_example={"institution_id": 4, "first_name": "Erika", "last_name": "Mustermann", "position": "IT-Leitung"},
        answer_example=CONTACT_EXAMPLE,
        status=201,
        idempotent=True,
    ),
)
async def create_contact(request: Request) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, ContactCreate)

        async def create() -> tuple[int, dict[str, Any]]:
            contact = await service.create_contact(call.session, body)
            after = service.contact_snapshot(contact)
            await record(call.session, call.actor, "create", "lead_contact", contact.id, after=after)
            return 201, queries.ContactView(contact).as_json()

        return await idempotent_create(request, call, create)

    return await writing(request, work)
