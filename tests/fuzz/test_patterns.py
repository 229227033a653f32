"""The patterns /openapi.json documents accept exactly what the request models accept.

Read as a JSON Schema validator reads them (jsonschema_rs, the validator schemathesis uses), on
values in the canonical form clients send: without the surrounding whitespace the server strips.
"""

from __future__ import annotations

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from licenseserver.domain.licensing.schemas import AppVersion, HardwareHash, LicenseKey, MachineName
from licenseserver.domain.sessions.schemas import SessionToken
from licenseserver.kit.docpatterns import LICENSE_KEY, NO_NUL, NOT_BLANK, PEP440_VERSION, STRIPPED

# Characters each regex dialect or stripper treats differently, and the ones versions are made of.
TRICKY = "\x00\x1c\x85\xa0\ufeff\u3000 \t\n"
VERSION_TEXT = st.text(alphabet="0123456789.!+-_vVaAbBcCrRpPeEoOsStTdDlLhHiIwWx" + TRICKY, max_size=14)
FREE_TEXT = st.text(alphabet="aZ9-" + TRICKY, max_size=6)
KEY_TEXT = st.text(alphabet="aZ9-_ " + TRICKY, min_size=17, max_size=21)
CASES: list[tuple[str, TypeAdapter[str], str, st.SearchStrategy[str]]] = [
    ("version", TypeAdapter(AppVersion), PEP440_VERSION, VERSION_TEXT),
    ("hardware_hash", TypeAdapter(HardwareHash), NOT_BLANK, FREE_TEXT),
    ("session_token", TypeAdapter(SessionToken), NOT_BLANK, FREE_TEXT),
    ("machine_name", TypeAdapter(MachineName), NO_NUL, FREE_TEXT),
    ("license_key", TypeAdapter(LicenseKey), LICENSE_KEY, KEY_TEXT | st.from_regex(LICENSE_KEY, fullmatch=True)),
]
_STRIP_SET = {chr(c) for c in range(0x2000, 0x200B)} | set(STRIPPED.replace("\u2000-\u200a", ""))


def _server_accepts(field: TypeAdapter[str], value: str) -> bool:
    try:
        parsed = field.validate_python(value)
    except ValidationError:
        return False
    # The routes refuse NUL after validation (kit/validation.py); count that as refused too.
    return "\x00" not in parsed


def _canonical(value: str) -> bool:
    return not value or (value[0] not in _STRIP_SET and value[-1] not in _STRIP_SET)


@pytest.mark.parametrize(("name", "field", "pattern", "values"), CASES, ids=[case[0] for case in CASES])
def test_documented_pattern_matches_validation(
    name: str, field: TypeAdapter[str], pattern: str, values: st.SearchStrategy[str]
) -> None:
    documented = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})

    @settings(max_examples=150, deadline=None)
    @given(values)
    def agree(value: str) -> None:
        if _canonical(value):
            assert _server_accepts(field, value) == documented.is_valid(value), (name, value)
        elif documented.is_valid(value):
            assert _server_accepts(field, value), (name, value)

    agree()


@given(st.from_regex(PEP440_VERSION, fullmatch=True).filter(lambda v: len(v) <= 50))
@settings(max_examples=60, deadline=None)
def test_every_documented_version_is_accepted(version: str) -> None:
    assert _server_accepts(CASES[0][1], version)


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("version", "\x1c1.0", False),  # packaging alone would take it: Python counts \x1c as space
        ("version", "1.0\x1f", False),
        ("version", " v1.0rc1 ", True),
        ("hardware_hash", "\x85", False),  # stripped to nothing
        ("hardware_hash", "\ufeff", True),  # not White_Space, so kept, and the pattern agrees
        ("machine_name", "a\x00", False),
    ],
)
def test_values_where_dialects_differ(name: str, value: str, accepted: bool) -> None:
    field, pattern = next((case[1], case[2]) for case in CASES if case[0] == name)
    assert _server_accepts(field, value) is accepted
    if _canonical(value):
        assert jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(value) is accepted
