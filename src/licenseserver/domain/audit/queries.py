"""Reading the audit log: newest first, filtered and paged in the database.

No total count: counting a log of millions of rows on every page view costs more than the page;
the pager fetches one row more than it shows to know whether a next page exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Self

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import AuditEntry
from licenseserver.kit.paging import MAX_PAGE, Page, PageRequest, page_of

PER_PAGE = 50


def _empty_as_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _stripped(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, max_length=max_length)


# Lengths of the audit_log columns: a longer filter can match nothing, so it is bad input.
ActorFilter = Annotated[Annotated[str, _stripped(100)] | None, BeforeValidator(_empty_as_none)]
NameFilter = Annotated[Annotated[str, _stripped(50)] | None, BeforeValidator(_empty_as_none)]
EntityIdFilter = Annotated[Annotated[str, _stripped(64)] | None, BeforeValidator(_empty_as_none)]
DateFilter = Annotated[date | None, BeforeValidator(_empty_as_none)]


class AuditFilter(BaseModel):
    """The audit page's query string. Empty fields mean "any"; exact matches use the indexes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    actor: ActorFilter = None
    action: NameFilter = None
    entity_type: NameFilter = None
    entity_id: EntityIdFilter = None
    # `from`/`to` accepted too, for hand-written links.
    date_from: DateFilter = Field(default=None, validation_alias=AliasChoices("date_from", "from"))
    date_to: DateFilter = Field(default=None, validation_alias=AliasChoices("date_to", "to"))
    page: Annotated[int, BeforeValidator(lambda v: 1 if _empty_as_none(v) is None else v)] = Field(
        default=1, ge=1, le=MAX_PAGE
    )

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("Das Bis-Datum darf nicht vor dem Von-Datum liegen")
        return self

    def query_args(self, page: int | None = None) -> dict[str, str]:
        """The filters as query parameters (for the pager's links), without the empty ones."""
        values = self.model_dump(exclude={"page"}, exclude_none=True)
        args = {name: str(value) for name, value in values.items()}
        if page is not None:
            args["page"] = str(page)
        return args


@dataclass(frozen=True, slots=True)
class AuditRow:
    entry: AuditEntry
    before: str | None  # pretty-printed JSON
    after: str | None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(filters: AuditFilter) -> Select[AuditEntry]:
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.actor, filters.actor),
        (AuditEntry.action, filters.action),
        (AuditEntry.entity_type, filters.entity_type),
        (AuditEntry.entity_id, filters.entity_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.date_from is not None:
        query = query.where(AuditEntry.created_at >= _start_of(filters.date_from))
    if filters.date_to is not None:  # inclusive: everything before the next day's midnight (UTC)
        query = query.where(AuditEntry.created_at < _start_of(filters.date_to + timedelta(days=1)))
    return query


def pretty_json(stored: str | None) -> str | None:
    if stored is None:
        return None
    try:
        return json.dumps(json.loads(stored), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:  # written by hand or by an older version: show it as it is
        return stored


async def audit_page(session: AsyncSession, filters: AuditFilter, per_page: int = PER_PAGE) -> Page[AuditRow]:
    wanted = PageRequest(filters.page, per_page)
    query = (
        _filtered(filters)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(wanted.fetch)
        .offset(wanted.offset)
    )
    entries = (await session.scalars(query)).all()
    return page_of([AuditRow(e, pretty_json(e.before), pretty_json(e.after)) for e in entries], wanted)


async def count_audit(session: AsyncSession, filters: AuditFilter) -> int:
    """How many entries match the filters (the pager's total, loaded after the page)."""
    total = await session.scalar(select(func.count()).select_from(_filtered(filters).subquery()))
    return int(total or 0)
