"""The panel's global search over customers, licenses and devices (GET /api/global-search and
the /search page). Licenses are found by key prefix on the key index; customers and devices by
a part of their name or e-mail, devices by the start of their machine name or hardware hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from licenseserver.db.models import Activation, Customer, License
from licenseserver.domain.customers.service import ordered_by_name
from licenseserver.domain.licensing.staff_list import key_prefix_condition

SearchType = Literal["customer", "license", "device"]
SEARCH_TYPES: tuple[SearchType, ...] = ("customer", "license", "device")


@dataclass(frozen=True, slots=True)
class SearchHit:
    type: SearchType
    id: int
    title: str
    subtitle: str  # the reference's words ("ACME Corp - Active"), for the JSON endpoint
    url: str
    page_subtitle: str = ""  # the /search page's German words, when they differ

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "title": self.title, "subtitle": self.subtitle, "url": self.url}


@dataclass(frozen=True, slots=True)
class SearchGroup:
    type: SearchType
    hits: list[SearchHit]
    total: int


def _condition(kind: SearchType, q: str) -> ColumnElement[bool]:
    if kind == "customer":
        return or_(Customer.name.icontains(q, autoescape=True), Customer.email.icontains(q, autoescape=True))
    if kind == "license":
        by_key = key_prefix_condition(q)
        return false() if by_key is None else by_key
    # Devices are as many as licenses: matched by the start of the machine name or the hash,
    # as lower(column) LIKE 'text%', which an index on lower(column) text_pattern_ops can serve.
    return or_(_lower_prefix(Activation.machine_name, q), _lower_prefix(Activation.hardware_hash, q))


def _lower_prefix(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return func.lower(column).like(escaped + "%", escape="/")


def _statement(kind: SearchType) -> Select[*tuple[Any, ...]]:
    if kind == "customer":
        return select(Customer.id, Customer.name, Customer.email)  # ordered by search_type
    if kind == "license":
        return (
            select(License.id, License.license_key, License.is_active, Customer.name)
            .join(Customer, Customer.id == License.customer_id)
            .order_by(License.license_key)
        )
    return (
        select(
            Activation.id,
            Activation.machine_name,
            Activation.hardware_hash,
            Activation.license_id,
            License.license_key,
        )
        .join(License, License.id == Activation.license_id)
        .order_by(Activation.id.desc())
    )


def _hit(kind: SearchType, row: Any) -> SearchHit:
    if kind == "customer":
        return SearchHit(kind, row.id, row.name, row.email, f"/customers/{row.id}/edit")
    if kind == "license":
        state, zustand = ("Active", "aktiv") if row.is_active else ("Inactive", "inaktiv")
        url = f"/licenses/{row.id}"
        return SearchHit(kind, row.id, row.license_key, f"{row.name} - {state}", url, f"{row.name} – {zustand}")
    title = row.machine_name or row.hardware_hash
    return SearchHit(kind, row.id, title, row.license_key, f"/licenses/{row.license_id}")


async def search_type(session: AsyncSession, kind: SearchType, q: str, limit: int) -> SearchGroup:
    """Up to `limit` hits of one kind and how many there are (counted only beyond the limit)."""
    condition = _condition(kind, q.strip())
    stmt = _statement(kind).where(condition)
    if kind == "customer":
        stmt = stmt.order_by(*await ordered_by_name(session, condition))
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    hits = [_hit(kind, row) for row in rows[:limit]]
    if len(rows) <= limit:
        return SearchGroup(kind, hits, len(hits))
    table = {"customer": Customer, "license": License, "device": Activation}[kind]
    total = await session.scalar(select(func.count()).select_from(table).where(condition))
    return SearchGroup(kind, hits, int(total or 0))


async def global_search(session: AsyncSession, q: str, kinds: tuple[SearchType, ...], limit: int) -> list[SearchGroup]:
    return [await search_type(session, kind, q, limit) for kind in kinds]
