"""The global search (GET /api/global-search, the /search page and the header's live list): up
to `limit` hits of each kind, one statement per kind, plus a COUNT for a kind with more.

The COUNT stops at COUNT_CAP + 1 matches: a word found in 200,000 device names ("desktop") took
100-600 ms to count exactly at 1,000,000 licenses (bench/admin_lists.py, "a common word"), and
what staff need there is "more than 1,000", not the figure. Customers are counted by the probe
that chooses their order (customers.service.matches_up_to), which runs anyway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, Customer, LeadContact, LeadInstitution, License, Resource
from licenseserver.domain.customers.service import FEW_MATCHES, matches_up_to, name_order
from licenseserver.domain.search import customers, leads, licenses, resources
from licenseserver.domain.search.hits import COUNT_CAP, SearchGroup, SearchHit, SearchType


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


async def count_up_to(session: AsyncSession, table: Any, condition: ColumnElement[bool], most: int) -> int:
    """How many rows of `table` match, counted up to `most`: the scan stops at the `most`-th."""
    found = select(table.id).where(condition).limit(most).subquery()
    return int(await session.scalar(select(func.count()).select_from(found)) or 0)


async def search_type(session: AsyncSession, kind: SearchType, q: str, limit: int) -> SearchGroup:
    """Up to `limit` hits of one kind and how many there are (counted only beyond the limit,
    and up to COUNT_CAP: beyond it the group says "more than COUNT_CAP")."""
    text = q.strip()
    rules = KINDS[kind]
    condition = rules.condition(text)
    stmt = rules.statement(text).where(condition)
    matches = None
    if kind == "customer":
        # Customers are many: the order depends on how many match (customers.service.ordered_by_name),
        # and that probe's count (up to FEW_MATCHES + 1, above COUNT_CAP) is the group's count too.
        matches = await matches_up_to(session, condition, FEW_MATCHES + 1)
        stmt = stmt.order_by(*name_order(matches <= FEW_MATCHES))
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    hits = [rules.hit(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return SearchGroup(kind, hits, len(hits))
    if matches is None:
        matches = await count_up_to(session, rules.table, condition, COUNT_CAP + 1)
    return SearchGroup(kind, hits, min(matches, COUNT_CAP), capped=matches > COUNT_CAP)


async def global_search(session: AsyncSession, q: str, kinds: tuple[SearchType, ...], limit: int) -> list[SearchGroup]:
    return [await search_type(session, kind, q, limit) for kind in kinds]
