"""The audit log page: every change staff made, newest first, filtered and paged in the database."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.formdata import parse_form
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.list_chrome import render_pager_text
from licenseserver.admin.rendering import render
from licenseserver.domain.audit.queries import PER_PAGE, AuditFilter, audit_page, count_audit
from licenseserver.kit.paging import MAX_PAGE, PageRequest

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

    def link(page: int) -> str:
        return f"/audit?{urlencode(filters.query_args(min(page, MAX_PAGE)))}"

    context = {
        "filters": filters,
        "page": page,
        "link": link,
        "count_url": link(page.page).replace("/audit?", "/audit/count?", 1),
        "filtered": bool(filters.query_args()),
    }
    return render(request, "audit/index.html", context)


@router.get("/audit/count")
async def audit_count(request: Request, db: Db, staff: Staff) -> Response:
    """The pager's text with the number of matching entries, loaded after the page (htmx)."""
    filters = parse_form(AuditFilter, dict(request.query_params), LABELS)
    total = await count_audit(db, filters)
    return render_pager_text(request, PageRequest(filters.page, PER_PAGE), total, _l("Einträgen"))
