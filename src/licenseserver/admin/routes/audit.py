"""The audit log page: every change staff made, newest first, filtered and paged in the database."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.formdata import parse_form
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.domain.audit.queries import PER_PAGE, AuditFilter, audit_page
from licenseserver.kit.paging import MAX_PAGE

router = APIRouter()
LABELS = {
    "actor": _l("Benutzer"),
    "action": _l("Aktion"),
    "entity_type": _l("Objekttyp"),
    "entity_id": _l("Objekt-ID"),
    "date_from": _l("Von"),
    "date_to": _l("Bis"),
    "page": _l("Seite"),
}


@router.get("/audit")
async def audit_log(request: Request, db: Db, staff: Staff) -> Response:
    # Bad filter values are refused (400) rather than silently dropped: a filter that is ignored
    # would show entries the reader believes are excluded.
    filters = parse_form(AuditFilter, dict(request.query_params), LABELS)
    page = await audit_page(db, filters)
    context = {
        "filters": filters,
        "page": page,
        "per_page": PER_PAGE,
        "max_page": MAX_PAGE,
        "previous_url": f"/audit?{urlencode(filters.query_args(page.page - 1))}" if page.page > 1 else None,
        "next_url": (
            f"/audit?{urlencode(filters.query_args(page.page + 1))}" if page.has_next and page.page < MAX_PAGE else None
        ),
    }
    return render(request, "audit/index.html", context)
