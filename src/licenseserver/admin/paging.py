"""Page numbers of the panel's lists: LIMIT/OFFSET in the database, links that keep the filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

PER_PAGE = 50
MAX_PAGE = 100_000  # deeper than any real list; keeps OFFSET from being abused


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    total: int
    per_page: int = PER_PAGE
    params: Mapping[str, str] = field(default_factory=dict)
    param_name: str = "page"

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def link(self, number: int) -> str:
        """The query string of another page, the list's filters kept."""
        values = {k: v for k, v in self.params.items() if v} | {self.param_name: str(number)}
        return "?" + urlencode(values)
