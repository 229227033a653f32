"""The license list's inline quick edit (htmx): one row as a form for valid_until,
max_activations and max_users, its save, and its "Abbrechen" (the row again)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import checked_form, form_values, parse_form
from licenseserver.admin.labels import license_labels
from licenseserver.admin.query_params import EntityId
from licenseserver.admin.rendering import render
from licenseserver.admin.return_to import from_current_page
from licenseserver.domain.licensing.rules import license_not_found
from licenseserver.domain.licensing.staff_edits import QuickEdit, update_license
from licenseserver.domain.licensing.staff_list import license_rows
from licenseserver.kit.errors import AppError
from licenseserver.kit.timefmt import utc_today

router = APIRouter()
QUICK_FIELDS = ("valid_until", "max_activations", "max_users")


async def _row_fragment(
    request: Request,
    db: Db,
    license_id: int,
    template: str,
    error: AppError | None = None,
    values: Any = None,
    saved: bool = False,
) -> Response:
    rows = await license_rows(db, [license_id])
    if not rows:
        raise license_not_found(license_id)
    context = {"license": rows[0], "values": values, "today": utc_today(), "saved": saved}
    context["error"] = error.message if error else ""
    context["list_url"] = from_current_page(request, "/licenses")  # the row's "Bearbeiten" returns there
    return render(request, template, {**context, **license_labels()}, status_code=error.status if error else 200)


@router.get("/licenses/{license_id}/row")
async def license_row(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    """One list row (htmx: "Abbrechen" of the inline edit)."""
    return await _row_fragment(request, db, license_id, "licenses/_row.html")


@router.get("/licenses/{license_id}/quick-edit")
async def quick_edit_form(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    """The row as an inline form for valid_until, max_activations and max_users (htmx)."""
    return await _row_fragment(request, db, license_id, "licenses/_quick_edit.html")


@router.post("/licenses/{license_id}/quick-edit")
async def quick_edit_from_form(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    """The inline form's save: the JSON quick-edit's service, answering the refreshed row."""
    values = form_values(await checked_form(request), QUICK_FIELDS, optional=("valid_until",))
    try:
        await update_license(db, license_id, parse_form(QuickEdit, values).changes(), actor_of(request, staff))
    except AppError as error:
        if error.status == 404:
            raise
        return await _row_fragment(request, db, license_id, "licenses/_quick_edit.html", error, values)
    return await _row_fragment(request, db, license_id, "licenses/_row.html", saved=True)
