"""Client programs the License API serves, and their release history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, created_at_column
from licenseserver.db.models.licensing import VERSION_MAX

# What a new client gets, here once: the columns' defaults, the panel's new-client form and, for
# the session timeout, the timeout judged by while no client is configured (domain.clients).
DEFAULT_HEARTBEAT_INTERVAL = 30
DEFAULT_SESSION_TIMEOUT = 90
DEFAULT_MINIMUM_VERSION = "1.0.0"


class ClientConfig(Base):
    __tablename__ = "client_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    heartbeat_interval: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=str(DEFAULT_HEARTBEAT_INTERVAL)
    )
    session_timeout: Mapped[int] = mapped_column(Integer, nullable=False, server_default=str(DEFAULT_SESSION_TIMEOUT))
    minimum_version: Mapped[str] = mapped_column(
        String(VERSION_MAX), nullable=False, server_default=DEFAULT_MINIMUM_VERSION
    )
    created_at: Mapped[datetime] = created_at_column()


class ClientRelease(Base):
    """One published version; the highest version of a client is its current one."""

    __tablename__ = "client_releases"
    __table_args__ = (UniqueConstraint("client_id", "version", name="uq_client_releases_client_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client_configs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[str] = mapped_column(String(VERSION_MAX), nullable=False)
    release_date: Mapped[date] = mapped_column(Date, nullable=False)
    download_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    release_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
