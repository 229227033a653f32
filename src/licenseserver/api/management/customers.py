"""Customers: list (search, paging), get, create, update, delete: the panel's services and rules
(domain/customers/service.py), audited with the token's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.idempotency import idempotent_create
from licenseserver.api.management.lists import Id, PageQuery, list_example, page_json
from licenseserver.db.models import Customer
from licenseserver.domain.audit.service import record
from licenseserver.domain.customers import service
from licenseserver.domain.customers.service import CustomerCreate, CustomerRow, CustomerUpdate
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import Text, parse_body, parse_value

router = APIRouter(prefix="/api/v1/customers", tags=["Management: customers"])

EXAMPLE = {
    "id": 42,
    "name": "Muster GmbH",
    "email": "einkauf@muster.example",
    "created_at": "2026-11-29T09:15:00Z",
    "license_count": 1,
}
CREATE_EXAMPLE = {"name": "Muster GmbH", "email": "einkauf@muster.example"}


class CustomerQuery(PageQuery):
    q: Annotated[Text, Field(max_length=255, description="Part of the name or e-mail address")] = ""


class CustomerPatch(BaseModel):
    """The fields to change; the rest stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None


def customer_json(customer: Customer | CustomerRow, license_count: int) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "created_at": iso_utc(customer.created_at),
        "license_count": license_count,
    }


def _row_json(row: CustomerRow) -> dict[str, Any]:
    return customer_json(row, row.license_count)


@router.get("", **operation("List customers", answer_example=list_example(EXAMPLE)))
async def list_customers(request: Request, query: Annotated[CustomerQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        page = await service.list_customers(call.session, query.q, "name", False, query.request())
        return JsonResponse(page_json(page, _row_json))

    return await reading(request, work)


@router.post(
    "",
    **operation(
        "Create a customer",
        write=True,
        body=CustomerCreate,
        body_example=CREATE_EXAMPLE,
        answer_example={**EXAMPLE, "license_count": 0},
        status=201,
        idempotent=True,
    ),
)
async def create_customer(request: Request) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, CustomerCreate)

        async def create() -> tuple[int, dict[str, Any]]:
            customer = await service.create_customer(call.session, body)
            after = service.customer_snapshot(customer)
            await record(call.session, call.actor, "create", "customer", customer.id, after=after)
            await call.session.refresh(customer)  # created_at, set by the database
            return 201, customer_json(customer, 0)

        return await idempotent_create(request, call, create)

    return await writing(request, work)


@router.get("/{customer_id}", **operation("Get a customer", (404, "CUSTOMER_NOT_FOUND"), answer_example=EXAMPLE))
async def get_customer(request: Request, customer_id: Id) -> Response:
    async def work(call: Call) -> Response:
        customer = await service.get_customer(call.session, customer_id)
        return JsonResponse(customer_json(customer, await service.count_licenses_of(call.session, customer_id)))

    return await reading(request, work)


@router.patch(
    "/{customer_id}",
    **operation(
        "Change a customer's name or e-mail address",
        (404, "CUSTOMER_NOT_FOUND"),
        write=True,
        body=CustomerPatch,
        body_example={"email": "lizenzen@muster.example"},
        answer_example=EXAMPLE,
    ),
)
async def update_customer(request: Request, customer_id: Id) -> Response:
    async def work(call: Call) -> Response:
        patch = await parse_body(request, CustomerPatch)
        customer = await service.get_customer(call.session, customer_id)
        current = service.customer_snapshot(customer)
        # The panel's model checks the result, so both ways in keep the same limits.
        data = parse_value(CustomerUpdate, {**current, **patch.model_dump(exclude_unset=True)})
        before = await service.update_customer(call.session, customer, data)
        after = service.customer_snapshot(customer)
        if before != after:
            await record(call.session, call.actor, "update", "customer", customer_id, before=before, after=after)
        return JsonResponse(customer_json(customer, await service.count_licenses_of(call.session, customer_id)))

    return await writing(request, work)


@router.delete(
    "/{customer_id}",
    **operation(
        "Delete a customer without licenses",
        (404, "CUSTOMER_NOT_FOUND"),
        (409, "CUSTOMER_HAS_LICENSES"),
        write=True,
        status=204,
    ),
)
async def delete_customer(request: Request, customer_id: Id) -> Response:
    async def work(call: Call) -> Response:
        # The panel's rule: a customer with licenses is refused (409 CUSTOMER_HAS_LICENSES).
        before = await service.delete_customer(call.session, customer_id)
        await record(call.session, call.actor, "delete", "customer", customer_id, before=before)
        return Response(status_code=204)

    return await writing(request, work)
