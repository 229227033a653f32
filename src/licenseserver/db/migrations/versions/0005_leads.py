"""leads: institutions, contacts, contact details, notes and their versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:45:00.000000
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "lead_institutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("institution_type", sa.String(length=20), server_default="other", nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_lead_institutions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_institutions")),
    )
    with op.batch_alter_table("lead_institutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_institutions_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_institutions_institution_type"), ["institution_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_institutions_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "lead_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.String(length=255), server_default="", nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["lead_institutions.id"],
            name=op.f("fk_lead_contacts_institution_id_lead_institutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_contacts")),
    )
    with op.batch_alter_table("lead_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_contacts_institution_id"), ["institution_id"], unique=False)

    op.create_table(
        "lead_contact_details",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("detail_type", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=50), server_default="", nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["lead_contacts.id"],
            name=op.f("fk_lead_contact_details_contact_id_lead_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_contact_details")),
    )
    with op.batch_alter_table("lead_contact_details", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_contact_details_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("current_version", sa.Integer(), server_default="1", nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["lead_contacts.id"],
            name=op.f("fk_lead_notes_contact_id_lead_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_notes")),
    )
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_notes_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "lead_note_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"], ["lead_notes.id"], name=op.f("fk_lead_note_versions_note_id_lead_notes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_note_versions")),
        sa.UniqueConstraint("note_id", "version", name="uq_lead_note_versions_note_version"),
    )


def downgrade() -> None:
    op.drop_table("lead_note_versions")
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_notes_contact_id"))
    op.drop_table("lead_notes")
    with op.batch_alter_table("lead_contact_details", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_contact_details_contact_id"))
    op.drop_table("lead_contact_details")
    with op.batch_alter_table("lead_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_contacts_institution_id"))
    op.drop_table("lead_contacts")
    with op.batch_alter_table("lead_institutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_institutions_customer_id"))
        batch_op.drop_index(batch_op.f("ix_lead_institutions_institution_type"))
        batch_op.drop_index(batch_op.f("ix_lead_institutions_name"))
    op.drop_table("lead_institutions")
