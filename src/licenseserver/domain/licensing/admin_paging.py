"""Paging for the panel's lists: LIMIT/OFFSET in the database, one row more than the page to
know whether a next page exists, and a COUNT only when the page alone cannot tell the total."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # keeps OFFSET within every backend's integer range


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    per_page: int = 25

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
    total: int | None  # None when the page alone cannot tell it (see known_total)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_number(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)


def page_of(rows: Sequence[T], request: PageRequest) -> Page[T]:
    """A page from `request.fetch` rows. When this page is the last one, the total follows from
    it and no COUNT is needed; otherwise `total` stays None for the caller to count if it must."""
    items = list(rows[: request.per_page])
    has_next = len(rows) > request.per_page
    total = None if has_next or (not items and request.page > 1) else request.offset + len(items)
    return Page(items, request.page, request.per_page, has_next, total)
