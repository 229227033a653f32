"""Lizenzserver Administration → Webhooks: the endpoints events go to (docs/integrations.md, "Webhooks"), made,
changed, deleted, and their secrets renewed. Each endpoint's page with its delivery history is
in webhook_deliveries.

The endpoints service works on the SQL layer's connection, inside the panel request's transaction
(db.unit_of_work.sql_connection): a change and its audit entry commit together. A secret is shown
once, in the answer that made it, never in a URL; the audit log never holds it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.admin.webhook_forms import (
    EVENT_DESCRIPTIONS,
    EndpointForm,
    checked_endpoint_form,
    read_endpoint_form,
    url_refusal,
)
from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import record
from licenseserver.domain.webhooks import endpoints
from licenseserver.domain.webhooks.events import EVENT_TYPES
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.validation import MAX_ID

router = APIRouter()
EndpointId = Annotated[int, Path(ge=1, le=MAX_ID)]
LIST = "/administration/webhooks"
ENTITY = "webhook_endpoint"
NOT_FOUND = N_("Diesen Webhook-Endpunkt gibt es nicht.")
SAVED_MESSAGES: dict[str, Any] = {
    "updated": _l("Der Webhook-Endpunkt wurde gespeichert."),
    "deleted": _l("Der Webhook-Endpunkt wurde mit seinem Zustellverlauf gelöscht."),
    "redelivered": _l("Die Zustellung wird gleich erneut gesendet."),
}


def saved_message(request: Request) -> str:
    return str(SAVED_MESSAGES.get(request.query_params.get("saved", ""), ""))


def _state(endpoint: endpoints.Endpoint) -> dict[str, Any]:
    """The audit log's picture of an endpoint: its settings (no secret, no timestamps)."""
    return {name: value for name, value in endpoint.json().items() if name not in ("created_at", "updated_at")}


async def endpoint_or_404(conn: Connection, endpoint_id: int) -> endpoints.Endpoint:
    try:
        return await endpoints.get_endpoint(conn, endpoint_id)
    except AppError as exc:
        raise AppError(404, ErrorCode.NOT_FOUND, NOT_FOUND) if exc.status == 404 else exc from None


def _form_page(
    request: Request, form: EndpointForm, endpoint_id: int | None = None, error: str = "", status: int = 200
) -> Response:
    context = {
        "form": form,
        "endpoint_id": endpoint_id,
        "event_types": EVENT_TYPES,
        "event_descriptions": EVENT_DESCRIPTIONS,
        "error": error,
    }
    return render(request, "administration/webhook_form.html", context, status_code=status)


def _secret_page(request: Request, endpoint: endpoints.Endpoint, secret: str, created: bool) -> Response:
    context = {"endpoint": endpoint, "secret": secret, "created": created}
    return render(request, "administration/webhook_secret.html", context)


@router.get(LIST)
async def endpoints_page(request: Request, db: Db, staff: Staff) -> Response:
    context = {
        "endpoints": await endpoints.list_endpoints(await sql_connection(db)),
        "event_descriptions": EVENT_DESCRIPTIONS,
        "saved": saved_message(request),
    }
    return render(request, "administration/webhooks.html", context)


@router.get(LIST + "/new")
async def new_endpoint_form(request: Request, staff: Staff) -> Response:
    return _form_page(request, EndpointForm())


@router.post(LIST)
async def create(request: Request, db: Db, staff: Staff) -> Response:
    form = EndpointForm()  # shown empty when the post cannot be read
    state = admin_state(request)
    try:
        form = await read_endpoint_form(request)
        data = checked_endpoint_form(form)
        made = await endpoints.create_endpoint(
            await sql_connection(db),
            data,
            secret_key=state.secret_key,
            allow_private=state.settings.webhook_allow_private,
        )
    except AppError as exc:
        refusal = url_refusal(exc)
        return _form_page(request, form, error=refusal.message, status=refusal.status)
    after = _state(made.endpoint)
    await record(db, actor_of(request, staff), "create", ENTITY, made.endpoint.id, None, after)
    return _secret_page(request, made.endpoint, made.secret, created=True)


@router.get(LIST + "/{endpoint_id}/edit")
async def edit_form(request: Request, db: Db, staff: Staff, endpoint_id: EndpointId) -> Response:
    endpoint = await endpoint_or_404(await sql_connection(db), endpoint_id)
    return _form_page(request, EndpointForm.of(endpoint), endpoint.id)


@router.post(LIST + "/{endpoint_id}")
async def update(request: Request, db: Db, staff: Staff, endpoint_id: EndpointId) -> Response:
    conn = await sql_connection(db)
    form = EndpointForm.of(await endpoint_or_404(conn, endpoint_id))  # the stored values, until read
    try:
        form = await read_endpoint_form(request)
        data = endpoints.EndpointUpdate(**checked_endpoint_form(form).model_dump())
        allow_private = admin_state(request).settings.webhook_allow_private
        before, after = await endpoints.update_endpoint(conn, endpoint_id, data, allow_private=allow_private)
    except AppError as exc:
        if exc.status == 404:
            raise AppError(404, ErrorCode.NOT_FOUND, NOT_FOUND) from None
        refusal = url_refusal(exc)
        return _form_page(request, form, endpoint_id, refusal.message, refusal.status)
    if _state(before) != _state(after):
        await record(db, actor_of(request, staff), "update", ENTITY, endpoint_id, _state(before), _state(after))
    return RedirectResponse(f"{LIST}/{endpoint_id}?saved=updated", status_code=303)


@router.get(LIST + "/{endpoint_id}/delete")
async def confirm_delete(request: Request, db: Db, staff: Staff, endpoint_id: EndpointId) -> Response:
    endpoint = await endpoint_or_404(await sql_connection(db), endpoint_id)
    return render(request, "administration/delete_webhook.html", {"endpoint": endpoint})


@router.post(LIST + "/{endpoint_id}/delete")
async def delete(request: Request, db: Db, staff: Staff, endpoint_id: EndpointId) -> Response:
    conn = await sql_connection(db)
    await endpoint_or_404(conn, endpoint_id)
    deleted = await endpoints.delete_endpoint(conn, endpoint_id)
    await record(db, actor_of(request, staff), "delete", ENTITY, endpoint_id, _state(deleted), None)
    return RedirectResponse(f"{LIST}?saved=deleted", status_code=303)


@router.post(LIST + "/{endpoint_id}/secret")
async def rotate_secret(request: Request, db: Db, staff: Staff, endpoint_id: EndpointId) -> Response:
    conn = await sql_connection(db)
    endpoint = await endpoint_or_404(conn, endpoint_id)
    secret = await endpoints.rotate_secret(conn, endpoint_id, secret_key=admin_state(request).secret_key)
    await record(db, actor_of(request, staff), "webhook_secret_rotated", ENTITY, endpoint_id)
    return _secret_page(request, endpoint, secret, created=False)
