"""Database URLs as operators write them, and the limits every connection pool obeys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from licenseserver.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class PoolLimits:
    """How many PostgreSQL connections a process holds and how long it waits on them. Every wait
    is bounded, so a request answers 503 quickly while the database is away instead of hanging."""

    size: int = 10
    max_overflow: int = 5  # the ORM pool only: the SQL layer's pool never exceeds `size`
    timeout_seconds: float = 5.0  # for a free connection of the pool
    connect_timeout_seconds: float = 2.0
    statement_timeout_seconds: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings, size: int | None = None) -> PoolLimits:
        return cls(
            size=settings.db_pool_size if size is None else size,
            max_overflow=settings.db_max_overflow,
            timeout_seconds=settings.db_pool_timeout_seconds,
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            statement_timeout_seconds=settings.db_statement_timeout_seconds,
        )


def normalize_url(database_url: str) -> str:
    """A PostgreSQL URL as operators write it (`postgres://`, `postgresql://`, or with any driver
    named), with the driver this module uses; SQLite URLs with their driver part dropped."""
    scheme, rest = database_url.split("://", 1)
    if scheme.split("+", 1)[0] in {"postgres", "postgresql"}:
        return "postgresql+psycopg://" + rest
    return "sqlite://" + rest


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq-style DSN asyncpg understands."""
    url = normalize_url(database_url)
    return "postgresql://" + url.split("://", 1)[1]


def sqlite_path(database_url: str) -> str:
    """The file path of a `sqlite:///path` URL (`sqlite:////abs/path` for absolute paths)."""
    return database_url.split(":///", 1)[1].split("?", 1)[0]
