"""Resources of the pool by their identifier, whole or its beginning, in any case ("192.0.2.11",
"kunde.example"): `lower(identifier) LIKE 'text%'` on ix_resources_identifier_prefix (0009)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select

from licenseserver.db.models import License, Resource
from licenseserver.domain.search.hits import SearchHit, lower_prefix


def resource_condition(q: str) -> ColumnElement[bool]:
    return lower_prefix(Resource.identifier, q)


def resource_statement(q: str) -> Select[*tuple[Any, ...]]:
    """The exact identifier first, then the longer ones in order."""
    exact = case((func.lower(Resource.identifier) == q.lower(), 0), else_=1)
    return (
        select(Resource.id, Resource.resource_type, Resource.identifier, Resource.status, License.license_key)
        .outerjoin(License, License.id == Resource.license_id)
        .order_by(exact, Resource.identifier, Resource.id)
    )


def resource_hit(row: Any) -> SearchHit:
    # The codes, not words: the panel names them in the staff member's language (admin/search_words.py).
    subtitle = f"{row.resource_type} - {row.status}"
    if row.license_key:
        subtitle += f" - {row.license_key}"
    return SearchHit("resource", row.id, row.identifier, subtitle, f"/resources/{row.id}")
