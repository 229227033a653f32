"""an index on sessions.activation_id, the one foreign key without one

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 19:45:00.000000

Deleting an activation sets `activation_id` to NULL in the sessions that point at it (ON DELETE
SET NULL). Without an index the database does that by reading the whole sessions table, once for
every activation deleted, and the table keeps every ended session as history: deleting licenses
with their devices in the panel, or the bench's removal of the devices its runs added, grew with
devices × sessions (100,000 devices against the bench's history of over 100,000 sessions ran
past a 5-minute statement timeout). With the index each deleted activation is one index lookup.
Sessions never change `activation_id` otherwise, so heartbeats stay HOT updates.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_activation_id"), ["activation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_activation_id"))
