"""What the vendor's own systems use (docs/integrations.md, CONTRACT.md §9): management API tokens,
the answers of idempotent creates, and webhooks — endpoints, the event outbox, deliveries and
their attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column

TOKEN_NAME_MAX = 100
EVENT_TYPE_MAX = 64
WEBHOOK_URL_MAX = 2048
# Event ids are sorted by the table's id; the public id is what `webhook-id` carries.
EVENT_ID_MAX = 40
# BIGINT on PostgreSQL; SQLite's INTEGER PRIMARY KEY (the rowid) needs the plain INTEGER type.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ApiToken(Base):
    """A management API token. Only a keyed hash of the secret is stored; `prefix` (the first
    characters, shown in lists) lets staff recognise a token without revealing it."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX), nullable=False)
    scope: Mapped[str] = mapped_column(String(5), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IdempotentAnswer(Base):
    """The first answer of a create sent with an `Idempotency-Key`, kept for a day: a retry with
    the same key and body gets it again instead of a second record."""

    __tablename__ = "idempotent_answers"
    __table_args__ = (UniqueConstraint("token_id", "idempotency_key", name="uq_idempotent_answers_token_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # method, path and body
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_MAX), nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")
    # The event types it wants, space-separated (e.g. "license.created activation.created").
    event_types: Mapped[str] = mapped_column(Text, nullable=False)
    # The Standard Webhooks secret ("whsec_…"), sealed under SECRET_KEY (kit.secretbox).
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    # Set when a delivery gave up after its last retry; cleared by the next success.
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookEvent(Base):
    """The outbox and the event log: written in the same transaction as the change it tells of.
    `dispatched_at` is set once the deliverer has made its deliveries (one per endpoint that
    wanted it), so a crash in between only delays them."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index(
            "ix_webhook_events_undispatched",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_MAX), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON body the receivers get
    created_at: Mapped[datetime] = created_at_column()
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookDelivery(Base):
    """One event to one endpoint, until it is delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        # The deliverer's question: which pending deliveries are due.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookAttempt(Base):
    """One try of a delivery: the history staff read per endpoint."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The start of the receiver's answer, capped (WEBHOOK_ANSWER_EXCERPT), never the whole body.
    answer_excerpt: Mapped[str | None] = mapped_column(String(1000), nullable=True)
