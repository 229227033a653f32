"""Jinja2 templates with the panel's catalogs and filters: texts in the staff member's language,
numbers and dates in Babel's formats for it, moments in the display time zone."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import Response

from licenseserver.admin import i18n, labels
from licenseserver.admin.messages import translate_message
from licenseserver.admin.state import admin_state
from licenseserver.kit.timefmt import as_utc

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.add_extension("jinja2.ext.i18n")
# Newstyle gettext: `_("… %(name)s", name=x)` formats and escapes; trimmed: a {% trans %} block's
# line breaks and indentation are not part of its msgid.
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.policies["ext.i18n.trimmed"] = True
templates.env.filters["number"] = i18n.format_number
templates.env.filters["date"] = i18n.format_day
templates.env.filters["message"] = translate_message
templates.env.globals.update(labels.template_globals())


@pass_context
def _moment_filter(context: Context, value: datetime | None) -> str:
    """`{{ x|datetime }}`: a stored moment in the display time zone, in the page's language."""
    return i18n.NO_VALUE if value is None else i18n.format_moment(as_utc(value).astimezone(context["display_zone"]))


templates.env.filters["datetime"] = _moment_filter


# The main navigation's sections by their first path segment; a sub page (/licenses/5) belongs to
# its list's section. Devices are a license's activations: their page sits under "Lizenzen".
_SECTIONS = {
    "customers": "customers",
    "licenses": "licenses",
    "devices": "licenses",
    "sessions": "sessions",
    "resources": "resources",
    "administration": "administration",
    "audit": "audit",
    "leads": "leads",
    "contacts": "leads",
    "institutions": "leads",
    "account": "account",
    "stats": "dashboard",
}


def current_section(path: str) -> str | None:
    """The navigation section a request path belongs to (its link gets aria-current), or None."""
    first = path.strip("/").split("/", 1)[0]
    if not first:
        return "dashboard"
    return _SECTIONS.get(first)


templates.env.globals["current_section"] = current_section


def german_date(value: date | datetime | None) -> str:
    """The day in the page's language (the name is older than the English choice)."""
    return i18n.format_day(value)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    state = admin_state(request)
    staff = getattr(request.state, "staff", None)
    zone = state.timezone
    language = i18n.use_language(staff.admin.language if staff else None)

    def local_time(value: datetime | None) -> str:
        return i18n.NO_VALUE if value is None else i18n.format_moment(as_utc(value).astimezone(zone))

    full = {
        "staff": staff.admin if staff else None,
        "csrf_token": staff.record.csrf_token if staff else getattr(request.state, "anonymous_csrf", ""),
        "language": language,
        "display_zone": zone,
        "local_time": local_time,
        "german_date": german_date,
        **(context or {}),
    }
    # Starlette renders here, in the constructor: the language set above is the one in force.
    return templates.TemplateResponse(request, name, full, status_code=status_code)
