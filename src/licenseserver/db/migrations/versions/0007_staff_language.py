"""the admin panel's language per staff account

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 23:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=5), server_default="de", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("language")
