"""HTML forms of the panel: read the posted fields, validate them with a pydantic model, and say
what is wrong in German, so a refused form can be shown again with its values and the reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData
from starlette.requests import Request

from licenseserver.admin.i18n import N_
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.validation import NUL_MESSAGE, invalid_request, refuse_nul_characters, validation_details

M = TypeVar("M", bound=BaseModel)

GERMAN_ERRORS = {
    "missing": N_("fehlt"),
    "int_parsing": N_("muss eine ganze Zahl sein"),
    "int_type": N_("muss eine ganze Zahl sein"),
    "int_from_float": N_("muss eine ganze Zahl sein"),
    "greater_than_equal": N_("muss mindestens {ge} sein"),
    "greater_than": N_("muss größer als {gt} sein"),
    "less_than_equal": N_("darf höchstens {le} sein"),
    "less_than": N_("muss kleiner als {lt} sein"),
    "string_too_short": N_("darf nicht leer sein"),
    "string_too_long": N_("darf höchstens {max_length} Zeichen lang sein"),
    "string_type": N_("muss Text sein"),
    "date_parsing": N_("muss ein Datum sein (JJJJ-MM-TT)"),
    "date_from_datetime_parsing": N_("muss ein Datum sein (JJJJ-MM-TT)"),
    "date_from_datetime_inexact": N_("muss ein Datum sein (JJJJ-MM-TT)"),
    "date_type": N_("muss ein Datum sein (JJJJ-MM-TT)"),
}
# Messages of validators shared with the License API, which answers in English, and of the
# domain's German model checks (marked here, so that the catalogs translate them).
GERMAN_VALUE_ERRORS = {
    "must be a version such as 1.2.0": N_("muss eine Versionsnummer wie 1.2.0 sein"),
    NUL_MESSAGE: N_("darf keine NUL-Zeichen enthalten"),
    "Das Sitzungs-Timeout muss größer als das Heartbeat-Intervall sein": N_(
        "Das Sitzungs-Timeout muss größer als das Heartbeat-Intervall sein"
    ),
}
INVALID = N_("ungültig")


async def checked_form(request: Request) -> FormData:
    """The posted form, read once for the whole request (the CSRF check reads it too). Every
    panel route reads its form here: no text column can hold NUL (PostgreSQL refuses it), so a
    NUL in any text field or name is bad input on every backend before a route sees the form."""
    form = await request.form()
    for name, value in form.multi_items():
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            shown = name.replace("\x00", "")
            message = f"Ungültige Eingabe – {shown}: darf keine NUL-Zeichen enthalten"
            raise AppError(400, ErrorCode.VALIDATION_ERROR, message, details=[{"field": shown, "message": NUL_MESSAGE}])
    return form


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


async def form_fields(request: Request) -> dict[str, str]:
    """The posted text fields (the CSRF token left out). A file where text belongs is bad input."""
    form = await checked_form(request)
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise AppError(400, ErrorCode.VALIDATION_ERROR, f"Ungültige Eingabe: {name} muss Text sein")
        if name != "csrf_token":
            fields[name] = value
    return fields


def german_problem(error: ErrorDetails, labels: Mapping[str, str]) -> str:
    """The field and what is wrong with it, in German (msgids translated on display). A check of
    the whole form (no field) is its sentence alone: "Eingabe: …" after "Ungültige Eingabe" said
    nothing new."""
    field = ".".join(str(part) for part in error["loc"])
    if error["type"] == "value_error":
        raw = error["msg"].removeprefix("Value error, ")
        problem = GERMAN_VALUE_ERRORS.get(raw, raw)
    else:
        template = GERMAN_ERRORS.get(error["type"])
        # pydantic's own wording is English: the field and "ungültig" say enough.
        problem = INVALID if template is None else template.format(**error.get("ctx", {}))
    if not field:
        return problem
    return f"{labels.get(field, field)}: {problem}"


def parse_form(model: type[M], fields: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> M:
    """The validated model, or a 400 VALIDATION_ERROR whose message names the first bad field."""
    for name, value in fields.items():
        # No text column can hold NUL (PostgreSQL refuses it): bad input on every backend.
        if isinstance(value, str) and "\x00" in value:
            message = f"Ungültige Eingabe – {(labels or {}).get(name, name)}: darf keine NUL-Zeichen enthalten"
            raise AppError(400, ErrorCode.VALIDATION_ERROR, message)
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        message = "Ungültige Eingabe – " + german_problem(errors[0], labels or {})
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message, details=validation_details(exc)) from None


class PanelRefusalError(AppError):
    """A refusal of a panel JSON endpoint that also has a text for the staff member: the contract
    keeps its English `error`, the page's own script shows `display` (German msgids, translated
    on display: admin/errors.py)."""

    def __init__(self, refusal: AppError, display: str) -> None:
        super().__init__(refusal.status, refusal.code, refusal.message, **refusal.extra)
        self.display = display


async def parse_panel_body(request: Request, model: type[M], labels: Mapping[str, str]) -> M:
    """Like kit.validation.parse_body (the same 400 body), with the reason in the panel's words,
    by pydantic's error type and the form's field labels, for the page that sent it."""
    raw = await request.body()
    try:
        parsed = model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        problem = german_problem(exc.errors(include_input=False, include_url=False)[0], labels)
        raise PanelRefusalError(invalid_request(exc), N_("Ungültige Eingabe") + " – " + problem) from None
    refuse_nul_characters(parsed)
    return parsed
