"""Paging of every list the panel shows: LIMIT/OFFSET in the database, one page type, one set of
limits. Each list keeps its own page size; the bounds below hold for all of them.

Two ways to fill a page: `page_of` from one row more than the page (whether a next page exists,
and the total when this page is the last, without a COUNT), and `counted_page` when the list
counts its rows anyway."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
# Deeper than any list staff page through by hand (filters narrow the rest); keeps OFFSET, at most
# MAX_PAGE * MAX_PER_PAGE rows, well inside every backend's integer range.
MAX_PAGE = 100_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def fetch(self) -> int:
        """Rows to ask for: one more than the page shows, to learn whether a next page exists."""
        return self.per_page + 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    has_next: bool
    total: int | None  # None when the page alone cannot tell it and nobody counted
    # The list's filters, kept by `link`, and the query parameter that carries the page number.
    params: Mapping[str, str] = field(default_factory=dict)
    param_name: str = "page"

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_number(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)

    @property
    def pages(self) -> int:
        if self.total is None:
            return self.page + 1 if self.has_next else self.page
        return max(1, -(-self.total // self.per_page))

    def link(self, number: int) -> str:
        """The query string of another page, the list's filters kept."""
        values = {k: v for k, v in self.params.items() if v} | {self.param_name: str(number)}
        return "?" + urlencode(values)


def page_of(rows: Sequence[T], request: PageRequest) -> Page[T]:
    """A page from `request.fetch` rows. When this page is the last one, the total follows from
    it and no COUNT is needed; otherwise `total` stays None for the caller to count if it must."""
    items = list(rows[: request.per_page])
    has_next = len(rows) > request.per_page
    total = None if has_next or (not items and request.page > 1) else request.offset + len(items)
    return Page(items, request.page, request.per_page, has_next, total)


def counted_page(
    items: Sequence[T],
    request: PageRequest,
    total: int,
    params: Mapping[str, str] | None = None,
    param_name: str = "page",
) -> Page[T]:
    """A page of a list that counted its rows: at most `request.per_page` items at its offset."""
    has_next = request.offset + request.per_page < total
    return Page(list(items), request.page, request.per_page, has_next, total, params or {}, param_name)
