"""Webhook endpoints through the management API: list, get, create, change, delete, rotate the
secret, an endpoint's deliveries and sending one again. The panel's service and rules
(domain/webhooks/endpoints.py: known event types, http(s) URLs to permitted addresses), audited
with the token's name under the panel's actions.

The secret is shown once: in the answer to the create that made it and to a rotation. A create
retried with the same Idempotency-Key answers the same endpoint with `"secret": null` — the
stored answer (idempotent_answers) never holds a secret in clear; a caller that lost the first
answer rotates the secret."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading, writing
from licenseserver.api.management.docs import operation
from licenseserver.api.management.idempotency import idempotent_create
from licenseserver.api.management.lists import Id, PageQuery, items_json, list_example, page_json
from licenseserver.api.management.state import management_state
from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import record
from licenseserver.domain.installation import sealing_secret
from licenseserver.domain.webhooks import endpoints, feed
from licenseserver.domain.webhooks.delivery import redeliver
from licenseserver.domain.webhooks.endpoints import Endpoint, EndpointCreate, EndpointUpdate
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import parse_body

router = APIRouter(prefix="/api/v1/webhooks", tags=["Management: webhooks"])

ENTITY = "webhook_endpoint"  # the panel's audit names (admin/routes/webhooks.py)
DELIVERY_ENTITY = "webhook_delivery"
SECRET_EXAMPLE = "whsec_5M9pXbq0HvE3z0vJ8dK2wU7rNf4aQ1sY6tLcRgB9hPo="  # noqa: S105  # nosec B105  # an example
EXAMPLE = {
    "id": 3,
    "url": "https://shop.example.com/hooks/licenses",
    "description": "Web shop",
    "event_types": ["license.created", "license.expired", "activation.created"],
    "enabled": True,
    "failing_since": None,
    "created_at": "2026-11-29T09:20:00Z",
    "updated_at": None,
}
CREATE_EXAMPLE = {
    "url": "https://shop.example.com/hooks/licenses",
    "description": "Web shop",
    "event_types": ["license.created", "license.expired", "activation.created"],
}
DELIVERY_EXAMPLE = {
    "id": 812,
    "event_id": "msg_01JDX4Q7ZC0K3W8M2T5R9VB6NA",
    "event_type": "license.created",
    "state": "pending",
    "attempts": 2,
    "last_status_code": 503,
    "last_error": None,
    "last_attempt_at": "2026-11-29T09:25:05Z",
    "next_attempt_at": "2026-11-29T09:30:06Z",
    "created_at": "2026-11-29T09:25:00Z",
    "delivered_at": None,
}
NOT_FOUND = (404, "NOT_FOUND")


def _state(endpoint: Endpoint) -> dict[str, Any]:
    """The audit log's picture of an endpoint, as the panel writes it: no secret, no timestamps."""
    return {name: value for name, value in endpoint.json().items() if name not in ("created_at", "updated_at")}


def _allow_private(request: Request) -> bool:
    return management_state(request).api.settings.webhook_allow_private


async def _sealing_key(request: Request, conn: Connection) -> str:
    """SECRET_KEY, or the one generated on first start: what endpoint secrets are sealed under."""
    return await sealing_secret(conn, management_state(request).api.settings)


@router.get("", **operation("List webhook endpoints", answer_example={"items": [EXAMPLE]}))
async def list_endpoints(request: Request) -> Response:
    async def work(call: Call) -> Response:
        found = await endpoints.list_endpoints(await sql_connection(call.session))
        return JsonResponse(items_json(found, Endpoint.json))

    return await reading(request, work)


@router.post(
    "",
    **operation(
        "Register a webhook endpoint (the answer shows its secret, once)",
        write=True,
        body=EndpointCreate,
        body_example=CREATE_EXAMPLE,
        answer_example={**EXAMPLE, "secret": SECRET_EXAMPLE},
        status=201,
        idempotent=True,
    ),
)
async def create_endpoint(request: Request) -> Response:
    async def work(call: Call) -> Response:
        body = await parse_body(request, EndpointCreate)
        conn = await sql_connection(call.session)
        shown: list[dict[str, Any]] = []  # the answer with its secret, when this call made the endpoint

        async def create() -> tuple[int, dict[str, Any]]:
            made = await endpoints.create_endpoint(
                conn, body, secret_key=await _sealing_key(request, conn), allow_private=_allow_private(request)
            )
            await record(call.session, call.actor, "create", ENTITY, made.endpoint.id, after=_state(made.endpoint))
            # The stored answer (idempotent_answers) never holds the secret; only this answer shows it.
            stored = {**made.endpoint.json(), "secret": None}  # nosec B105
            shown.append({**stored, "secret": made.secret})
            return 201, stored

        answer = await idempotent_create(request, call, create)
        return JsonResponse(shown[0], status_code=201) if shown else answer

    return await writing(request, work)


