"""Global search: the reference's GET /api/global-search and the /search page behind the search
box of every page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.rendering import render
from licenseserver.domain.licensing.staff_search import SEARCH_TYPES, SearchType, global_search
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import Text

router = APIRouter()
PAGE_LIMIT = 25  # hits per kind on the /search page
LABELS = {"customer": "Kunden", "license": "Lizenzen", "device": "Geräte"}


@router.get("/api/global-search")
async def global_search_json(
    db: Db,
    staff: Staff,
    q: Annotated[Text, Query(min_length=1, max_length=100)],
    type: SearchType | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Hits of every kind (customers, then licenses, then devices) up to `limit`; `total` counts
    all matches, also those beyond the limit."""
    if not q.strip():
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Invalid request: q: must not be blank")
    groups = await global_search(db, q.strip(), (type,) if type else SEARCH_TYPES, limit)
    results = [hit.as_json() for group in groups for hit in group.hits][:limit]
    return JsonResponse({"results": results, "total": sum(group.total for group in groups)})


@router.get("/search")
async def search_page(
    request: Request, db: Db, staff: Staff, q: Annotated[Text, Query(max_length=100)] = ""
) -> Response:
    query = q.strip()
    groups = await global_search(db, query, SEARCH_TYPES, PAGE_LIMIT) if query else []
    context = {"search_query": query, "groups": groups, "labels": LABELS, "page_limit": PAGE_LIMIT}
    return render(request, "search/results.html", context)
