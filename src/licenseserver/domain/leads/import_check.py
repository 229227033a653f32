"""Checking a leads CSV file before anything is written (format: csv_format.py, docs/leads.md).

Every row is checked with the same models the forms and the JSON endpoints use; each part of a
row (institution, contact, detail) on its own, so a row reports every problem it has at once.
Rows of one reference are compared with its first row. The result is a plan for
transfer.write_plan, or ImportRefusedError with every problem of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Customer
from licenseserver.domain.leads.csv_encoding import read_as_note
from licenseserver.domain.leads.csv_format import CsvRow, read_file
from licenseserver.domain.leads.import_problems import ImportRefusedError, Problem
from licenseserver.domain.leads.schemas import (
    GERMAN_VALUE_ERRORS,
    ContactFields,
    DetailCreate,
    InstitutionCreate,
)

REF_MAX = 50
INSTITUTION_COLUMNS = {"name": "institution_name", "type": "institution_type", "customer_id": "customer_id"}
CONTACT_COLUMNS = {"first_name": "first_name", "last_name": "last_name", "position": "position"}
DETAIL_COLUMNS = {"type": "detail_type", "value": "detail_value", "label": "detail_label"}
GERMAN_REASONS = {
    "missing": "fehlt",
    "string_too_short": "darf nicht leer sein",
    "string_too_long": "darf höchstens {max_length} Zeichen lang sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "greater_than_equal": "muss mindestens {ge} sein",
    "less_than_equal": "darf höchstens {le} sein",
    "literal_error": "muss einer der Werte {expected} sein",
}


@dataclass(slots=True)
class PlannedContact:
    fields: ContactFields
    details: list[DetailCreate] = field(default_factory=list)


@dataclass(slots=True)
class PlannedInstitution:
    line: int
    fields: InstitutionCreate
    contacts: dict[str, PlannedContact] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckedFile:
    institutions: list[PlannedInstitution]
    encoding: str  # csv_encoding.UTF8 or CP1252


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "value_error":
        raw = error["msg"].removeprefix("Value error, ")
        return GERMAN_VALUE_ERRORS.get(raw, raw)
    template = GERMAN_REASONS.get(error["type"])
    if not template:
        return error["msg"]
    context = dict(error.get("ctx", {}))
    if "expected" in context:  # pydantic lists the values in English: "'a', 'b' or 'c'"
        context["expected"] = str(context["expected"]).replace(" or ", " oder ")
    return template.format(**context)


def _validated(
    model: type[Any], values: dict[str, Any], columns: dict[str, str], line: int, problems: list[Problem]
) -> Any:
    """The model, or None with every bad column of the row added to `problems`."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems.extend(
            Problem(line, columns.get(str(e["loc"][0]) if e["loc"] else "", "Zeile"), _reason(e))
            for e in exc.errors(include_input=False, include_url=False)
        )
        return None


def _part(row: CsvRow, columns: dict[str, str]) -> dict[str, Any]:
    return {name: row.cells[column] for name, column in columns.items()}


def _institution_values(row: CsvRow) -> dict[str, Any]:
    values = _part(row, INSTITUTION_COLUMNS)
    values["customer_id"] = values["customer_id"].strip() or None
    return values


def _differences(
    first: BaseModel, again: BaseModel, columns: dict[str, str], line: int, first_line: int
) -> list[Problem]:
    """A later row of the same institution or contact must repeat its fields exactly: every
    column that does not."""
    reason = f"weicht von Zeile {first_line} ab (dieselbe Referenz, andere Angaben)"
    return [
        Problem(line, column, reason)
        for name, column in columns.items()
        if getattr(again, name) != getattr(first, name)
    ]


@dataclass(slots=True)
class CheckedRow:
    """One row's parts, each validated on its own so that every problem of the row is found."""

    ref: str
    institution: InstitutionCreate | None
    contact_ref: str
    contact: ContactFields | None = None
    detail: DetailCreate | None = None
    problems: int = 0  # how many problems the row's own fields have


