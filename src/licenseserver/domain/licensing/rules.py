"""When a license may be used: active, and today (UTC) within valid_from .. valid_until."""

from __future__ import annotations

from datetime import date

from licenseserver.db.sql import Row
from licenseserver.kit.errors import AppError, ErrorCode


def unusable_reason(license_row: Row, today: date) -> AppError | None:
    """The refusal that applies to this license today, or None when it is usable."""
    if not license_row["is_active"]:
        return AppError(403, ErrorCode.LICENSE_INACTIVE, "License is inactive")
    if license_row["valid_from"] > today:
        return AppError(403, ErrorCode.LICENSE_NOT_YET_VALID, "License is not valid yet")
    valid_until = license_row["valid_until"]
    if valid_until is not None and valid_until < today:
        return AppError(403, ErrorCode.LICENSE_EXPIRED, "License has expired")
    return None


def license_not_found(license_id: int | None = None) -> AppError:
    """The API knows a license by its key and answers without it; the panel names the id it was given."""
    message = "License not found" if license_id is None else f"License {license_id} not found"
    return AppError(404, ErrorCode.LICENSE_NOT_FOUND, message)


def require_usable(license_row: Row | None, today: date) -> Row:
    if license_row is None:
        raise license_not_found()
    reason = unusable_reason(license_row, today)
    if reason is not None:
        raise reason
    return license_row
