"""Back to the list an edit page was opened from. The list hands its own URL (filters, sort, page)
to the edit link as `next`; the edit form carries it in a hidden field, and "Speichern" and
"Abbrechen" end there. Only that list's own path on this panel is accepted — never another site,
another page or a value with control characters — so the parameter cannot send staff elsewhere;
anything else is ignored and the page behaves as without it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Query
from starlette.requests import Request

from licenseserver.kit.validation import Text

MAX_LENGTH = 2048
MAX_PARAMS = 20
MESSAGE_PARAMS = ("notice", "count")  # the list's own message, replaced on the way back
ReturnParam = Annotated[Text | None, Query(max_length=MAX_LENGTH)]  # an edit page's `next`


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def list_return(target: str | None, list_path: str) -> str | None:
    """`target` re-encoded if it is the list at `list_path` with its query string, else None."""
    if not target or len(target) > MAX_LENGTH or "\\" in target:
        return None
    if _has_control(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path != list_path or parts.fragment:
        return None
    params = [(k, v) for k, v in parse_qsl(parts.query)[:MAX_PARAMS] if k not in MESSAGE_PARAMS]
    if any(_has_control(k + v) for k, v in params):  # written as %00 in the query
        return None
    return f"{list_path}?{urlencode(params)}" if params else list_path


def with_notice(list_url: str, notice: str) -> str:
    """The list's URL (from list_return) with the message the list shows in its status region."""
    return f"{list_url}{'&' if '?' in list_url else '?'}{urlencode({'notice': notice})}"


def from_current_page(request: Request, list_path: str) -> str | None:
    """The list a fragment's request came from (htmx sends the page's URL as HX-Current-URL), so
    a row rendered again keeps its edit link's way back. Only the path and query are used."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    return list_return(f"{parts.path}?{parts.query}" if parts.query else parts.path, list_path)
