"""Lizenzserver Administration → Webhooks → one endpoint: its settings, whether it is failing, and
its delivery history (newest first, paged) with every attempt and "Erneut senden" per delivery.

Sending again makes the delivery pending and due now (domain/webhooks/delivery.redeliver); the
deliverer beside every License API process picks it up within its poll interval, with the same
`webhook-id`, so a receiver that already has the event can drop it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.i18n import N_
from licenseserver.admin.query_params import PageNumber, list_link
from licenseserver.admin.rendering import render
from licenseserver.admin.routes.webhooks import LIST, endpoint_or_404, saved_message
from licenseserver.admin.webhook_forms import DELIVERY_STATES, EVENT_DESCRIPTIONS
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import record
from licenseserver.domain.webhooks.delivery import redeliver
from licenseserver.domain.webhooks.history import delivery_history, is_delivery_of
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.paging import PageRequest
from licenseserver.kit.validation import MAX_ID

router = APIRouter()
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
PER_PAGE = 25


@router.get(LIST + "/{endpoint_id}")
async def endpoint_page(
    request: Request, db: Db, staff: Staff, endpoint_id: RecordId, page: PageNumber = 1
) -> Response:
    conn = await sql_connection(db)
    endpoint = await endpoint_or_404(conn, endpoint_id)
    context = {
        "endpoint": endpoint,
        "page": await delivery_history(conn, endpoint_id, PageRequest(page, PER_PAGE)),
        "link": list_link(f"{LIST}/{endpoint_id}", {}),
        "event_descriptions": EVENT_DESCRIPTIONS,
        "delivery_states": DELIVERY_STATES,
        "saved": saved_message(request),
    }
    return render(request, "administration/webhook.html", context)


@router.post(LIST + "/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def send_again(request: Request, db: Db, staff: Staff, endpoint_id: RecordId, delivery_id: RecordId) -> Response:
    conn = await sql_connection(db)
    await endpoint_or_404(conn, endpoint_id)
    if not await is_delivery_of(conn, delivery_id, endpoint_id) or not await redeliver(conn, delivery_id):
        raise AppError(404, ErrorCode.NOT_FOUND, N_("Diese Zustellung gibt es nicht."))
    after = {"endpoint_id": endpoint_id, "state": "pending"}
    await record(db, actor_of(request, staff), "webhook_redelivered", "webhook_delivery", delivery_id, None, after)
    return RedirectResponse(f"{LIST}/{endpoint_id}?saved=redelivered", status_code=303)
