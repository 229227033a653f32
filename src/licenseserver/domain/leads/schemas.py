"""What staff send about leads (JSON bodies, forms and import rows share these models, so every
way in keeps the same limits) and the German words the pages use."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)
from pydantic import EmailStr as _EmailStr

from licenseserver.db.models.leads import (
    DETAIL_VALUE_MAX,
    LABEL_MAX,
    NAME_MAX,
    PERSON_NAME_MAX,
    POSITION_MAX,
)
from licenseserver.kit.validation import MAX_ID

InstitutionType = Literal["university", "company", "government", "other"]
DetailType = Literal["email", "phone"]
NOTE_MAX = 10_000
TYPE_LABELS = {"university": "Universität", "company": "Unternehmen", "government": "Behörde", "other": "Sonstige"}
DETAIL_LABELS = {"email": "E-Mail", "phone": "Telefon"}
FIELD_LABELS = {
    "name": "Name",
    "type": "Typ",
    "customer_id": "Kunde",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "position": "Position",
    "institution_id": "Institution",
    "value": "Wert",
    "label": "Bezeichnung",
    "content": "Notiz",
}
# A phone number as people write it: an optional +, then digits with spaces, - / ( ) . between.
PHONE_PATTERN = re.compile(r"\+?[0-9(][0-9 ()/.\-]*[0-9]")
PHONE_DIGITS_MIN = 5
PHONE_DIGITS_MAX = 20

Id = Annotated[int, Field(ge=1, le=MAX_ID)]

INVALID_EMAIL = "is not a valid e-mail address"
INVALID_PHONE = "is not a valid phone number (digits, spaces, + - / ( ) .)"
SINGLE_LINE = "must be a single line without NUL characters"
NO_NUL = "must not contain NUL characters"
# The same refusals in the panel's language, for forms and import reports.
GERMAN_VALUE_ERRORS = {
    INVALID_EMAIL: "ist keine gültige E-Mail-Adresse",
    INVALID_PHONE: "ist keine gültige Telefonnummer (Ziffern, Leerzeichen, + - / ( ) .)",
    SINGLE_LINE: "muss einzeilig sein und darf keine NUL-Zeichen enthalten",
    NO_NUL: "darf keine NUL-Zeichen enthalten",
}


def _single_line(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError(SINGLE_LINE)
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NO_NUL)
    return value


InstitutionName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX), AfterValidator(_single_line)
]
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=PERSON_NAME_MAX),
    AfterValidator(_single_line),
]
Position = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=POSITION_MAX), AfterValidator(_single_line)
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=LABEL_MAX), AfterValidator(_single_line)]
DetailValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=DETAIL_VALUE_MAX), AfterValidator(_no_nul)
]
NoteContent = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX), AfterValidator(_no_nul)
]
_EMAIL = TypeAdapter(_EmailStr)


class LeadBody(BaseModel):
    # Only the panel's own pages and scripts send these: unknown fields are a mistake.
    model_config = ConfigDict(extra="forbid")


class InstitutionCreate(LeadBody):
    name: InstitutionName
    type: InstitutionType = "other"
    customer_id: Id | None = None


class InstitutionUpdate(InstitutionCreate):
    """The same fields and limits as creating one."""


class ContactCreate(LeadBody):
    first_name: PersonName
    last_name: PersonName
    position: Position = ""
    institution_id: Id


class ContactFields(LeadBody):
    """A contact as an import row carries it (its institution is the row's)."""

    first_name: PersonName
    last_name: PersonName
    position: Position = ""


class DetailCreate(LeadBody):
    type: DetailType
    value: DetailValue
    label: Label = ""

    @field_validator("value")
    @classmethod
    def _valid_value(cls, value: str, info: ValidationInfo) -> str:
        detail_type = info.data.get("type")
        return value if detail_type is None else normalised_detail_value(detail_type, value)


class NoteBody(LeadBody):
    content: NoteContent


def normalised_detail_value(detail_type: str, value: str) -> str:
    """An e-mail address as email-validator normalises it, or a phone number as written."""
    if detail_type == "email":
        try:
            return str(_EMAIL.validate_python(value))
        except ValueError:
            raise ValueError(INVALID_EMAIL) from None
    digits = sum(ch.isdigit() for ch in value)
    if not PHONE_PATTERN.fullmatch(value) or not PHONE_DIGITS_MIN <= digits <= PHONE_DIGITS_MAX:
        raise ValueError(INVALID_PHONE)
    return value
