"""License pages: the list (filters, search, sort, paging, bulk actions), the create and edit
forms, and deletion. The detail page /licenses/{id} lives in license_detail, the list's inline
quick edit in licenses_quick."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator, Field
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import checked_form, form_text, form_values, parse_form
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.labels import license_labels
from licenseserver.admin.list_chrome import render_pager_text
from licenseserver.admin.query_params import EntityId, ListQuery, OptionalId, SortDirection, empty_is_none, list_link
from licenseserver.admin.rendering import render
from licenseserver.admin.return_to import ReturnParam, list_return, with_notice
from licenseserver.admin.routes import licenses_api, licenses_quick
from licenseserver.domain.audit.service import record
from licenseserver.domain.customers.service import customer_option
from licenseserver.domain.licensing.rules import LicenseState, license_not_found
from licenseserver.domain.licensing.staff_bulk import LicenseIds, delete_licenses, set_active
from licenseserver.domain.licensing.staff_edits import (
    LicenseCreate,
    LicenseType,
    LicenseUpdate,
    create_license,
    get_license,
    license_snapshot,
    unused_license_key,
    update_license,
)
from licenseserver.domain.licensing.staff_list import (
    LicenseFilter,
    LicenseSort,
    count_licenses,
    license_rows,
    list_licenses,
)
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import utc_today
from licenseserver.kit.validation import MAX_ID, Text

router = APIRouter()
router.include_router(licenses_api.router)
router.include_router(licenses_quick.router)

FORM_FIELDS = ("customer_id", "license_type", "valid_from", "valid_until", "max_activations", "max_users")
NOTICES = {
    "activated": _l("{n} Lizenz(en) aktiviert."),
    "deactivated": _l("{n} Lizenz(en) deaktiviert."),
    "deleted": _l("{n} Lizenz(en) gelöscht."),
    "saved": _l("Gespeichert."),
    "none_selected": _l("Keine Lizenz ausgewählt."),
}
BULK_ACTIONS = ("activate", "deactivate", "delete")


class LicenseListQuery(ListQuery):
    q: Annotated[Text, Field(max_length=100)] = ""
    customer_id: OptionalId = None
    type: Annotated[LicenseType | None, BeforeValidator(empty_is_none)] = None
    state: Annotated[LicenseState | None, BeforeValidator(empty_is_none)] = None
    sort: LicenseSort = "created"
    dir: SortDirection = "desc"

    def filters(self) -> LicenseFilter:
        return LicenseFilter(self.q, self.customer_id, self.type, self.state)

    def filter_params(self) -> dict[str, Any]:
        return {"q": self.q, "customer_id": self.customer_id, "type": self.type, "state": self.state}

    def params(self) -> dict[str, Any]:
        return {**self.filter_params(), "sort": self.sort, "dir": self.dir, "per_page": self.per_page}


def _small_int(text: str) -> int | None:
    """An id-sized number written in ASCII digits, else None (str.isdigit alone admits "²")."""
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_ID:
        return int(text)
    return None


def _notice(request: Request) -> str:
    template = NOTICES.get(request.query_params.get("notice", ""), "")
    return str(template).format(n=_small_int(request.query_params.get("count", "")) or 0)


@router.get("/licenses")
async def license_list(request: Request, db: Db, staff: Staff, query: Annotated[LicenseListQuery, Query()]) -> Response:
    page = await list_licenses(db, query.filters(), query.sort, query.descending, query.page_request())
    link = list_link("/licenses", query.params())
    context = {
        "page": page,
        "query": query,
        "link": link,
        "count_url": list_link("/licenses/count", {**query.params(), "page": query.page})(),
        "filtered": any(value for value in query.filter_params().values()),
        "list_url": link(page=query.page),  # the rows' "Bearbeiten" come back here
        "back": urlencode({k: v for k, v in {**query.params(), "page": query.page}.items() if v}),
        "customer": await customer_option(db, query.customer_id),
        "today": utc_today(),
        "notice": _notice(request),
        **license_labels(),
    }
    return render(request, "licenses/list.html", context)


@router.get("/licenses/count")
async def license_count(
    request: Request, db: Db, staff: Staff, query: Annotated[LicenseListQuery, Query()]
) -> Response:
    """The pager's text with the list's total, loaded after the page (htmx), so the page never
    waits for a COUNT."""
    total = await count_licenses(db, query.filters())
    return render_pager_text(request, query.page_request(), total, _l("Lizenzen"))


def _back_query(form: FormData) -> str:
    """The list's filters to return to, re-encoded so only a query string can come back."""
    return urlencode(parse_qsl(form_text(form, "back"))[:20])


def _back_to_list(back: str, notice: str, count: int | None = None) -> Response:
    """Back to the list the form came from (its filters and page kept), with the notice."""
    separator = "&" if back else ""
    tail = "" if count is None else f"&count={count}"
    return RedirectResponse(f"/licenses?{back}{separator}notice={notice}{tail}", status_code=303)


