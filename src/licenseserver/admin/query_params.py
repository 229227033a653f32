"""Query-string and path parameter types the panel's lists and pages share, and links that keep a
list's filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, Field

from licenseserver.kit.paging import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, PageRequest
from licenseserver.kit.validation import MAX_ID

SortDirection = Literal["asc", "desc"]


def empty_is_none(value: Any) -> Any:
    """A filter form sends an unchosen select as an empty string: that means "any"."""
    return None if value == "" else value


OptionalId = Annotated[Annotated[int, Field(ge=1, le=MAX_ID)] | None, BeforeValidator(empty_is_none)]
EntityId = Annotated[int, Path(le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class ListQuery(BaseModel):
    """Paging and sorting parameters of a list whose reader picks the page size."""

    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE
    dir: SortDirection = "asc"

    def page_request(self) -> PageRequest:
        return PageRequest(self.page, self.per_page)

    @property
    def descending(self) -> bool:
        return self.dir == "desc"


def list_link(path: str, params: dict[str, Any]) -> Callable[..., str]:
    """`link(sort="key", page=1)`: this list's URL with some parameters changed, empty ones left out."""

    def link(**changes: Any) -> str:
        merged = {k: v for k, v in {**params, **changes}.items() if v is not None and v != ""}
        return f"{path}?{urlencode(merged)}" if merged else path

    return link
