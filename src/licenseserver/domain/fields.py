"""Field types of the License API's requests that several areas read (licensing, sessions,
devices, clients, offline files), and the base of every request body. Limits are part of the
public contract (docs/api.md)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from licenseserver.db.models.licensing import HARDWARE_HASH_MAX, MACHINE_NAME_MAX, VERSION_MAX
from licenseserver.kit.docpatterns import (
    LICENSE_KEY,
    NO_NUL,
    NOT_BLANK,
    PEP440_VERSION,
    DocumentedPattern,
    padded,
    raw_length_at_most,
)


def _valid_version(value: str) -> str:
    if not _is_version(value):
        raise ValueError("must be a version such as 1.2.0")
    return value


@lru_cache(maxsize=1024)
def _is_version(value: str) -> bool:
    # Every verify and heartbeat carries one of the few versions in the field: each is parsed
    # once. `packaging` lets control characters that Python counts as space (\x1c-\x1f)
    # surround a version, where pydantic's stripping leaves them: refuse them rather than store them.
    if not (value.isascii() and value.isprintable()):
        return False
    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


# pydantic checks `pattern` before `to_upper`, so the pattern admits lower case and the value
# is normalised to upper case afterwards.
# The documented patterns say in /openapi.json what the validators accept (no NUL, not blank,
# PEP 440, whitespace around it stripped), and the length limits hold for the value as sent, as
# `maxLength` says (a license key's pattern bounds it alone, padded with any whitespace);
# tests/fuzz/test_patterns.py proves document and validators agree.
LicenseKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, max_length=19, pattern=LICENSE_KEY),
    DocumentedPattern(padded(LICENSE_KEY), replaces_max_length=True),
]
HardwareHash = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=HARDWARE_HASH_MAX),
    raw_length_at_most(HARDWARE_HASH_MAX),
    DocumentedPattern(NOT_BLANK),
]
MachineName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MACHINE_NAME_MAX),
    raw_length_at_most(MACHINE_NAME_MAX),
    DocumentedPattern(NO_NUL),
]
AppVersion = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=VERSION_MAX),
    AfterValidator(_valid_version),
    raw_length_at_most(VERSION_MAX),
    DocumentedPattern(padded(PEP440_VERSION)),
]


class ApiRequest(BaseModel):
    # Unknown fields are ignored (never stored), so newer clients can send more than we read.
    model_config = ConfigDict(extra="ignore", frozen=True)
