"""Response shapes of the License API, for /openapi.json and /docs.

Routes build their JSON directly (see api/body.py for why); tests/api/test_openapi.py validates
real responses against these models so the documentation cannot drift from the wire.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Documented(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(Documented):
    error: str = Field(min_length=1)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
    status: int = Field(ge=400, le=599)
    details: list[dict[str, str]] | None = None


class ServiceStatus(Documented):
    status: str
    service: str
    timestamp: str


class HealthStatus(Documented):
    status: str
    timestamp: str


class ActivationOut(Documented):
    id: int
    license_key: str | None = None
    hardware_hash: str
    machine_name: str
    app_version: str | None
    activated_at: str
    last_heartbeat: str
    is_active: bool


class ActivateResponse(Documented):
    message: str
    activation: ActivationOut
    already_active: bool


class VerifiedLicense(Documented):
    key: str
    valid_until: str | None
    max_users: int


class VerifyResponse(Documented):
    valid: bool
    message: str
    code: str | None = None
    license: VerifiedLicense | None = None
    update_available: bool | None = None
    latest_version: str | None = None


class LicenseOut(Documented):
    id: int
    key: str
    customer_name: str
    type: str
    valid_from: str
    valid_until: str | None
    max_activations: int
    max_users: int
    is_active: bool


class InfoResponse(Documented):
    license: LicenseOut
    activations: list[ActivationOut]


class UpdateInfo(Documented):
    update_available: bool
    latest_version: str | None
    download_url: str | None
    release_notes: str | None


class SessionStartResponse(UpdateInfo):
    success: bool
    message: str
    session_token: str
    heartbeat_interval: int
    session_timeout: int
    started_at: str


class HeartbeatResponse(Documented):
    success: bool
    last_heartbeat: str
    heartbeat_interval: int


class SessionEndResponse(Documented):
    success: bool
    session_token: str
    duration_seconds: int
    end_reason: str
    ended_at: str


class VersionCheckResponse(UpdateInfo):
    update_required: bool


class VersionLatestResponse(Documented):
    version: str
    release_date: str
    download_url: str | None
    release_notes: str | None


class Jwk(Documented):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwkSet(Documented):
    keys: list[Jwk]


class CheckoutResponse(Documented):
    license_file: str
    expires_at: str


def errors(*cases: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error codes an operation can answer."""
    by_status: dict[int, list[str]] = {}
    for status, code in cases:
        by_status.setdefault(status, []).append(code)
    return {
        status: {"model": ErrorBody, "description": "Error codes: " + ", ".join(codes)}
        for status, codes in sorted(by_status.items())
    }


# Every request passes the body size limit, `/api/` ones the rate limit and the key too
# (api/middleware.py), so every operation documents their answers.
SIZE_ERRORS = ((413, "PAYLOAD_TOO_LARGE"),)
API_KEY_ERRORS = ((401, "INVALID_API_KEY"), (429, "RATE_LIMITED"), *SIZE_ERRORS)
BODY_ERRORS = ((400, "VALIDATION_ERROR"), (415, "UNSUPPORTED_MEDIA_TYPE"))
PATH_ERRORS = ((400, "VALIDATION_ERROR"),)
DB_ERRORS = ((503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_ERROR"))
