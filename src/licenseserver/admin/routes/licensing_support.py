"""Small pieces the customer, license and search routes share: query-string types, form
reading, and links that keep a list's filters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, Field
from starlette.datastructures import FormData

from licenseserver.domain.licensing.admin import MAX_ID
from licenseserver.domain.licensing.admin_paging import MAX_PAGE, MAX_PER_PAGE, PageRequest
from licenseserver.kit.validation import parse_value, refuse_nul_characters

SortDirection = Literal["asc", "desc"]
M = TypeVar("M", bound=BaseModel)


def empty_is_none(value: Any) -> Any:
    """A filter form sends an unchosen select as an empty string: that means "any"."""
    return None if value == "" else value


OptionalId = Annotated[Annotated[int, Field(ge=1, le=MAX_ID)] | None, BeforeValidator(empty_is_none)]
EntityId = Annotated[int, Path(le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class ListQuery(BaseModel):
    """Paging and sorting parameters every list takes."""

    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = 25
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


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def form_values(form: FormData, names: Iterable[str], *, optional: Iterable[str] = ()) -> dict[str, Any]:
    """The named fields as strings; empty `optional` fields become None (a blank date = none)."""
    values: dict[str, Any] = {name: form_text(form, name).strip() for name in names}
    for name in optional:
        if not values.get(name):
            values[name] = None
    return values


def parse_form(model: type[M], values: dict[str, Any]) -> M:
    parsed = parse_value(model, values)
    refuse_nul_characters(parsed)
    return parsed
