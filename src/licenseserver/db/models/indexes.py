"""Index shapes several areas' tables share: the PostgreSQL-only search indexes of the panel's
lists and its global search (bench/admin_lists.py, docs/performance.md)."""

from __future__ import annotations

from sqlalchemy import Index, func, literal_column

from licenseserver.db.models.base import ONLY_ON


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index: serves `ILIKE '%text%'` and `ILIKE 'text%'`, which no B-tree can.
    PostgreSQL only (migration 0004 creates the extension); SQLite scans, which suits its size."""
    index = Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
        info={ONLY_ON: "postgresql"},  # for Alembic's comparison (db.migrate.include_for)
    )
    return index.ddl_if(dialect="postgresql")  # for metadata.create_all


def lower_prefix_index(name: str, column: str) -> Index:
    """A B-tree on lower(column) for `lower(column) LIKE 'text%'`. text_pattern_ops, because the
    default operator class serves LIKE only under the C collation. PostgreSQL only: SQLite uses
    no index for LIKE on an expression, so there it would only cost writes."""
    label = f"{column}_lower"
    index = Index(
        name,
        func.lower(literal_column(column)).label(label),
        postgresql_ops={label: "text_pattern_ops"},
        info={ONLY_ON: "postgresql"},
    )
    return index.ddl_if(dialect="postgresql")
