"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:35:04.598034
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_name", sa.String(length=100), nullable=False),
        sa.Column("heartbeat_interval", sa.Integer(), server_default="30", nullable=False),
        sa.Column("session_timeout", sa.Integer(), server_default="90", nullable=False),
        sa.Column(
            "minimum_version",
            sa.String(length=50),
            server_default="1.0.0",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_configs")),
        sa.UniqueConstraint("client_name", name=op.f("uq_client_configs_client_name")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_name"), ["name"], unique=False)

    op.create_table(
        "rate_limit_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("api_per_minute", sa.Integer(), nullable=False),
        sa.Column("login_per_minute", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_rate_limit_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_settings")),
    )
    op.create_table(
        "system_api_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("api_key", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("regenerated_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_system_api_key_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_api_key")),
    )
    op.create_table(
        "client_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=False),
        sa.Column("download_url", sa.String(length=2048), nullable=True),
        sa.Column("release_notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client_configs.id"],
            name=op.f("fk_client_releases_client_id_client_configs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_releases")),
        sa.UniqueConstraint("client_id", "version", name="uq_client_releases_client_version"),
    )
    with op.batch_alter_table("client_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_releases_client_id"), ["client_id"], unique=False)

    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_key", sa.String(length=19), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "license_type",
            sa.String(length=20),
            server_default="perpetual",
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("max_activations", sa.Integer(), server_default="1", nullable=False),
        sa.Column("max_users", sa.Integer(), server_default="1", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_licenses_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("license_key", name=op.f("uq_licenses_license_key")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licenses_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("hardware_hash", sa.String(length=256), nullable=False),
        sa.Column("machine_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("app_version", sa.String(length=50), nullable=True),
        sa.Column("activated_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("last_heartbeat", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("deactivated_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_activations_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activations")),
    )
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activations_license_id"), ["license_id"], unique=False)
        batch_op.create_index(
            "uq_activations_active_device",
            ["license_id", "hardware_hash"],
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        )

    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=20), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="available", nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=True),
        sa.Column("allocated_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_resources_license_id_licenses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint("resource_type", "identifier", name="uq_resources_type_identifier"),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resources_license_id"), ["license_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resources_resource_type"), ["resource_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_resources_status"), ["status"], unique=False)

    op.create_table(
        "resource_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), server_default="system", nullable=False),
        sa.Column(
            "created_at",
            sa.TIMESTAMP(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_resource_history_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_history")),
    )
    with op.batch_alter_table("resource_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_history_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_token", sa.String(length=36), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column("machine_id", sa.String(length=255), server_default="", nullable=False),
        sa.Column("hardware_hash", sa.String(length=256), nullable=False),
        sa.Column("app_version", sa.String(length=50), nullable=True),
        sa.Column("started_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("last_heartbeat", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("ended_at", sa.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activations.id"],
            name=op.f("fk_sessions_activation_id_activations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_sessions_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("session_token", name=op.f("uq_sessions_session_token")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_license_id"), ["license_id"], unique=False)
        batch_op.create_index(
            "ix_sessions_open_heartbeat",
            ["last_heartbeat"],
            unique=False,
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )
        batch_op.create_index(
            "uq_sessions_one_open_per_license",
            ["license_id"],
            unique=True,
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )

    seed_default_client()


def seed_default_client() -> None:
    """The client the reference names as pre-configured, so session endpoints work at once."""
    op.execute(
        "INSERT INTO client_configs (client_name, heartbeat_interval, session_timeout, minimum_version)"
        " VALUES ('Account Forger', 30, 90, '1.0.0')"
    )
    releases = sa.table(
        "client_releases",
        sa.column("client_id", sa.Integer),
        sa.column("version", sa.String),
        sa.column("release_date", sa.Date),
        sa.column("download_url", sa.String),
        sa.column("release_notes", sa.Text),
    )
    client_id = (
        op.get_bind()
        .execute(sa.text("SELECT id FROM client_configs WHERE client_name = 'Account Forger'"))
        .scalar_one()
    )
    op.bulk_insert(
        releases,
        [
            {
                "client_id": client_id,
                "version": "1.0.0",
                "release_date": date.today(),
                "download_url": None,
                "release_notes": "Initial release",
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sessions_one_open_per_license",
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_sessions_open_heartbeat",
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_sessions_license_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("resource_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_history_resource_id"))

    op.drop_table("resource_history")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_status"))
        batch_op.drop_index(batch_op.f("ix_resources_resource_type"))
        batch_op.drop_index(batch_op.f("ix_resources_license_id"))

    op.drop_table("resources")
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_activations_active_device",
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        )
        batch_op.drop_index(batch_op.f("ix_activations_license_id"))

    op.drop_table("activations")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_customer_id"))

    op.drop_table("licenses")
    with op.batch_alter_table("client_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_releases_client_id"))

    op.drop_table("client_releases")
    op.drop_table("system_api_key")
    op.drop_table("rate_limit_settings")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name"))
        batch_op.drop_index(batch_op.f("ix_customers_email"))

    op.drop_table("customers")
    op.drop_table("client_configs")
