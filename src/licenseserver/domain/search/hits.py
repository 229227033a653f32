"""What the global search answers: hits grouped by kind, each group with its count (exact up to
COUNT_CAP matches, beyond it "more than COUNT_CAP")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import InstrumentedAttribute

SearchType = Literal["customer", "license", "device", "lead", "lead_contact", "resource"]
# The order of the groups on the page and in the JSON answer: the reference's kinds first.
SEARCH_TYPES: tuple[SearchType, ...] = ("customer", "license", "device", "lead", "lead_contact", "resource")
# A kind's count stops here (service.py says why); above the largest `limit` of the JSON endpoint
# (100), so a capped group always has more matches than it shows. Below customers.FEW_MATCHES,
# whose probe counts the customers.
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class SearchHit:
    type: SearchType
    id: int
    title: str
    subtitle: str  # the reference's words ("ACME Corp - Active"), for the JSON endpoint
    url: str
    page_subtitle: str = ""  # the panel's words, when they differ and name no codes (admin/search_words.py)
    license_count: int | None = None  # customers only

    def as_json(self) -> dict[str, Any]:
        """The reference's five keys; a customer adds its license count."""
        answer: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "title": self.title,
            "subtitle": self.subtitle,
            "url": self.url,
        }
        if self.license_count is not None:
            answer["license_count"] = self.license_count
        return answer


@dataclass(frozen=True, slots=True)
class SearchGroup:
    type: SearchType
    hits: list[SearchHit]
    total: int  # every match, also those beyond the limit; COUNT_CAP when capped
    capped: bool = False  # more than COUNT_CAP match: `total` is the cap, not the count

    @property
    def more(self) -> int:
        """Matches not shown ("weitere N"; when capped, at least this many)."""
        return self.total - len(self.hits)

    def as_json(self) -> dict[str, Any]:
        """`{"type", "total"}`, plus `"capped": true` when more than `total` match."""
        answer: dict[str, Any] = {"type": self.type, "total": self.total}
        if self.capped:
            answer["capped"] = True
        return answer


def lower_prefix(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    """`lower(column) LIKE 'text%'` with the text's wildcards taken literally: an index on
    lower(column) text_pattern_ops serves it on PostgreSQL (db/models/indexes.py)."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return func.lower(column).like(escaped + "%", escape="/")
