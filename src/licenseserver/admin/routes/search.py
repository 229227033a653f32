"""Global search: the reference's GET /api/global-search, the /search page behind the search box
of every page, and the box's live list of hits (/search/live, loaded by static/search.js)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.search_words import group_count, hit_words
from licenseserver.domain.search.hits import SEARCH_TYPES, SearchGroup, SearchType
from licenseserver.domain.search.service import global_search
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import Text

router = APIRouter()
PAGE_LIMIT = 10  # hits per kind on the /search page
LIVE_LIMIT = 5  # hits per kind in the search box's list
LABELS = {
    "customer": _l("Kunden"),
    "license": _l("Lizenzen"),
    "device": _l("Geräte"),
    "lead": _l("Leads"),
    "lead_contact": _l("Lead-Kontakte"),
    "resource": _l("Ressourcen"),
}
# Where all matches of a kind are listed (each list's own search finds at least these).
FULL_LISTS = {
    "customer": "/customers",
    "license": "/licenses",
    "lead": "/leads/",
    "lead_contact": "/leads/",
    "resource": "/resources",
}
SearchText = Annotated[Text, Query(max_length=100)]


@router.get("/api/global-search")
async def global_search_json(
    db: Db,
    staff: Staff,
    q: Annotated[Text, Query(min_length=1, max_length=100)],
    type: SearchType | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Hits of every kind (customers, licenses, devices, leads, lead contacts, resources) up to
    `limit` in all; `total` counts all matches, also those beyond the limit, and `groups` each
    kind's count. A kind's count stops at 1,000: such a group (and the answer) says
    `"capped": true`, and `total` is then a lower bound."""
    if not q.strip():
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Invalid request: q: must not be blank")
    groups = await global_search(db, q.strip(), (type,) if type else SEARCH_TYPES, limit)
    results = [hit.as_json() for group in groups for hit in group.hits][:limit]
    answer: dict[str, object] = {"results": results, "total": sum(group.total for group in groups)}
    if any(group.capped for group in groups):
        answer["capped"] = True
    answer["groups"] = [group.as_json() for group in groups]
    return JsonResponse(answer)


def _context(query: str, groups: list[SearchGroup], limit: int) -> dict[str, object]:
    return {
        "search_query": query,
        "groups": groups,
        "found": sum(group.total for group in groups),
        "found_capped": any(group.capped for group in groups),  # "mehr als N Treffer"
        "labels": LABELS,
        "full_lists": FULL_LISTS,
        "limit": limit,
        "hit_words": hit_words,
        "group_count": group_count,
    }


@router.get("/search")
async def search_page(request: Request, db: Db, staff: Staff, q: SearchText = "") -> Response:
    query = q.strip()
    groups = await global_search(db, query, SEARCH_TYPES, PAGE_LIMIT) if query else []
    # Kinds with hits first (in their usual order), the empty ones named in one line after them:
    # on a phone, hits must not sit below a screen of "no hits".
    context = _context(query, [group for group in groups if group.total], PAGE_LIMIT)
    context["empty_kinds"] = ", ".join(str(LABELS[group.type]) for group in groups if not group.total)
    return render(request, "search/results.html", context)


@router.get("/search/live")
async def search_live(request: Request, db: Db, staff: Staff, q: SearchText = "") -> Response:
    """The header box's list while staff type: a fragment, the non-empty groups only."""
    query = q.strip()
    groups = await global_search(db, query, SEARCH_TYPES, LIVE_LIMIT) if query else []
    found = [group for group in groups if group.total]
    return render(request, "search/_live.html", _context(query, found, LIVE_LIMIT))
