"""The Ed25519 keys that sign License API answers and offline license files (docs/signatures.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column

KID_MAX = 64  # an RFC 7638 thumbprint: 43 base64url characters


class SigningKey(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("state IN ('current', 'previous', 'retired')", name="state"),
        # The database, not Python, guarantees one current key: instances starting together or
        # two rotations at once cannot both make one.
        Index(
            "uq_signing_keys_current",
            "state",
            unique=True,
            postgresql_where=text("state = 'current'"),
            sqlite_where=text("state = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(KID_MAX), nullable=False, unique=True)
    # The raw 32-byte public key, base64url without padding (the JWK's "x").
    public_key: Mapped[str] = mapped_column(String(64), nullable=False)
    # The raw private key sealed under SECRET_KEY (kit.secretbox): never stored in the clear.
    private_key: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
