"""Active devices across all licenses: the list the dashboard's "Aktive Geräte" opens, each
device with its license (linked), customer, computer name, shortened hardware hash and when it
was last heard from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.list_chrome import render_pager_text
from licenseserver.admin.query_params import list_link
from licenseserver.admin.rendering import render
from licenseserver.domain.licensing.staff_devices import active_devices, count_active_devices
from licenseserver.kit.paging import MAX_PAGE, PageRequest

router = APIRouter()

PER_PAGE = 50
HASH_SHOWN = 12  # characters of the hardware hash in the list; the whole hash in its tooltip


@router.get("/devices")
async def devices_page(
    request: Request, db: Db, staff: Staff, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
) -> Response:
    context = {
        "page": await active_devices(db, PageRequest(page, PER_PAGE)),
        "link": list_link("/devices", {}),
        "count_url": f"/devices/count?page={page}",
        "hash_shown": HASH_SHOWN,
    }
    return render(request, "devices/list.html", context)


@router.get("/devices/count")
async def devices_count(
    request: Request, db: Db, staff: Staff, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
) -> Response:
    """The pager's text with the number of active devices, loaded after the page (htmx)."""
    total = await count_active_devices(db)
    return render_pager_text(request, PageRequest(page, PER_PAGE), total, _l("Geräten"))
