"""The lists' shared chrome from Python: the pager's text once a list's total is counted (htmx
loads it after the page, so a large list never waits for its COUNT). The wording itself lives in
templates/_list.html, the one place every list takes it from."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from licenseserver.admin.rendering import render
from licenseserver.kit.paging import PageRequest


def render_pager_text(request: Request, wanted: PageRequest, total: int, noun: object) -> Response:
    """ "Seite X von Y · A–B von N <Dingen>" for the page `wanted` of a list of `total` rows."""
    context = {
        "number": wanted.page,
        "pages": max(1, -(-total // wanted.per_page)),
        "first": wanted.offset + 1 if total > wanted.offset else 0,
        "last": min(wanted.offset + wanted.per_page, total),
        "total": total,
        "noun": noun,
    }
    return render(request, "_pager_text.html", context)
