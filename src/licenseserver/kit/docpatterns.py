"""Regular expressions that document, in /openapi.json, what the request models accept.

The models validate with Python (pydantic's whitespace stripping, `packaging`'s PEP 440 parser);
these patterns describe the same sets for clients and for generated tests, written so that every
regex dialect reads them alike: explicit character classes, no flags, no `\\s` (ECMA, Python and
Rust each define it differently). tests/fuzz/test_patterns.py proves them equal to the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def _any_case(word: str) -> str:
    return "".join(f"[{letter.upper()}{letter}]" if letter.isalpha() else letter for letter in word)


def _choice(*words: str) -> str:
    return "(" + "|".join(_any_case(word) for word in words) + ")"


# The characters pydantic's `strip_whitespace` removes from both ends (Unicode White_Space).
STRIPPED = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
# At least one character that survives stripping, and no NUL anywhere.
NOT_BLANK = rf"^[^\x00]*[^\x00{STRIPPED}][^\x00]*$"

_SEPARATOR = "[._-]?"
# PEP 440 as `packaging.version.VERSION_PATTERN` reads it (case-insensitive, ASCII only).
PEP440_VERSION = (
    "^[vV]?"
    r"([0-9]+!)?[0-9]+(\.[0-9]+)*"
    f"({_SEPARATOR}{_choice('alpha', 'a', 'beta', 'b', 'preview', 'pre', 'c', 'rc')}{_SEPARATOR}[0-9]*)?"
    f"(-[0-9]+|{_SEPARATOR}{_choice('post', 'rev', 'r')}{_SEPARATOR}[0-9]*)?"
    f"({_SEPARATOR}{_any_case('dev')}{_SEPARATOR}[0-9]*)?"
    r"(\+[A-Za-z0-9]+([._-][A-Za-z0-9]+)*)?$"
)
LICENSE_KEY = r"^[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}$"


def padded(pattern: str) -> str:
    """`pattern` with the surrounding whitespace the server strips before it checks the value."""
    return f"^[{STRIPPED}]*({pattern.removeprefix('^').removesuffix('$')})[{STRIPPED}]*$"


def raw_length_at_most(limit: int) -> BeforeValidator:
    """A length limit on the value as sent, before stripping, as `maxLength` documents it."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return BeforeValidator(check)


@dataclass(frozen=True)
class DocumentedPattern:
    """`Annotated` marker: adds `pattern` to a field's JSON schema without validating with it."""

    pattern: str
    # True where the pattern alone bounds the value (the limit applies after stripping).
    replaces_max_length: bool = False

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        documented: dict[str, Any] = handler(schema)
        documented["pattern"] = self.pattern
        if self.replaces_max_length:
            documented.pop("maxLength", None)
        return documented


for _pattern in (NO_NUL, NOT_BLANK, PEP440_VERSION, LICENSE_KEY):
    re.compile(_pattern)
