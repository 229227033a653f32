"""Offline license files: a compact JWS (EdDSA) a program checks without the server.

One builder serves the License API's checkout and the panel's `.lic` download, under the rules of
activation (licensing.rules) plus one: the device must hold an active activation of the license.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, Field, StrictInt

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.fields import ApiRequest, HardwareHash, LicenseKey
from licenseserver.domain.licensing.license_calls import require_active_device
from licenseserver.domain.licensing.rules import require_usable
from licenseserver.domain.signing.keys import CurrentKey, b64url
from licenseserver.kit.timefmt import iso_date, iso_utc, utc_now

OFFLINE_TTL_DEFAULT_DAYS = 30
# The most a license may allow (the panel's limit) and the most a request may ask for before it
# is cut; beyond this a number is junk, refused with 400 rather than overflowing a date.
OFFLINE_TTL_MAX_DAYS = 3650


def _whole_number(value: Any) -> Any:
    # JSON has one number type: 30.0 is the integer 30 to every JSON Schema validator (and to
    # /openapi.json's "integer"), so it is taken as one; 30.5, "30" and true stay refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


TtlDays = Annotated[Annotated[StrictInt, Field(ge=1, le=OFFLINE_TTL_MAX_DAYS * 10)], BeforeValidator(_whole_number)]

GET_LICENSE_FOR_FILE = Query(
    "SELECT id, license_key, license_type, valid_from, valid_until, max_activations, max_users, is_active,"
    " offline_ttl_days FROM licenses WHERE license_key = $1"
)


class CheckoutRequest(ApiRequest):
    license_key: LicenseKey
    hardware_hash: HardwareHash
    ttl_days: TtlDays | None = None


@dataclass(frozen=True, slots=True)
class LicenseFile:
    token: str  # the compact JWS
    expires_at: datetime

    def json(self) -> dict[str, Any]:
        return {"license_file": self.token, "expires_at": iso_utc(self.expires_at)}

    def file_text(self) -> str:
        """The `.lic` file's content: the compact JWS and a newline."""
        return self.token + "\n"


def file_expiry(
    now: datetime, license_ttl_days: int | None, asked_days: int | None, valid_until: date | None
) -> datetime:
    """When a file issued now expires: the days asked for, cut to the license's offline time to
    live, and never after the end (UTC) of the license's last valid day."""
    allowed = license_ttl_days or OFFLINE_TTL_DEFAULT_DAYS
    expires = now + timedelta(days=min(asked_days or allowed, allowed))
    if valid_until is not None:
        end_of_last_day = datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=UTC)
        expires = min(expires, end_of_last_day)
    return expires


def compact_jws(key: CurrentKey, claims: dict[str, Any]) -> str:
    """RFC 7515 compact serialisation, EdDSA over `header.payload`."""
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    signing_input = b64url(orjson.dumps(header)) + "." + b64url(orjson.dumps(claims))
    return signing_input + "." + b64url(key.sign(signing_input.encode()))


def _claims(license_row: Row, hardware_hash: str, issued: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": str(uuid.uuid4()),
        "sub": license_row["license_key"],
        "hardware_hash": hardware_hash,
        "license_type": license_row["license_type"],
        "valid_from": iso_date(license_row["valid_from"]),
        "valid_until": iso_date(license_row["valid_until"]),
        "max_activations": license_row["max_activations"],
        "max_users": license_row["max_users"],
    }


async def build_license_file(
    conn: Connection, key: CurrentKey, license_key: str, hardware_hash: str, ttl_days: int | None = None
) -> LicenseFile:
    """A license file for one device of a license. Raises AppError with the activation's refusals
    (404 LICENSE_NOT_FOUND, 403 LICENSE_INACTIVE / LICENSE_EXPIRED / LICENSE_NOT_YET_VALID) and
    403 DEVICE_NOT_ACTIVATED. `key` is the current signing key (keys.read_current_key)."""
    issued = utc_now().replace(microsecond=0)
    license_row = require_usable(await conn.fetchrow(GET_LICENSE_FOR_FILE, license_key), issued.date())
    await require_active_device(conn, license_row["id"], hardware_hash)
    expires = file_expiry(issued, license_row["offline_ttl_days"], ttl_days, license_row["valid_until"])
    return LicenseFile(compact_jws(key, _claims(license_row, hardware_hash, issued, expires)), expires)