def _form_ids(form: FormData) -> LicenseIds:
    raw = [value for value in form.getlist("license_ids") if isinstance(value, str)]
    ids = [_small_int(value) for value in raw]
    if None in ids:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, N_("Ungültige Lizenz-ID."))
    return parse_form(LicenseIds, {"license_ids": ids})


@router.post("/licenses/bulk")
async def bulk_action(request: Request, db: Db, staff: Staff) -> Response:
    """The list's bulk buttons (a plain form, so it works without script): the same services as
    the JSON bulk endpoints. Deleting first shows the chosen licenses for confirmation."""
    form = await checked_form(request)
    action = form_text(form, "action")
    if action not in BULK_ACTIONS:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, N_("Unbekannte Aktion."))
    back = _back_query(form)
    if not form.getlist("license_ids"):
        # The buttons wait for a ticked box (licenses.js); without script the list says it.
        return _back_to_list(back, "none_selected")
    ids = _form_ids(form).unique()
    actor = actor_of(request, staff)
    if action == "delete" and form_text(form, "confirm") != "yes":
        context = {"licenses": await license_rows(db, ids), "back": back, "today": utc_today(), **license_labels()}
        return render(request, "licenses/confirm_delete.html", context)
    if action == "delete":
        count, notice = await delete_licenses(db, ids, actor), "deleted"
    else:
        count = await set_active(db, ids, action == "activate", actor)
        notice = "activated" if action == "activate" else "deactivated"
    return _back_to_list(back, notice, count)


def _license_values(form: FormData) -> dict[str, Any]:
    values = form_values(form, FORM_FIELDS, optional=("valid_from", "valid_until"))
    values["is_active"] = form_text(form, "is_active") in ("on", "1", "true")
    return values


async def _form_page(
    request: Request,
    db: Db,
    values: dict[str, Any],
    license_id: int | None = None,
    error: AppError | None = None,
    next_url: str | None = None,
) -> Response:
    customer = await customer_option(db, _small_int(str(values.get("customer_id") or "")))
    context = {
        "values": values,
        "license_id": license_id,
        "next_url": next_url,
        "customer": customer,
        "error": error.message if error else "",
        "notice": "" if error else _notice(request),
        **license_labels(),
    }
    return render(request, "licenses/form.html", context, status_code=error.status if error else 200)


@router.get("/licenses/new")
async def new_license_form(
    request: Request, db: Db, staff: Staff, customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Response:
    values = {
        "license_key": await unused_license_key(db),
        "customer_id": customer_id,
        "license_type": "perpetual",
        "valid_from": utc_today().isoformat(),
        "valid_until": "",
        "max_activations": 1,
        "max_users": 1,
        "is_active": True,
    }
    return await _form_page(request, db, values)


@router.post("/licenses/new")
async def create_license_from_form(request: Request, db: Db, staff: Staff) -> Response:
    form = await checked_form(request)
    values = {**_license_values(form), "license_key": form_text(form, "license_key").strip()}
    try:
        license_row = await create_license(db, parse_form(LicenseCreate, values))
    except AppError as error:
        return await _form_page(request, db, values, error=error)
    snapshot = license_snapshot(license_row)
    await record(db, actor_of(request, staff), "create", "license", license_row.id, after=snapshot)
    return RedirectResponse(f"/licenses/{license_row.id}?done=license_created", status_code=303)


@router.get("/licenses/{license_id}/edit")
async def edit_license_form(
    request: Request, db: Db, staff: Staff, license_id: EntityId, next: ReturnParam = None
) -> Response:
    values = license_snapshot(await get_license(db, license_id))
    return await _form_page(request, db, values, license_id, next_url=list_return(next, "/licenses"))


@router.post("/licenses/{license_id}/edit")
async def update_license_from_form(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    license_row = await get_license(db, license_id)
    form = await checked_form(request)
    # Only the edit form has the offline time to live (empty: the default); a new license starts at it.
    values = {**_license_values(form), **form_values(form, ("offline_ttl_days",), optional=("offline_ttl_days",))}
    next_url = list_return(form_text(form, "next"), "/licenses")
    try:
        data = parse_form(LicenseUpdate, values)
        await update_license(db, license_id, data.model_dump(), actor_of(request, staff))
    except AppError as error:
        values["license_key"] = license_row.license_key
        return await _form_page(request, db, values, license_id, error, next_url)
    return RedirectResponse(with_notice(next_url or f"/licenses/{license_id}/edit", "saved"), status_code=303)


@router.post("/licenses/{license_id}/delete")
async def delete_license_from_form(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    if not await delete_licenses(db, [license_id], actor_of(request, staff)):
        raise license_not_found(license_id)
    return RedirectResponse("/licenses?notice=deleted&count=1", status_code=303)
