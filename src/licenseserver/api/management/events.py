"""GET /api/v1/events: the recorded webhook events (webhook_events), oldest first, paged by cursor.

Oldest first, because the feed is for catching up: a system keeps the last `next_cursor` and
asks again later with `?after=` to get what was recorded since, in the order it happened —
without webhooks, or to fill a gap after its receiver was down. The cursor is opaque (the
table's id, encoded); `next_cursor` is always set once a page reached an event, so a caller that
is up to date keeps asking with the same cursor. An event is recorded only while an enabled
endpoint subscribes to its type (domain/webhooks/outbox.py, docs/integrations.md)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from licenseserver.api.management.calls import Call, reading
from licenseserver.api.management.docs import operation
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.webhooks import feed
from licenseserver.domain.webhooks.events import EVENT_TYPES
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import DEFAULT_PER_PAGE, MAX_PER_PAGE

router = APIRouter(prefix="/api/v1/events", tags=["Management: events"])

CURSOR_PREFIX = "ev1:"  # a version, so the cursor's content can change without breaking old ones
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# The ids are 64-bit on PostgreSQL; a larger number in a cursor is a bad cursor.
MAX_EVENT_ID = 2**63 - 1
EXAMPLE_EVENT = {
    "event_id": "msg_01JDX4Q7ZC0K3W8M2T5R9VB6NA",
    "type": "license.created",
    "created_at": "2026-11-29T09:15:01Z",
    "data": {
        "license_id": 7,
        "license_key": "K3F9-Q7MZ-2XWD-88PL",
        "customer_id": 42,
        "license_type": "subscription",
        "valid_from": "2026-11-29",
        "valid_until": "2027-11-28",
        "max_activations": 3,
        "max_users": 1,
        "is_active": True,
    },
}
EXAMPLE = {"items": [EXAMPLE_EVENT], "next_cursor": "ZXYxOjEyOA", "has_more": False}


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: Annotated[
        str | None,
        Field(pattern=CURSOR_PATTERN, description="The `next_cursor` of an earlier answer; none: from the oldest"),
    ] = None
    limit: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE
    type: Annotated[
        str | None,
        Field(max_length=64, description="Only events of this type", json_schema_extra={"enum": list(EVENT_TYPES)}),
    ] = None


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; 400 for anything this server did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found = re.fullmatch(rf"{CURSOR_PREFIX}(0|[1-9][0-9]{{0,18}})", text)
    if found is None or int(found.group(1)) > MAX_EVENT_ID:
        message = "Invalid cursor: pass the next_cursor of an earlier answer unchanged"
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message, details=[{"field": "after", "message": message}])
    return int(found.group(1))


def _checked_type(event_type: str | None) -> str | None:
    if event_type is not None and event_type not in EVENT_TYPES:
        message = f"Unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}"
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message, details=[{"field": "type", "message": message}])
    return event_type


@router.get(
    "",
    **operation("List recorded events, oldest first, paged by cursor (?after=next_cursor)", answer_example=EXAMPLE),
)
async def list_events(request: Request, query: Annotated[EventQuery, Query()]) -> Response:
    async def work(call: Call) -> Response:
        after = 0 if query.after is None else decode_cursor(query.after)
        event_type = _checked_type(query.type)
        page = await feed.events_after(await sql_connection(call.session), after, query.limit, event_type)
        # Past the last event the caller stays where it was: the same cursor finds what comes next.
        last = page.events[-1].id if page.events else after
        return JsonResponse(
            {
                "items": [event.json() for event in page.events],
                "next_cursor": encode_cursor(last) if last else None,
                "has_more": page.has_more,
            }
        )

    return await reading(request, work)
