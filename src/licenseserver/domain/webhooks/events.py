"""The events the server tells of, and the body every receiver gets (docs/integrations.md,
"Webhooks").

The body follows the Standard Webhooks specification: `{"type", "timestamp", "data"}`; the event
id travels in the `webhook-id` header, the same on every retry, so a receiver can drop repeats.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, date, datetime
from typing import Any

from licenseserver.kit.timefmt import iso_date, iso_utc

LICENSE_CREATED = "license.created"
LICENSE_UPDATED = "license.updated"
LICENSE_DEACTIVATED = "license.deactivated"
LICENSE_EXPIRING = "license.expiring"
LICENSE_EXPIRED = "license.expired"
ACTIVATION_CREATED = "activation.created"
ACTIVATION_DEACTIVATED = "activation.deactivated"
ACTIVATION_REFUSED = "activation.refused"
SESSION_STARTED = "session.started"
SESSION_REFUSED = "session.refused"
SESSION_ENDED = "session.ended"
API_KEY_REGENERATED = "api_key.regenerated"
LEAD_CREATED = "lead.created"

EVENT_TYPES: tuple[str, ...] = (
    LICENSE_CREATED,
    LICENSE_UPDATED,
    LICENSE_DEACTIVATED,
    LICENSE_EXPIRING,
    LICENSE_EXPIRED,
    ACTIVATION_CREATED,
    ACTIVATION_DEACTIVATED,
    ACTIVATION_REFUSED,
    SESSION_STARTED,
    SESSION_REFUSED,
    SESSION_ENDED,
    API_KEY_REGENERATED,
    LEAD_CREATED,
)

EVENT_ID_PREFIX = "msg_"
# Crockford's base32, as ULIDs spell it: sortable as text, no letters easily misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _ulid(milliseconds: int, entropy: int) -> str:
    """26 characters: 48 bits of milliseconds since 1970, then 80 bits of entropy (the ULID layout)."""
    return _base32(milliseconds & (2**48 - 1), 10) + _base32(entropy & (2**80 - 1), 16)


def new_event_id() -> str:
    """`msg_` + a ULID-like id: ids made later sort later (to the millisecond), and 80 random
    bits make two made in the same millisecond, on any instance, differ."""
    return EVENT_ID_PREFIX + _ulid(time.time_ns() // 1_000_000, secrets.randbits(80))


def fixed_event_id(event_type: str, subject: str, when: date) -> str:
    """The same id every time for one event about one subject on one date: what makes an event
    that may be found by several scans (license.expiring, license.expired) be written once, by
    the unique index on webhook_events.event_id. The time part is the date's midnight (UTC)."""
    milliseconds = int(datetime(when.year, when.month, when.day, tzinfo=UTC).timestamp() * 1000)
    digest = hashlib.sha256(f"{event_type}\n{subject}\n{when.isoformat()}".encode()).digest()
    return EVENT_ID_PREFIX + _ulid(milliseconds, int.from_bytes(digest[:10], "big"))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return iso_date(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def event_body(event_type: str, data: dict[str, Any], at: datetime | None = None) -> str:
    """The JSON every receiver of the event gets, as stored in webhook_events.payload."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    timestamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: dict[str, Any] = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(body, default=_json_value, separators=(",", ":"), ensure_ascii=False)
