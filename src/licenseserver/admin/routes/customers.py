"""Customers: list with search, create, edit, delete; and the customer select's JSON feed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import checked_form, form_text, form_values, parse_form
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.query_params import EntityId, ListQuery, PageNumber, list_link
from licenseserver.admin.rendering import render
from licenseserver.admin.return_to import ReturnParam, list_return, with_notice
from licenseserver.domain.audit.service import record
from licenseserver.domain.customers.service import (
    CustomerCreate,
    CustomerSort,
    CustomerUpdate,
    count_licenses_of,
    create_customer,
    customer_options,
    customer_snapshot,
    customers_with_email,
    delete_customer,
    get_customer,
    list_customers,
    update_customer,
)
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import Text

router = APIRouter()
FIELDS = ("name", "email")
CONFIRMED_EMAIL = "confirmed_email"  # the "Trotzdem speichern" button's field
# A warning, not a refusal: nothing is saved until staff confirm (409, the form shown again).
DUPLICATE_EMAIL = AppError(
    409, ErrorCode.CONFLICT, N_("Diese E-Mail-Adresse hat bereits ein anderer Kunde. Nichts gespeichert.")
)


class CustomerListQuery(ListQuery):
    q: Annotated[Text, Query(max_length=255)] = ""
    sort: CustomerSort = "name"


@router.get("/customers")
async def customer_list(
    request: Request, db: Db, staff: Staff, query: Annotated[CustomerListQuery, Query()]
) -> Response:
    page = await list_customers(db, query.q, query.sort, query.descending, query.page_request())
    params = {"q": query.q, "sort": query.sort, "dir": query.dir, "per_page": query.per_page}
    link = list_link("/customers", params)
    context = {"page": page, "query": query, "link": link, "notice": _notice(request)}
    context["list_url"] = link(page=query.page)  # the rows' "Bearbeiten" come back here
    return render(request, "customers/list.html", context)


def _notice(request: Request) -> str:
    notices = {"deleted": _l("Kunde gelöscht."), "saved": _l("Gespeichert.")}
    return str(notices.get(request.query_params.get("notice", ""), ""))


def _form_page(
    request: Request,
    values: dict[str, Any],
    customer_id: int | None = None,
    error: AppError | None = None,
    license_count: int = 0,
    same_email: list[tuple[int, str]] | None = None,
    next_url: str | None = None,
) -> Response:
    context = {
        "values": values,
        "customer_id": customer_id,
        "license_count": license_count,
        "error": error.message if error else "",
        "notice": _notice(request),
        "same_email": same_email or [],
        "next_url": next_url,
    }
    return render(request, "customers/form.html", context, status_code=error.status if error else 200)


async def _unconfirmed_duplicate(
    db: Db, form: FormData, email: str, customer_id: int | None = None
) -> list[tuple[int, str]]:
    """The other customers with this e-mail address, unless the form confirms saving it anyway
    ("Trotzdem speichern" sends the address it warned about: a changed address is checked again)."""
    if form_text(form, CONFIRMED_EMAIL).strip().lower() == email.lower():
        return []
    return await customers_with_email(db, email, except_id=customer_id)


@router.get("/customers/new")
async def new_customer_form(request: Request, staff: Staff) -> Response:
    return _form_page(request, dict.fromkeys(FIELDS, ""))


@router.post("/customers/new")
async def create_customer_from_form(request: Request, db: Db, staff: Staff) -> Response:
    values: dict[str, Any] = dict.fromkeys(FIELDS, "")  # shown again when the form cannot be read
    try:
        form = await checked_form(request)
        values = form_values(form, FIELDS)
        data = parse_form(CustomerCreate, values)
    except AppError as error:
        return _form_page(request, values, error=error)
    if same_email := await _unconfirmed_duplicate(db, form, str(data.email)):
        return _form_page(request, values, error=DUPLICATE_EMAIL, same_email=same_email)
    customer = await create_customer(db, data)
    await record(db, actor_of(request, staff), "create", "customer", customer.id, after=customer_snapshot(customer))
    return RedirectResponse(f"/customers/{customer.id}/edit?notice=saved", status_code=303)


@router.get("/customers/{customer_id}/edit")
async def edit_customer_form(
    request: Request, db: Db, staff: Staff, customer_id: EntityId, next: ReturnParam = None
) -> Response:
    customer = await get_customer(db, customer_id)
    count = await count_licenses_of(db, customer.id)
    next_url = list_return(next, "/customers")
    return _form_page(request, customer_snapshot(customer), customer.id, license_count=count, next_url=next_url)


@router.post("/customers/{customer_id}/edit")
async def update_customer_from_form(request: Request, db: Db, staff: Staff, customer_id: EntityId) -> Response:
    customer = await get_customer(db, customer_id)
    values = customer_snapshot(customer)  # shown again when the form cannot be read
    next_url = None
    try:
        form = await checked_form(request)
        next_url = list_return(form_text(form, "next"), "/customers")
        values = form_values(form, FIELDS)
        data = parse_form(CustomerUpdate, values)
    except AppError as error:
        count = await count_licenses_of(db, customer.id)
        return _form_page(request, values, customer.id, error, count, next_url=next_url)
    if same_email := await _unconfirmed_duplicate(db, form, str(data.email), customer.id):
        count = await count_licenses_of(db, customer.id)
        return _form_page(request, values, customer.id, DUPLICATE_EMAIL, count, same_email, next_url)
    before = await update_customer(db, customer, data)
    after = customer_snapshot(customer)
    if before != after:
        await record(db, actor_of(request, staff), "update", "customer", customer.id, before=before, after=after)
    return RedirectResponse(with_notice(next_url or f"/customers/{customer.id}/edit", "saved"), status_code=303)


@router.post("/customers/{customer_id}/delete")
async def delete_customer_from_form(request: Request, db: Db, staff: Staff, customer_id: EntityId) -> Response:
    # A customer who still has licenses is refused with 409 CUSTOMER_HAS_LICENSES (see
    # delete_customer): licenses, their devices and sessions are never deleted as a side effect.
    before = await delete_customer(db, customer_id)
    await record(db, actor_of(request, staff), "delete", "customer", customer_id, before=before)
    return RedirectResponse("/customers?notice=deleted", status_code=303)


@router.get("/api/customers")
async def customers_for_select(
    db: Db, staff: Staff, q: Annotated[Text, Query(max_length=255)] = "", page: PageNumber = 1
) -> Response:
    results, more = await customer_options(db, q, page)
    return JsonResponse({"results": results, "pagination": {"more": more}})
