"""Declarative base and the column types every area shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import TIMESTAMP, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so that Alembic migrations match on PostgreSQL and SQLite alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# `info` key of a schema item that exists on one dialect only, e.g. a pg_trgm index: see
# licenseserver.db.migrate.include_for (Alembic's comparison does not know `ddl_if`).
ONLY_ON = "only_on"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# TIMESTAMP rather than DateTime: on SQLite the column is declared TIMESTAMP, which the ORM (with
# native_datetime) and the SQL layer both leave to the sqlite3 converter of db.sqlite_types.
UtcDateTime = TIMESTAMP(timezone=True)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, nullable=False, server_default=func.now())
