"""The global search (GET /api/global-search, the /search page and the header's live list): up
to `limit` hits of each kind, one statement per kind, plus a COUNT for a kind with more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, Customer, LeadContact, LeadInstitution, License, Resource
from licenseserver.domain.customers.service import ordered_by_name
from licenseserver.domain.search import customers, leads, licenses, resources
from licenseserver.domain.search.hits import SearchGroup, SearchHit, SearchType


@dataclass(frozen=True, slots=True)
class Kind:
    condition: Callable[[str], ColumnElement[bool]]
    statement: Callable[[str], Select[*tuple[Any, ...]]]  # columns, joins and order; takes the text
    hit: Callable[[Any], SearchHit]
    table: Any  # what the COUNT counts


KINDS: dict[SearchType, Kind] = {
    "customer": Kind(
        customers.customer_condition, lambda q: customers.customer_statement(), customers.customer_hit, Customer
    ),
    "license": Kind(licenses.license_condition, lambda q: licenses.license_statement(), licenses.license_hit, License),
    "device": Kind(licenses.device_condition, lambda q: licenses.device_statement(), licenses.device_hit, Activation),
    "lead": Kind(leads.lead_condition, lambda q: leads.lead_statement(), leads.lead_hit, LeadInstitution),
    "lead_contact": Kind(leads.contact_condition, leads.contact_statement, leads.contact_hit, LeadContact),
    "resource": Kind(resources.resource_condition, resources.resource_statement, resources.resource_hit, Resource),
}


async def search_type(session: AsyncSession, kind: SearchType, q: str, limit: int) -> SearchGroup:
    """Up to `limit` hits of one kind and how many there are (counted only beyond the limit)."""
    text = q.strip()
    rules = KINDS[kind]
    condition = rules.condition(text)
    stmt = rules.statement(text).where(condition)
    if kind == "customer":
        # Customers are many: the order depends on how many match (see ordered_by_name).
        stmt = stmt.order_by(*await ordered_by_name(session, condition))
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    hits = [rules.hit(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return SearchGroup(kind, hits, len(hits))
    total = await session.scalar(select(func.count()).select_from(rules.table).where(condition))
    return SearchGroup(kind, hits, int(total or 0))


async def global_search(session: AsyncSession, q: str, kinds: tuple[SearchType, ...], limit: int) -> list[SearchGroup]:
    return [await search_type(session, kind, q, limit) for kind in kinds]
