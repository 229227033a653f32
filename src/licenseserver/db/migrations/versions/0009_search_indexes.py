"""indexes for the global search over leads and resources

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 23:40:00.000000

PostgreSQL only (SQLite keeps scanning; its installations are small), measured with
bench/admin_lists.py (docs/performance.md):
- pg_trgm GIN indexes for `ILIKE '%text%'` on lead_institutions.name, lead_contacts.first_name
  and last_name, lead_contact_details.value (e-mail addresses and phone numbers);
- a B-tree on lower(resources.identifier) with text_pattern_ops for the resource search's
  `lower(identifier) LIKE 'text%'` (an exact identifier is its own prefix).

pg_trgm was created by 0004. A migration runs in one transaction, so the indexes are not built
CONCURRENTLY: writes to these tables wait while they are built (a second or two at 100,000 rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = (
    ("ix_lead_institutions_name_trgm", "lead_institutions", "name"),
    ("ix_lead_contacts_first_name_trgm", "lead_contacts", "first_name"),
    ("ix_lead_contacts_last_name_trgm", "lead_contacts", "last_name"),
    ("ix_lead_contact_details_value_trgm", "lead_contact_details", "value"),
)
PREFIX_INDEXES = (("ix_resources_identifier_prefix", "resources", "identifier"),)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    # 0004 created it; repeated so this migration stands on its own if the chain is reordered.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
    for name, table, column in PREFIX_INDEXES:
        op.create_index(name, table, [sa.text(f"lower({column}) text_pattern_ops")])


def downgrade() -> None:
    if _postgresql():
        for name, table, _column in TRIGRAM_INDEXES + PREFIX_INDEXES:
            op.drop_index(name, table_name=table)
