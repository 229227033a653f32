"""Delivering one webhook: claim it, sign and send it, record what came of it.

The lease (docs/integrations.md, "Delivery"): `claim_due` pushes each claimed delivery's
next_attempt_at to the end of the attempt plus a margin, in a statement that commits before the
request goes out. Another instance does not take it while it is in flight; a process killed
mid-request leaves it to be taken again when the lease runs out (the receiver may then see it
twice, with the same `webhook-id`: at least once, never lost). Recording the outcome is a short
transaction of its own after the request, never around it.

The retry schedule (`RETRY_SCHEDULE`, about three days in all) and what ends it: a 2xx answer
delivers; anything else (another status, a timeout, a connection error, a refused address) is
an attempt that failed, retried after the next step of the schedule with ±20 % jitter; after the
last step the delivery is failed and its endpoint `failing_since` (staff see it in the panel).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from licenseserver.db.sql import Connection, Database
from licenseserver.domain.webhooks import sender
from licenseserver.domain.webhooks.statements import (
    CLAIM_DUE,
    CLAIMED,
    ENDPOINT_FAILING,
    ENDPOINT_RECOVERED,
    INSERT_ATTEMPT,
    MARK_DELIVERED,
    MARK_FAILED,
    REDELIVER,
    SCHEDULE_RETRY,
)
from licenseserver.kit.secretbox import unseal

# Seconds from a failed attempt to the next: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h,
# 14 h, 16 h — 71.6 hours (about three days) from the first attempt to the eleventh and last.
RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 50400, 57600)
JITTER = 0.2
# The lease outlasts the attempt's own limit by this much: the reads before the request and the
# write after it (each bounded by DB_STATEMENT_TIMEOUT_SECONDS, in practice milliseconds).
LEASE_MARGIN_SECONDS = 5.0
USER_AGENT = "V2-License-Server-Webhooks/1.0"


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    """How the deliverer behaves; the defaults are production's, tests shorten them."""

    timeout_seconds: float = 10.0
    allow_private: bool = False
    retry_schedule: Sequence[float] = RETRY_SCHEDULE
    jitter: float = JITTER

    @property
    def lease_seconds(self) -> float:
        return self.timeout_seconds + LEASE_MARGIN_SECONDS

    def retry_delay(self, attempts_made: int) -> float | None:
        """Seconds until the next try after `attempts_made` failed ones; None: give up."""
        if attempts_made > len(self.retry_schedule):
            return None
        base = self.retry_schedule[attempts_made - 1]
        # Jitter spreads the retries of many deliveries; nothing secret depends on it.
        return round(base * random.uniform(1 - self.jitter, 1 + self.jitter), 3)  # nosec B311


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    attempts: int  # made before this one
    endpoint_id: int
    webhook_id: str  # the event's public id: the same on every try
    payload: str
    url: str
    sealed_secret: str


async def claim_due(db: Database, limit: int, rules: DeliveryRules) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries (committed at once), then read what sending them needs."""
    async with db.autocommit() as conn:
        ids = [row["id"] for row in await conn.fetch(CLAIM_DUE.on(conn), limit, float(rules.lease_seconds))]
        rows = [await conn.fetchrow(CLAIMED, delivery_id) for delivery_id in ids]
    return [
        ClaimedDelivery(
            row["id"], row["attempts"], row["endpoint_id"], row["event_id"], row["payload"], row["url"], row["secret"]
        )
        for row in rows
        if row is not None  # the endpoint or event was deleted in between (cascade)
    ]


def signed_headers(webhook_id: str, secret: str, payload: str, now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for this payload, signed now (the receiver checks the time)."""
    now = now or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, payload),
    }


async def attempt(db: Database, claimed: ClaimedDelivery, rules: DeliveryRules, sealing_key: str) -> bool:
    """Send one claimed delivery and record the attempt; True when it was delivered.
    `sealing_key` opens the endpoint's secret (SECRET_KEY or the generated one, kit.secretbox)."""
    secret = unseal(sealing_key, claimed.sealed_secret)
    if secret is None:
        answer = sender.Answer(None, "the endpoint's secret cannot be opened: was SECRET_KEY changed?", None, 0)
    else:
        headers = signed_headers(claimed.webhook_id, secret, claimed.payload)
        answer = await sender.post(
            claimed.url,
            headers,
            claimed.payload.encode(),
            limit_seconds=rules.timeout_seconds,
            allow_private=rules.allow_private,
        )
    async with db.transaction() as conn:
        await record_outcome(conn, claimed, answer, rules)
    return answer.delivered


async def record_outcome(
    conn: Connection, claimed: ClaimedDelivery, answer: sender.Answer, rules: DeliveryRules
) -> None:
    """The attempt in the history, and the delivery delivered, rescheduled or failed."""
    await conn.execute(
        INSERT_ATTEMPT,
        claimed.id,
        answer.duration_ms / 1000,
        answer.status_code,
        answer.duration_ms,
        answer.error,
        answer.excerpt,
    )
    if answer.delivered:
        await conn.execute(MARK_DELIVERED, claimed.id, answer.status_code, None)
        await conn.execute(ENDPOINT_RECOVERED, claimed.endpoint_id)
        return
    delay = rules.retry_delay(claimed.attempts + 1)
    if delay is None:
        await conn.execute(MARK_FAILED, claimed.id, answer.status_code, answer.error)
        await conn.execute(ENDPOINT_FAILING, claimed.endpoint_id)
    else:
        await conn.execute(SCHEDULE_RETRY.on(conn), claimed.id, answer.status_code, answer.error, delay)


async def redeliver(conn: Connection, delivery_id: int) -> bool:
    """Make a delivery pending and due now (the panel's and the API's "send again"): the same
    event, so the same `webhook-id`. A delivery that had given up gets one more try, not a new
    schedule. False when there is no such delivery. The caller commits."""
    return await conn.fetchval(REDELIVER, delivery_id) is not None
