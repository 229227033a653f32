"""Singleton rows the whole installation shares: the system API key and the rate limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column


class SystemApiKey(Base):
    # Runbooks read the key with `SELECT api_key FROM system_api_key WHERE id = 1`.
    __tablename__ = "system_api_key"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    api_key: Mapped[str] = mapped_column(String(40), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    regenerated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RateLimitSettings(Base):
    __tablename__ = "rate_limit_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    api_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    login_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = created_at_column()
