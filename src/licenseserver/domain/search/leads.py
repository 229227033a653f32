"""Leads for the global search: institutions by any part of their name; contacts by their names
(each word of the text in the first or last name) or any part of an e-mail address or phone
number. Each column has a trigram index on PostgreSQL (migration 0009)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union

from licenseserver.db.models import LeadContact, LeadContactDetail, LeadInstitution
from licenseserver.domain.search.hits import SearchHit


def lead_condition(q: str) -> ColumnElement[bool]:
    return LeadInstitution.name.icontains(q, autoescape=True)


def lead_statement() -> Select[*tuple[Any, ...]]:
    # coalesce(name, name): no index delivers this order, so PostgreSQL finds the matches by
    # the trigram index and sorts them, instead of walking the name index and testing each row
    # (what made a common word slow for customers: customers.service.ordered_by_name).
    return select(LeadInstitution.id, LeadInstitution.name, LeadInstitution.institution_type).order_by(
        func.coalesce(LeadInstitution.name, LeadInstitution.name), LeadInstitution.id
    )


def lead_hit(row: Any) -> SearchHit:
    return SearchHit("lead", row.id, row.name, f"Lead - {row.institution_type}", f"/leads/edit/{row.id}")


def _name_condition(q: str) -> ColumnElement[bool]:
    """Every word in the first or the last name: "Anna Berg" finds Anna Bergmann."""
    return and_(
        *(
            or_(
                LeadContact.first_name.icontains(word, autoescape=True),
                LeadContact.last_name.icontains(word, autoescape=True),
            )
            for word in q.split()
        )
    )


def _detail_matches(q: str) -> ColumnElement[bool]:
    return LeadContactDetail.value.icontains(q, autoescape=True)


def contact_condition(q: str) -> ColumnElement[bool]:
    """A UNION of the two index look-ups: an OR across the tables would scan every contact."""
    by_name = select(LeadContact.id).where(_name_condition(q))
    by_detail = select(LeadContactDetail.contact_id).where(_detail_matches(q))
    matching = union(by_name, by_detail).subquery()
    return LeadContact.id.in_(select(matching.c[0]))


def contact_statement(q: str) -> Select[*tuple[Any, ...]]:
    """The contact, its institution and the first matching detail (shown for the shown rows only)."""
    detail = (
        select(LeadContactDetail.value)
        .where(LeadContactDetail.contact_id == LeadContact.id, _detail_matches(q))
        .order_by(LeadContactDetail.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            LeadContact.id,
            LeadContact.first_name,
            LeadContact.last_name,
            LeadContact.institution_id,
            LeadInstitution.name.label("institution"),
            detail.label("detail"),
        )
        .join(LeadInstitution, LeadInstitution.id == LeadContact.institution_id)
        .order_by(func.coalesce(LeadContact.last_name, LeadContact.last_name), LeadContact.first_name, LeadContact.id)
    )


def contact_hit(row: Any) -> SearchHit:
    name = f"{row.first_name} {row.last_name}"
    subtitle = row.institution if row.detail is None else f"{row.institution} - {row.detail}"
    page_subtitle = row.institution if row.detail is None else f"{row.institution} – {row.detail}"
    url = f"/leads/edit/{row.institution_id}#contact-{row.id}"
    return SearchHit("lead_contact", row.id, name, subtitle, url, page_subtitle)
