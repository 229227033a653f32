"""Every failure the client reports, under one base class so a program can catch them all."""

from __future__ import annotations

from enum import StrEnum


class LicenseError(Exception):
    """Base of every client error: `code` is the server's UPPER_SNAKE_CASE code or the client's own."""

    def __init__(self, message: str, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.code}: {self.message}{where}"


class ApiError(LicenseError):
    """The server refused the request with a signed error answer (a 4xx with the contract's error body)."""


class ServerUnavailableError(LicenseError):
    """The server could not be reached: connection refused, timeout, or a 5xx answer."""


class SignatureFailure(StrEnum):
    MISSING = "missing"
    UNKNOWN_KEY = "unknown_key"
    DIGEST_MISMATCH = "digest_mismatch"
    BAD_SIGNATURE = "bad_signature"
    NONCE_MISMATCH = "nonce_mismatch"
    STALE = "stale"
    MALFORMED = "malformed"


class SignatureError(LicenseError):
    """An answer that does not carry a valid signature of a pinned key over this very request."""

    def __init__(self, reason: SignatureFailure, message: str, status: int | None = None) -> None:
        super().__init__(message, "SIGNATURE_" + reason.name, status)
        self.reason = reason


class OfflineFailure(StrEnum):
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_DEVICE = "wrong_device"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    MALFORMED = "malformed"


class OfflineLicenseError(LicenseError):
    """An offline license file that does not hold: see `reason`."""

    def __init__(self, reason: OfflineFailure, message: str) -> None:
        super().__init__(message, "OFFLINE_" + reason.name)
        self.reason = reason


class ClockError(LicenseError):
    """The local clock lies before a time the server has already signed: it was set back."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "CLOCK_SET_BACK")


class KeySetError(LicenseError):
    """The pinned JWK Set could not be loaded or holds no usable Ed25519 key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "BAD_KEY_SET")


class SessionLostError(LicenseError):
    """The server refused the session (409 at start) or no longer knows it (404 on heartbeat)."""
