"""Customers by any part of their name or e-mail (the trigram indexes), with their license count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from licenseserver.db.models import Customer, License
from licenseserver.domain.search.hits import SearchHit


def customer_condition(q: str) -> ColumnElement[bool]:
    return or_(Customer.name.icontains(q, autoescape=True), Customer.email.icontains(q, autoescape=True))


def customer_statement() -> Select[*tuple[Any, ...]]:
    """Ordered by the caller (customers.service.ordered_by_name). The count is a correlated
    subquery on ix_licenses_customer_id, run for the shown customers only."""
    licenses = select(func.count()).select_from(License).where(License.customer_id == Customer.id)
    return select(Customer.id, Customer.name, Customer.email, licenses.scalar_subquery().label("license_count"))


def customer_hit(row: Any) -> SearchHit:
    count = int(row.license_count)
    url = f"/customers/{row.id}/edit"
    return SearchHit("customer", row.id, row.name, row.email, url, license_count=count)
