"""indexes for the admin panel's lists and searches at a million licenses

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:30:00.000000

Measured with bench/admin_lists.py (docs/performance.md, "Admin lists at 1,000,000 licenses"):
- licenses (valid_until, id) and (license_type, valid_until, id): the list sorted by end date,
  without and with the type filter;
- PostgreSQL only (SQLite keeps scanning; its installations are small): pg_trgm GIN indexes for
  `ILIKE '%text%'` on customers.name and customers.email, and B-trees on lower(machine_name) and
  lower(hardware_hash) with text_pattern_ops for the device search's `lower(column) LIKE 'text%'`.

At a million activations the activation indexes take some seconds to build, and the table is
locked for writes meanwhile (a migration runs in one transaction, so not CONCURRENTLY).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = (("ix_customers_name_trgm", "customers", "name"), ("ix_customers_email_trgm", "customers", "email"))
PREFIX_INDEXES = (
    ("ix_activations_machine_name_prefix", "activations", "machine_name"),
    ("ix_activations_hardware_hash_prefix", "activations", "hardware_hash"),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index("ix_licenses_valid_until", ["valid_until", "id"], unique=False)
        batch_op.create_index("ix_licenses_type_valid_until", ["license_type", "valid_until", "id"], unique=False)
    if not _postgresql():
        return
    # A trusted extension since PostgreSQL 13: the database owner may create it, no superuser.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
    for name, table, column in PREFIX_INDEXES:
        op.create_index(name, table, [sa.text(f"lower({column}) text_pattern_ops")])


def downgrade() -> None:
    if _postgresql():
        for name, table, _column in TRIGRAM_INDEXES + PREFIX_INDEXES:
            op.drop_index(name, table_name=table)
        # pg_trgm stays: it may have been there before 0004, and other objects may use it now.
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_type_valid_until")
        batch_op.drop_index("ix_licenses_valid_until")