def _checked_contact_part(row: CsvRow, checked: CheckedRow, problems: list[Problem]) -> None:
    rest = [c for c in (*CONTACT_COLUMNS.values(), *DETAIL_COLUMNS.values()) if row.cells[c].strip()]
    if not checked.contact_ref:
        if rest:
            problems.append(Problem(row.line, "contact_ref", f"fehlt, aber {rest[0]} ist ausgefüllt"))
        return
    if len(checked.contact_ref) > REF_MAX:
        problems.append(Problem(row.line, "contact_ref", f"darf höchstens {REF_MAX} Zeichen lang sein"))
    checked.contact = _validated(ContactFields, _part(row, CONTACT_COLUMNS), CONTACT_COLUMNS, row.line, problems)
    detail = _part(row, DETAIL_COLUMNS)
    if not detail["type"].strip():
        if detail["value"].strip() or detail["label"].strip():
            problems.append(Problem(row.line, "detail_type", "fehlt, aber der Wert ist ausgefüllt"))
        return
    detail["type"] = detail["type"].strip()
    checked.detail = _validated(DetailCreate, detail, DETAIL_COLUMNS, row.line, problems)


def _checked_row(row: CsvRow, problems: list[Problem]) -> CheckedRow:
    """Every part of the row checked on its own, each problem added to `problems`."""
    before = len(problems)
    ref = row.cells["institution_ref"].strip()
    checked = CheckedRow(ref, None, row.cells["contact_ref"].strip())
    if not ref or len(ref) > REF_MAX:
        problems.append(Problem(row.line, "institution_ref", f"muss 1 bis {REF_MAX} Zeichen lang sein"))
    if ref or "".join(row.cells.values()).strip():  # a row of separators alone is one problem, not three
        checked.institution = _validated(
            InstitutionCreate, _institution_values(row), INSTITUTION_COLUMNS, row.line, problems
        )
        _checked_contact_part(row, checked, problems)
    checked.problems = len(problems) - before
    return checked


def _plan_row(
    row: CsvRow,
    checked: CheckedRow,
    problems: list[Problem],
    plan: dict[str, PlannedInstitution],
    contact_lines: dict[tuple[str, str], int],
) -> None:
    """Compare the row with earlier rows of the same references (every differing column goes to
    `problems`); a row without any problem so far is added to the plan."""
    before = len(problems)
    institution = plan.get(checked.ref)
    if institution is not None and checked.institution is not None:
        problems += _differences(
            institution.fields, checked.institution, INSTITUTION_COLUMNS, row.line, institution.line
        )
    contact = institution.contacts.get(checked.contact_ref) if institution else None
    if contact is not None and checked.contact is not None:
        first_line = contact_lines[(checked.ref, checked.contact_ref)]
        problems += _differences(contact.fields, checked.contact, CONTACT_COLUMNS, row.line, first_line)
    if checked.problems or len(problems) > before or checked.institution is None:
        return
    if institution is None:
        institution = plan[checked.ref] = PlannedInstitution(row.line, checked.institution)
    if checked.contact is None:
        return
    if contact is None:
        contact = institution.contacts[checked.contact_ref] = PlannedContact(checked.contact)
        contact_lines[(checked.ref, checked.contact_ref)] = row.line
    if checked.detail is not None:
        contact.details.append(checked.detail)


async def _check_customers(session: AsyncSession, wanted: dict[str, tuple[int, int]]) -> list[Problem]:
    """`wanted`: per institution reference, the first line naming a customer and its id."""
    ids = {customer_id for _line, customer_id in wanted.values()}
    if not ids:
        return []
    known = set((await session.scalars(select(Customer.id).where(Customer.id.in_(ids)))).all())
    return [
        Problem(line, "customer_id", f"Kunde {customer_id} existiert nicht")
        for line, customer_id in wanted.values()
        if customer_id not in known
    ]


async def check_file(session: AsyncSession, data: bytes) -> CheckedFile:
    """The institutions a file creates, in file order, and the encoding it was read in; or
    ImportRefusedError with every problem of the file: unreadable rows and bad content alike,
    every problem of each row, sorted by line."""
    read = read_file(data)
    problems = read.problems
    plan: dict[str, PlannedInstitution] = {}
    contact_lines: dict[tuple[str, str], int] = {}
    customers: dict[str, tuple[int, int]] = {}
    for row in read.rows:
        checked = _checked_row(row, problems)
        _plan_row(row, checked, problems, plan, contact_lines)
        if checked.institution is not None and checked.institution.customer_id is not None:
            customers.setdefault(checked.ref, (row.line, checked.institution.customer_id))
    problems.extend(await _check_customers(session, customers))
    if problems:
        raise ImportRefusedError(sorted(problems, key=lambda p: p.line), hint=read_as_note(read.encoding))
    return CheckedFile(list(plan.values()), read.encoding)
