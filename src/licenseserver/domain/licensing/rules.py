"""When a license may be used, and the states the panel shows: every license predicate, once.

Each predicate is written here in each form a caller needs, side by side:
- a Python function on a license (a row of the SQL layer via `Terms.of_row`, an ORM object or a
  list row) and the UTC date,
- the SQLAlchemy condition the panel's lists and the dashboard filter and count with,
- where the SQL layer tests it inside a statement, the SQL text its `Query` strings are built from.
tests/licensing/test_rules_agree.py proves on both databases that the forms agree on every edge.

A license is usable while it is active and today lies within valid_from .. valid_until (no
valid_until: open-ended). "Expiring soon": usable and ending within EXPIRING_SOON_DAYS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, and_, case, not_, or_

from licenseserver.db.models import License
from licenseserver.db.sql import Row
from licenseserver.kit.errors import AppError, ErrorCode

EXPIRING_SOON_DAYS = 30
LicenseState = Literal["active", "inactive", "expired", "expiring", "not_yet_valid"]


class LicenseTerms(Protocol):
    @property
    def is_active(self) -> bool: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def valid_until(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class Terms:
    is_active: bool
    valid_from: date
    valid_until: date | None

    @classmethod
    def of_row(cls, row: Row) -> Terms:
        return cls(bool(row["is_active"]), row["valid_from"], row["valid_until"])


def expiring_soon_limit(today: date) -> date:
    return today + timedelta(days=EXPIRING_SOON_DAYS)


# ---- inactive: switched off by staff -------------------------------------------------------


def is_inactive(lic: LicenseTerms) -> bool:
    return not lic.is_active


def inactive_condition() -> ColumnElement[bool]:
    return not_(License.is_active)


# ---- not yet valid: valid_from after today --------------------------------------------------


def is_not_yet_valid(lic: LicenseTerms, today: date) -> bool:
    return lic.valid_from > today


def not_yet_valid_condition(today: date) -> ColumnElement[bool]:
    return License.valid_from > today


# ---- expired: valid_until before today (an open-ended license never expires) ----------------


def is_expired(lic: LicenseTerms, today: date) -> bool:
    return lic.valid_until is not None and lic.valid_until < today


def expired_condition(today: date) -> ColumnElement[bool]:
    return License.valid_until < today


def expired_sql(today_param: str, table: str = "licenses") -> str:
    return f"{table}.valid_until < {today_param}"


# ---- usable: active, not before valid_from, not after valid_until ---------------------------


def is_usable(lic: LicenseTerms, today: date) -> bool:
    return not is_inactive(lic) and not is_not_yet_valid(lic, today) and not is_expired(lic, today)


def usable_condition(today: date) -> ColumnElement[bool]:
    return and_(
        License.is_active,
        License.valid_from <= today,
        or_(License.valid_until.is_(None), License.valid_until >= today),
    )


def usable_sql(today_param: str, table: str = "licenses") -> str:
    """The SQL layer's form; `today_param` is the statement's parameter holding today ("$4")."""
    return (
        f"{table}.is_active = TRUE AND {table}.valid_from <= {today_param}"
        f" AND ({table}.valid_until IS NULL OR {table}.valid_until >= {today_param})"
    )


# ---- expiring soon: usable, and ending within EXPIRING_SOON_DAYS ----------------------------


def is_expiring_soon(lic: LicenseTerms, today: date) -> bool:
    return is_usable(lic, today) and lic.valid_until is not None and lic.valid_until <= expiring_soon_limit(today)


def expiring_soon_condition(today: date) -> ColumnElement[bool]:
    return and_(usable_condition(today), License.valid_until <= expiring_soon_limit(today))


# ---- the one state a page shows, and the licenses a state filter lists ----------------------


def license_state(lic: LicenseTerms, today: date) -> LicenseState:
    """The one state shown for a license; checked in the order the License API refuses in."""
    if is_inactive(lic):
        return "inactive"
    if is_not_yet_valid(lic, today):
        return "not_yet_valid"
    if is_expired(lic, today):
        return "expired"
    if is_expiring_soon(lic, today):
        return "expiring"
    return "active"


def state_column(today: date) -> ColumnElement[str]:
    """`license_state` in SQL: the one state shown for each license, checked in the same order,
    so counting by it splits the licenses without overlap (the dashboard's chart by state)."""
    return case(
        (inactive_condition(), "inactive"),
        (not_yet_valid_condition(today), "not_yet_valid"),
        (expired_condition(today), "expired"),
        (expiring_soon_condition(today), "expiring"),
        else_="active",
    )


def state_condition(state: LicenseState, today: date) -> ColumnElement[bool]:
    """The licenses a state filter lists, with the dashboard's meanings (its links open these
    lists). A filter may match a license whose shown state is another: an inactive license that
    has ended is listed under "expired" too, as the dashboard counts it."""
    if state == "active":
        return usable_condition(today)
    if state == "inactive":
        return inactive_condition()
    if state == "expired":
        return expired_condition(today)
    if state == "expiring":
        return expiring_soon_condition(today)
    return not_yet_valid_condition(today)


# ---- the License API's refusals ------------------------------------------------------------


def unusable_reason(license_row: Row, today: date) -> AppError | None:
    """The refusal that applies to this license today, or None when it is usable."""
    state = license_state(Terms.of_row(license_row), today)
    if state == "inactive":
        return AppError(403, ErrorCode.LICENSE_INACTIVE, "License is inactive")
    if state == "not_yet_valid":
        return AppError(403, ErrorCode.LICENSE_NOT_YET_VALID, "License is not valid yet")
    if state == "expired":
        return AppError(403, ErrorCode.LICENSE_EXPIRED, "License has expired")
    return None


def license_not_found(license_id: int | None = None) -> AppError:
    """The API knows a license by its key and answers without it; the panel names the id it was given."""
    message = "License not found" if license_id is None else f"License {license_id} not found"
    return AppError(404, ErrorCode.LICENSE_NOT_FOUND, message)


def device_not_activated() -> AppError:
    """The device has no active activation of the license (verify, session start, offline file)."""
    return AppError(403, ErrorCode.DEVICE_NOT_ACTIVATED, "Device is not activated for this license")


def require_usable(license_row: Row | None, today: date) -> Row:
    if license_row is None:
        raise license_not_found()
    reason = unusable_reason(license_row, today)
    if reason is not None:
        raise reason
    return license_row
