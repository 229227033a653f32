"""The resource pool: list it, allocate resources to a license, release one. The panel's rules
(licensing/resource_allocation.py under the license row lock, resources/service.py), each change
in the resource's history and the audit log with the token's name."""

from __future__ import annotations

from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.lists import Id, PageQuery, items_json, list_example, page_json
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import resource_allocation, staff_devices
from licenseserver.domain.resources import queries as pool
from licenseserver.domain.resources import service
from licenseserver.domain.resources.schemas import MAX_BATCH, ResourceId, ResourceStatus, ResourceType
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import counted_page
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import Text, parse_body

router = APIRouter(prefix="/api/v1", tags=["Management: resources"])

EXAMPLE = {
    "id": 5,
    "type": "ipv4",
    "identifier": "203.0.113.10",
    "status": "allocated",
    "license_id": 7,
    "license_key": "K3F9-Q7MZ-2XWD-88PL",
    "allocated_at": "2026-11-29T09:20:00Z",
    "created_at": "2026-11-01T08:00:00Z",
}


class ResourceQuery(PageQuery):
    type: ResourceType | None = None
    status: ResourceStatus | None = None
    q: Annotated[Text, Field(max_length=255, description="Part of the identifier")] = ""


class AllocateRequest(BaseModel):
    """Either the resources by id (all or none), or `count` free ones of `resource_type`."""

    model_config = ConfigDict(extra="forbid")

    resource_ids: Annotated[list[ResourceId], Field(min_length=1, max_length=MAX_BATCH)] | None = None
    resource_type: ResourceType | None = None
    count: Annotated[int, Field(ge=1, le=MAX_BATCH)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.resource_ids is None) == (self.count is None):
            raise ValueError("give either resource_ids or resource_type with count")
        if self.count is not None and self.resource_type is None:
            raise ValueError("count needs a resource_type")
        return self


def resource_json(row: pool.ResourceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.resource_type,
        "identifier": row.identifier,
        "status": row.status,
        "license_id": row.license_id,
        "license_key": row.license_key,
        "allocated_at": iso_utc(row.allocated_at),
        "created_at": iso_utc(row.created_at),
    }


@router.get("/resources", **operation("List the resource pool", answer_example=list_example(EXAMPLE)))
async def list_pool(request: Request, query: Annotated[ResourceQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        wanted = query.request()
        search = query.q.strip() or None
        rows, total = await pool.list_resources(
            call.session, query.type, query.status, search, wanted.per_page, wanted.offset
        )
        return JsonResponse(page_json(counted_page(rows, wanted, total), resource_json))

    return await reading(request, work)


@router.get(
    "/licenses/{license_id}/resources",
    **operation("List a license's resources", (404, "LICENSE_NOT_FOUND"), answer_example={"items": [EXAMPLE]}),
)
async def resources_of_license(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        await staff_devices.license_key_of(call.session, license_id)  # 404 for an unknown license
        return JsonResponse(items_json(await pool.resources_of_license(call.session, license_id), resource_json))

    return await reading(request, work)


@router.post(
    "/licenses/{license_id}/resources",
    **operation(
        "Allocate resources to a license (all or none)",
        (404, "LICENSE_NOT_FOUND"),
        (404, "RESOURCE_NOT_FOUND"),
        (409, "RESOURCE_NOT_AVAILABLE"),
        write=True,
        body=AllocateRequest,
        body_example={"resource_type": "ipv4", "count": 1},
        answer_example={"items": [EXAMPLE]},
    ),
)
async def allocate(request: Request, license_id: Id) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, AllocateRequest)
        who = call.actor.username
        if body.resource_ids is not None:
            ids = await resource_allocation.allocate_resources(
                call.session, license_id, body.resource_ids, who, body.resource_type
            )
        else:
            assert body.resource_type is not None and body.count is not None  # checked by the model
            ids = await resource_allocation.allocate_by_type(
                call.session, license_id, body.resource_type, body.count, who
            )
        await record(call.session, call.actor, "resource_allocate", "license", license_id, after={"resource_ids": ids})
        rows = [row for row in await pool.resources_of_license(call.session, license_id) if row.id in set(ids)]
        return JsonResponse(items_json(rows, resource_json))

    return await writing(request, work)


@router.post(
    "/resources/{resource_id}/release",
    **operation(
        "Release a resource back to the pool",
        (404, "RESOURCE_NOT_FOUND"),
        (409, "CONFLICT"),
        write=True,
        answer_example={
            **EXAMPLE,
            "status": "available",
            "license_id": None,
            "license_key": None,
            "allocated_at": None,
        },
    ),
)
async def release(request: Request, resource_id: Id) -> Response:
    async def work(call: Call) -> Response:
        change = await service.release_resource(call.session, resource_id, call.actor.username)
        await record(
            call.session,
            call.actor,
            "resource_release",
            "resource",
            resource_id,
            before=change.before,
            after=change.after,
        )
        return JsonResponse(resource_json(await pool.get_resource(call.session, resource_id)))

    return await writing(request, work)
