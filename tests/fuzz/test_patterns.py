"""The patterns /openapi.json documents accept exactly what the request models accept.

Read as a JSON Schema validator reads them (jsonschema_rs, the validator schemathesis uses), with
the whole documented schema of each field: its pattern and its length limits.
"""

from __future__ import annotations

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from licenseserver.domain.fields import AppVersion, HardwareHash, LicenseKey, MachineName
from licenseserver.domain.licensing.session_schemas import SessionToken
from licenseserver.kit.docpatterns import LICENSE_KEY, NO_NUL, NOT_BLANK, PEP440_VERSION

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


def _server_accepts(field: TypeAdapter[str], value: str) -> bool:
    try:
        parsed = field.validate_python(value)
    except ValidationError:
        return False
    # The routes refuse NUL after validation (kit/validation.py); count that as refused too.
    return "\x00" not in parsed


@pytest.mark.parametrize(("name", "field", "pattern", "values"), CASES, ids=[case[0] for case in CASES])
def test_documented_pattern_matches_validation(
    name: str, field: TypeAdapter[str], pattern: str, values: st.SearchStrategy[str]
) -> None:
    documented = jsonschema_rs.validator_for(field.json_schema())

    @settings(max_examples=150, deadline=None)
    @given(values)
    def agree(value: str) -> None:
        assert _server_accepts(field, value) == documented.is_valid(value), (name, value)

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
        ("hardware_hash", "\x0b" + "h" * 256, False),  # over the limit as sent, though not once stripped
        ("license_key", "  abcd-efgh-2345-6789  ", True),
    ],
)
def test_values_where_dialects_differ(name: str, value: str, accepted: bool) -> None:
    field = next(case[1] for case in CASES if case[0] == name)
    assert _server_accepts(field, value) is accepted
    assert jsonschema_rs.validator_for(field.json_schema()).is_valid(value) is accepted