@router.get("/{endpoint_id}", **operation("Get a webhook endpoint", NOT_FOUND, answer_example=EXAMPLE))
async def get_endpoint(request: Request, endpoint_id: Id) -> Response:
    async def work(call: Call) -> Response:
        endpoint = await endpoints.get_endpoint(await sql_connection(call.session), endpoint_id)
        return JsonResponse(endpoint.json())

    return await reading(request, work)


@router.patch(
    "/{endpoint_id}",
    **operation(
        "Change a webhook endpoint's URL, description, event types or whether it is enabled",
        NOT_FOUND,
        write=True,
        body=EndpointUpdate,
        body_example={"event_types": ["license.created", "license.updated"], "enabled": True},
        answer_example=EXAMPLE,
    ),
)
async def update_endpoint(request: Request, endpoint_id: Id) -> Response:
    async def work(call: Call) -> Response:
        patch = await parse_body(request, EndpointUpdate)
        conn = await sql_connection(call.session)
        before, after = await endpoints.update_endpoint(conn, endpoint_id, patch, allow_private=_allow_private(request))
        if _state(before) != _state(after):
            await record(call.session, call.actor, "update", ENTITY, endpoint_id, _state(before), _state(after))
        return JsonResponse(after.json())

    return await writing(request, work)


@router.delete(
    "/{endpoint_id}",
    **operation("Delete a webhook endpoint with its delivery history", NOT_FOUND, write=True, status=204),
)
async def delete_endpoint(request: Request, endpoint_id: Id) -> Response:
    async def work(call: Call) -> Response:
        deleted = await endpoints.delete_endpoint(await sql_connection(call.session), endpoint_id)
        await record(call.session, call.actor, "delete", ENTITY, endpoint_id, before=_state(deleted))
        return Response(status_code=204)

    return await writing(request, work)


@router.post(
    "/{endpoint_id}/rotate-secret",
    **operation(
        "Give a webhook endpoint a new secret (shown once; the old one stops signing at once)",
        NOT_FOUND,
        write=True,
        answer_example={**EXAMPLE, "secret": SECRET_EXAMPLE},
    ),
)
async def rotate_secret(request: Request, endpoint_id: Id) -> Response:
    async def work(call: Call) -> Response:
        conn = await sql_connection(call.session)
        secret = await endpoints.rotate_secret(conn, endpoint_id, secret_key=await _sealing_key(request, conn))
        await record(call.session, call.actor, "webhook_secret_rotated", ENTITY, endpoint_id)
        endpoint = await endpoints.get_endpoint(conn, endpoint_id)
        return JsonResponse({**endpoint.json(), "secret": secret})

    return await writing(request, work)


@router.get(
    "/{endpoint_id}/deliveries",
    **operation(
        "List a webhook endpoint's deliveries, newest first",
        NOT_FOUND,
        answer_example=list_example(DELIVERY_EXAMPLE),
    ),
)
async def list_deliveries(request: Request, endpoint_id: Id, query: Annotated[PageQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        conn = await sql_connection(call.session)
        await endpoints.get_endpoint(conn, endpoint_id)  # 404 for an unknown endpoint
        page = await feed.deliveries_of_endpoint(conn, endpoint_id, query.request())
        return JsonResponse(page_json(page, feed.delivery_json))

    return await reading(request, work)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    **operation(
        "Send a delivery again (pending and due now, the same webhook-id)",
        NOT_FOUND,
        write=True,
        answer_example={**DELIVERY_EXAMPLE, "next_attempt_at": "2026-11-29T10:02:00Z"},
    ),
)
async def redeliver_delivery(request: Request, endpoint_id: Id, delivery_id: Id) -> Response:
    async def work(call: Call) -> Response:
        conn = await sql_connection(call.session)
        await endpoints.get_endpoint(conn, endpoint_id)
        found = await feed.delivery_of_endpoint(conn, endpoint_id, delivery_id)
        if found is None or not await redeliver(conn, delivery_id):
            message = f"Delivery {delivery_id} of webhook endpoint {endpoint_id} not found"
            raise AppError(404, ErrorCode.NOT_FOUND, message)
        after = {"endpoint_id": endpoint_id, "state": "pending"}
        await record(call.session, call.actor, "webhook_redelivered", DELIVERY_ENTITY, delivery_id, after=after)
        delivery = await feed.delivery_of_endpoint(conn, endpoint_id, delivery_id)
        assert delivery is not None  # read above in this transaction
        return JsonResponse(feed.delivery_json(delivery))

    return await writing(request, work)
