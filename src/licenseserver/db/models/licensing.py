"""Customers, their licenses and the activations (devices) of each license."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column
from licenseserver.db.models.indexes import lower_prefix_index, trigram_index

LICENSE_KEY_LENGTH = 19
HARDWARE_HASH_MAX = 256
MACHINE_NAME_MAX = 255
VERSION_MAX = 50


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # The panel searches customers by any part of the name or e-mail (license list, customer
        # select, global search): bench/admin_lists.py, docs/performance.md.
        trigram_index("ix_customers_name_trgm", "name"),
        trigram_index("ix_customers_email_trgm", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = created_at_column()


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        # The license list's sort by end date, with its `id` tie-breaker; both directions read
        # the index (backwards: NULLS FIRST, as the list wants for "no end date" when descending).
        Index("ix_licenses_valid_until", "valid_until", "id"),
        # The same sort within one type (the type filter): without the type in front, a
        # descending scan would first walk every perpetual license (NULL end date).
        Index("ix_licenses_type_valid_until", "license_type", "valid_until", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_key: Mapped[str] = mapped_column(String(LICENSE_KEY_LENGTH), nullable=False, unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    license_type: Mapped[str] = mapped_column(String(20), nullable=False, server_default="perpetual")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    max_activations: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    max_users: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    # How long an offline license file of this license may live; NULL: the default (30 days).
    offline_ttl_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Activation(Base):
    """One device holding (or having held) a license. Deactivated rows stay as history."""

    __tablename__ = "activations"
    __table_args__ = (
        # The database, not Python, guarantees one active activation per device and license.
        Index(
            "uq_activations_active_device",
            "license_id",
            "hardware_hash",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
        # The panel's device search: `lower(column) LIKE 'text%'` on the machine name or the hash.
        lower_prefix_index("ix_activations_machine_name_prefix", "machine_name"),
        lower_prefix_index("ix_activations_hardware_hash_prefix", "hardware_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False, index=True)
    hardware_hash: Mapped[str] = mapped_column(String(HARDWARE_HASH_MAX), nullable=False)
    machine_name: Mapped[str] = mapped_column(String(MACHINE_NAME_MAX), nullable=False, server_default="")
    app_version: Mapped[str | None] = mapped_column(String(VERSION_MAX), nullable=True)
    # Indexed for the dashboard's activations per week: a range of the last weeks, not every
    # device (bench/dashboard_charts.py, docs/performance.md).
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    last_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
