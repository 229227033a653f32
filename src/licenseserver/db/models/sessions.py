"""Client sessions: one live session per license, ended ones kept as history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime
from licenseserver.db.models.licensing import HARDWARE_HASH_MAX, MACHINE_NAME_MAX, VERSION_MAX


class ClientSession(Base):
    __tablename__ = "sessions"
    # last_heartbeat is deliberately not indexed: heartbeats then update rows in place (HOT), and
    # the planner cannot prefer a heartbeat index over the token for the heartbeat statement
    # (docs/performance.md). The sweep walks the open sessions through the partial index below.
    __table_args__ = (
        # At most one session per license that has not ended: the single-session rule in the database.
        Index(
            "uq_sessions_one_open_per_license",
            "license_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_token: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False, index=True)
    # Indexed so that deleting an activation finds its sessions by index, not by reading the whole
    # history (migration 0014).
    activation_id: Mapped[int | None] = mapped_column(
        ForeignKey("activations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    machine_id: Mapped[str] = mapped_column(String(MACHINE_NAME_MAX), nullable=False, server_default="")
    hardware_hash: Mapped[str] = mapped_column(String(HARDWARE_HASH_MAX), nullable=False)
    app_version: Mapped[str | None] = mapped_column(String(VERSION_MAX), nullable=True)
    # Indexed for the dashboard's sessions per day (a range of the last 30 days of a history that
    # keeps growing). Never updated, so heartbeats stay HOT updates all the same.
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    last_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
