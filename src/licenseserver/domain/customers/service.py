"""Customers: the people and companies licenses are sold to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import UnaryExpression

from licenseserver.db.models import Customer, License
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.paging import Page, PageRequest, page_of

CustomerSort = Literal["name", "email", "created"]
OPTIONS_PER_PAGE = 20  # the reference's customer select pages by 20
FEW_MATCHES = 5000  # up to this many matching customers are found by index and then sorted


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    email: Annotated[EmailStr, StringConstraints(max_length=255)]


class CustomerUpdate(CustomerCreate):
    """The same fields and limits as creating one."""


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str
    email: str
    created_at: datetime
    license_count: int


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """The audit log's picture of a customer."""
    return {"name": customer.name, "email": customer.email}


def customer_not_found(customer_id: int) -> AppError:
    return AppError(404, ErrorCode.CUSTOMER_NOT_FOUND, f"Customer {customer_id} not found")


async def create_customer(session: AsyncSession, data: CustomerCreate) -> Customer:
    customer = Customer(name=data.name, email=str(data.email))
    session.add(customer)
    await session.flush()
    return customer


async def customers_with_email(
    session: AsyncSession, email: str, except_id: int | None = None, limit: int = 5
) -> list[tuple[int, str]]:
    """(id, name) of the first customers who already have this e-mail address, upper and lower
    case alike: the panel warns before a second customer gets it. Not a constraint: two
    customers (two departments of one company) may share an address on purpose."""
    stmt = select(Customer.id, Customer.name).where(func.lower(Customer.email) == email.lower())
    if except_id is not None:
        stmt = stmt.where(Customer.id != except_id)
    rows = await session.execute(stmt.order_by(Customer.id).limit(limit))
    return [(row.id, row.name) for row in rows]


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise customer_not_found(customer_id)
    return customer


async def update_customer(session: AsyncSession, customer: Customer, data: CustomerUpdate) -> dict[str, Any]:
    """Apply the form; returns the state before, for the audit log."""
    before = customer_snapshot(customer)
    customer.name = data.name
    customer.email = str(data.email)
    await session.flush()
    return before


async def count_licenses_of(session: AsyncSession, customer_id: int) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(License).where(License.customer_id == customer_id)) or 0
    )


async def delete_customer(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """Delete a customer without licenses; returns its last state for the audit log.

    A customer who still has licenses is refused (409 CUSTOMER_HAS_LICENSES) rather than taking
    the licenses, their devices and sessions along: deleting licenses is a separate, deliberate
    act (bulk delete in the license list), and the schema's RESTRICT foreign key agrees.
    """
    customer = await session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise customer_not_found(customer_id)
    count = await count_licenses_of(session, customer_id)
    if count:
        raise AppError(
            409,
            ErrorCode.CUSTOMER_HAS_LICENSES,
            f"Der Kunde hat noch {count} Lizenz(en). Bitte zuerst die Lizenzen löschen.",
        )
    before = customer_snapshot(customer)
    await session.delete(customer)
    await session.flush()
    return before


def _matching(q: str) -> ColumnElement[bool] | None:
    q = q.strip()
    if not q:
        return None
    return or_(Customer.name.icontains(q, autoescape=True), Customer.email.icontains(q, autoescape=True))


async def matches_up_to(session: AsyncSession, condition: ColumnElement[bool], most: int) -> int:
    """How many customers match `condition`, counted up to `most`: one LIMITed look-up by the
    trigram indexes (or a scan that stops at the `most`-th match), never every match."""
    found = select(Customer.id).where(condition).limit(most).subquery()
    return int(await session.scalar(select(func.count()).select_from(found)) or 0)


def name_order(few: bool, descending: bool = False) -> list[UnaryExpression[Any]]:
    """ORDER BY name, id; for `few` matches wrapped so that no index delivers it (see below)."""
    name = func.coalesce(Customer.name, Customer.name) if few else Customer.name
    if descending:
        return [name.desc(), Customer.id.desc()]
    return [name.asc(), Customer.id.asc()]


async def ordered_by_name(
    session: AsyncSession, condition: ColumnElement[bool] | None, descending: bool = False
) -> list[UnaryExpression[Any]]:
    """ORDER BY name for customers matching `condition`, chosen by how many match.

    A text that matches a block of alphabetically adjacent names (a surname while staff type it)
    made PostgreSQL walk the name index in order, filtering each row, through 45,000 of 50,000
    customers: 200 ms (bench/admin_lists.py, customer select). When at most FEW_MATCHES
    customers match (matches_up_to, about 1 ms for a specific text), the order is wrapped so no
    index can deliver it and the matches are found first and then sorted; a text matching more
    customers keeps the index walk, which then finds a page early.
    """
    few = condition is not None and await matches_up_to(session, condition, FEW_MATCHES + 1) <= FEW_MATCHES
    return name_order(few, descending)


async def list_customers(
    session: AsyncSession, q: str, sort: CustomerSort, descending: bool, request: PageRequest
) -> Page[CustomerRow]:
    """One page of customers with their license counts, searched, sorted and paged in SQL."""
    license_count = (
        select(func.count()).select_from(License).where(License.customer_id == Customer.id).scalar_subquery()
    )
    condition = _matching(q)
    if sort == "name":
        order = await ordered_by_name(session, condition, descending)
    else:
        column: InstrumentedAttribute[Any] = {"email": Customer.email, "created": Customer.id}[sort]
        order = [column.desc(), Customer.id.desc()] if descending else [column.asc(), Customer.id.asc()]
    stmt = select(Customer.id, Customer.name, Customer.email, Customer.created_at, license_count.label("n"))
    if condition is not None:
        stmt = stmt.where(condition)
    rows = (await session.execute(stmt.order_by(*order).limit(request.fetch).offset(request.offset))).all()
    page = page_of([CustomerRow(r.id, r.name, r.email, r.created_at, int(r.n)) for r in rows], request)
    if page.total is not None:
        return page
    count = select(func.count()).select_from(Customer)
    if condition is not None:
        count = count.where(condition)
    total = int(await session.scalar(count) or 0)
    return Page(page.items, page.page, page.per_page, page.has_next, total)


async def customer_options(session: AsyncSession, q: str, page: int) -> tuple[list[dict[str, Any]], bool]:
    """The searchable customer select's options ("Name - email"), by name, 20 a page."""
    request = PageRequest(page, OPTIONS_PER_PAGE)
    stmt = select(Customer.id, Customer.name, Customer.email)
    condition = _matching(q)
    if condition is not None:
        stmt = stmt.where(condition)
    order = await ordered_by_name(session, condition)
    stmt = stmt.order_by(*order).limit(request.fetch).offset(request.offset)
    rows = (await session.execute(stmt)).all()
    results = [{"id": r.id, "text": f"{r.name} - {r.email}"} for r in rows[:OPTIONS_PER_PAGE]]
    return results, len(rows) > OPTIONS_PER_PAGE


async def customer_option(session: AsyncSession, customer_id: int | None) -> dict[str, Any] | None:
    """One customer as a select option, to show a chosen customer before the select loads."""
    if customer_id is None:
        return None
    customer = await session.get(Customer, customer_id)
    return None if customer is None else {"id": customer.id, "text": f"{customer.name} - {customer.email}"}
