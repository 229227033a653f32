"""indexes on the times the dashboard's charts count by

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 23:30:00.000000

activations.activated_at and sessions.started_at: the dashboard counts devices activated in the
last 13 weeks and sessions started in the last 30 days, a range of each table instead of every
row of it (bench/dashboard_charts.py, docs/performance.md). started_at is never updated, so the
heartbeat's UPDATE stays a HOT update (docs/performance.md, "sessions" and HOT).
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activations_activated_at"), ["activated_at"], unique=False)
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_started_at"), ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_started_at"))
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activations_activated_at"))
