"""Paging of every management list: `?page=1&per_page=25` (per_page up to 100), the panel's
paging (kit/paging.py) and the same domain list functions, so the API lists what the panel
lists in the same order. Every list answers
`{"items": [...], "page": 1, "per_page": 25, "has_next": false, "total": 3}`; `total` is null
when the page alone cannot tell it and the list does not count (the license list)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from licenseserver.kit.paging import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, Page, PageRequest
from licenseserver.kit.validation import MAX_ID

T = TypeVar("T")
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE

    def request(self) -> PageRequest:
        return PageRequest(self.page, self.per_page)


def page_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": [item(row) for row in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "has_next": page.has_next,
        "total": page.total,
    }


def list_example(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "page": 1, "per_page": DEFAULT_PER_PAGE, "has_next": False, "total": len(items)}


def items_json(rows: Iterable[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A short list that is never paged (a license's devices, resources, an institution's contacts)."""
    return {"items": [item(row) for row in rows]}
