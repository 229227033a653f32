"""Request bodies of the session endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from licenseserver.domain.fields import ApiRequest, AppVersion, HardwareHash, LicenseKey, MachineName
from licenseserver.kit.docpatterns import NOT_BLANK, DocumentedPattern, raw_length_at_most

# Any string up to this length is looked up; an unknown one answers 404 like an ended session.
SessionToken = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    raw_length_at_most(64),
    DocumentedPattern(NOT_BLANK),
]


class SessionStartRequest(ApiRequest):
    license_key: LicenseKey
    machine_id: MachineName = ""
    hardware_hash: HardwareHash
    version: AppVersion


class SessionHeartbeatRequest(ApiRequest):
    session_token: SessionToken
    license_key: LicenseKey


class SessionEndRequest(ApiRequest):
    session_token: SessionToken
