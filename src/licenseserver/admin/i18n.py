"""The panel's languages: message catalogs (gettext .po files read with Babel at start-up, so a
fresh clone needs no compile step), the language of the request being rendered, and Babel's
number and date formats for it.

German is the default and the language of every anonymous page; a staff member may choose
English on the account page (AdminUser.language). The language lives in a context variable that
`rendering.render` sets before a template renders, so Python code that builds texts for the page
(labels, messages) translates with the same choice.
"""

from __future__ import annotations

import contextvars
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.core import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT_LANGUAGE = "de"
# The choice on the account page: code -> the language's own name (not translated on purpose).
LANGUAGES = {"de": "Deutsch", "en": "English"}
BABEL_LOCALES = {"de": Locale.parse("de_DE"), "en": Locale.parse("en")}
NO_VALUE = "–"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("panel_language", default=DEFAULT_LANGUAGE)


def _load(language: str) -> Translations:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


CATALOGS = {language: _load(language) for language in LANGUAGES}


def known_language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def use_language(language: str | None) -> str:
    """Make `language` the one of everything rendered from here on in this request."""
    chosen = known_language(language)
    _language.set(chosen)
    return chosen


def current_language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    return CATALOGS[_language.get()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return CATALOGS[_language.get()].ngettext(singular, plural, n)


def has_translation(message: str) -> bool:
    return message in CATALOGS[_language.get()]._catalog


def N_(message: str) -> str:  # noqa: N802  # gettext's conventional name for "extract, translate later"
    """Marks a text for the catalog without translating it now (it is translated on display)."""
    return message


def lazy_gettext(message: str) -> Any:
    """A text translated each time it is shown, in the language of that page (labels in module
    constants). Babel's proxy; `str()` of it is the translation."""
    return LazyProxy(gettext, message, enable_cache=False)


def format_number(value: float | None, digits: int | None = None) -> str:
    """`{{ n|number }}`: thousands separated ("20.001"); `number(1)`: one decimal place, always."""
    if value is None:
        return NO_VALUE
    pattern = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=BABEL_LOCALES[_language.get()])


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return NO_VALUE
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, "medium", locale=BABEL_LOCALES[_language.get()])


def format_day_month(value: date) -> str:
    """A day without its year, for chart axes: "28.11." in German, "11/28" in English."""
    return format_skeleton("dM", value, locale=BABEL_LOCALES[_language.get()])


def format_moment(value: datetime) -> str:
    """A moment already in the display time zone: its date and its hour and minute."""
    locale = BABEL_LOCALES[_language.get()]
    return f"{format_date(value.date(), 'medium', locale=locale)} {format_time(value.time(), 'short', locale=locale)}"
