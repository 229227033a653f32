"""Error codes and the one exception type every layer raises for an expected refusal.

Services raise `AppError`; each web app has a single handler that turns it into the contract's
body `{"error": ..., "code": ..., "status": ...}` (API) or an error page (panel).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_API_KEY = "INVALID_API_KEY"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    LICENSE_NOT_FOUND = "LICENSE_NOT_FOUND"
    LICENSE_INACTIVE = "LICENSE_INACTIVE"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    LICENSE_NOT_YET_VALID = "LICENSE_NOT_YET_VALID"
    ACTIVATION_LIMIT_REACHED = "ACTIVATION_LIMIT_REACHED"
    DEVICE_NOT_ACTIVATED = "DEVICE_NOT_ACTIVATED"
    SESSION_CONFLICT = "SESSION_CONFLICT"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    CLIENT_NOT_CONFIGURED = "CLIENT_NOT_CONFIGURED"
    VERSION_TOO_OLD = "VERSION_TOO_OLD"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    CONFLICT = "CONFLICT"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    DEVICE_NOT_FOUND = "DEVICE_NOT_FOUND"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    RESOURCE_NOT_AVAILABLE = "RESOURCE_NOT_AVAILABLE"
    CUSTOMER_HAS_LICENSES = "CUSTOMER_HAS_LICENSES"
    CSRF_FAILED = "CSRF_FAILED"
    # The management API (docs/integrations.md, CONTRACT.md §9).
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105  # nosec B105  # an error code, not a secret
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"


class AppError(Exception):
    """An expected refusal: a status, a code from ErrorCode and a message for a person."""

    def __init__(self, status: int, code: ErrorCode, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": str(self.code), "status": self.status, **self.extra}


def error_body(status: int, code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    return AppError(status, code, message, **extra).body()
