"""How dates, times and booleans cross sqlite3, for the ORM and the SQL layer alike.

Converters apply only to connections opened with detect_types (ours); importing this module
registers them once per process.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime


def _utc_datetime(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC)


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # the format SQLAlchemy stores, so both agree


sqlite3.register_converter("TIMESTAMP", _utc_datetime)
sqlite3.register_converter("DATETIME", _utc_datetime)
sqlite3.register_converter("DATE", lambda raw: date.fromisoformat(raw.decode()))
sqlite3.register_converter("BOOLEAN", lambda raw: raw not in (b"0", b""))
sqlite3.register_adapter(datetime, _sqlite_datetime)
sqlite3.register_adapter(date, date.isoformat)
