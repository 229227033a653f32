"""The resource pool (domains, IPv4 addresses, phone numbers, servers) and each resource's history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column
from licenseserver.db.models.indexes import lower_prefix_index

RESOURCE_TYPES = ("domain", "ipv4", "phone", "server")
RESOURCE_STATES = ("available", "allocated", "quarantine")


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("resource_type", "identifier", name="uq_resources_type_identifier"),
        # The global search finds a resource by its identifier, whole or its beginning, in any
        # case: `lower(identifier) LIKE 'text%'` (migration 0009, bench/admin_lists.py).
        lower_prefix_index("ix_resources_identifier_prefix", "identifier"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    identifier: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="available", index=True)
    license_id: Mapped[int | None] = mapped_column(
        ForeignKey("licenses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    allocated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class ResourceHistory(Base):
    __tablename__ = "resource_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    license_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(100), nullable=False, server_default="system")
    created_at: Mapped[datetime] = created_at_column()
