"""The deliverer's SQL (dispatch.py, delivery.py), in both dialects.

Two spellings the SQL layer's `Query` has no token for are rendered here per dialect:
`{later $n}` (the database clock plus `$n` seconds; `{ago}` cannot take a negative on SQLite) and
`{skip_locked}` (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances share the rows
without waiting on each other; nothing on SQLite, whose writes run one at a time anyway).
"""

from __future__ import annotations

import re

from licenseserver.db.sql import Connection, Query

_LATER = {
    "postgresql": r"(now() + make_interval(secs => \1::float8))",
    "sqlite": r"strftime('%Y-%m-%d %H:%M:%f000', 'now', '+' || \1 || ' seconds')",
}
_SKIP_LOCKED = {"postgresql": " FOR UPDATE SKIP LOCKED", "sqlite": ""}


class DialectQuery:
    """A statement with `{later $n}` / `{skip_locked}`, as a `Query` for each dialect."""

    __slots__ = ("_by_dialect",)

    def __init__(self, text: str) -> None:
        self._by_dialect = {
            dialect: Query(re.sub(r"\{later (\$\d+)\}", _LATER[dialect], text).replace("{skip_locked}", skip))
            for dialect, skip in _SKIP_LOCKED.items()
        }

    def on(self, conn: Connection) -> Query:
        return self._by_dialect[conn.dialect]


# --- dispatch: the outbox's undispatched events become deliveries -------------------------------

UNDISPATCHED_EVENTS = DialectQuery(
    "SELECT id, event_type FROM webhook_events WHERE dispatched_at IS NULL ORDER BY id LIMIT $1{skip_locked}"
)
ENABLED_ENDPOINTS = Query("SELECT id, event_types FROM webhook_endpoints WHERE enabled = TRUE")
# DO NOTHING: a dispatch that crashed after its commit cannot happen (one transaction), but a
# redispatch by hand or a second dispatcher on SQLite must still leave one delivery per endpoint.
INSERT_DELIVERY = Query(
    "INSERT INTO webhook_deliveries (event_id, endpoint_id, state, attempts, next_attempt_at, created_at)"
    " VALUES ($1, $2, 'pending', 0, {now}, {now}) ON CONFLICT (event_id, endpoint_id) DO NOTHING"
)
MARK_DISPATCHED = Query("UPDATE webhook_events SET dispatched_at = {now} WHERE id = $1")

# --- delivery ------------------------------------------------------------------------------------

_DUE = (
    "state = 'pending' AND next_attempt_at <= {now}"
    " AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = TRUE)"
)
# One cheap read a poll: SQLite answers it from the reader connection without the write lock.
ANYTHING_TO_DO = Query(
    "SELECT EXISTS (SELECT 1 FROM webhook_events WHERE dispatched_at IS NULL) AS undispatched,"
    f" EXISTS (SELECT 1 FROM webhook_deliveries WHERE {_DUE}) AS due"
)
# The claim is the lease: one statement pushes next_attempt_at past the attempt's end and
# commits before the request goes out, so no other instance takes the delivery while it is in
# flight, and a crash mid-request only delays it until the lease runs out.
CLAIM_DUE = DialectQuery(
    "UPDATE webhook_deliveries SET next_attempt_at = {later $2} WHERE id IN"
    f" (SELECT id FROM webhook_deliveries WHERE {_DUE} ORDER BY next_attempt_at, id LIMIT $1{{skip_locked}})"
    " RETURNING id"
)
CLAIMED = Query(
    "SELECT d.id, d.attempts, d.endpoint_id, e.event_id, e.payload, p.url, p.secret"
    " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
    " JOIN webhook_endpoints p ON p.id = d.endpoint_id WHERE d.id = $1"
)
INSERT_ATTEMPT = Query(
    "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, error, answer_excerpt)"
    " VALUES ($1, {ago $2}, $3, $4, $5, $6)"
)
_RECORD = (
    "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = {now},"
    " last_status_code = $2, last_error = $3,"
)
MARK_DELIVERED = Query(
    _RECORD + " state = 'delivered', delivered_at = {now}, next_attempt_at = NULL WHERE id = $1 AND state = 'pending'"
)
SCHEDULE_RETRY = DialectQuery(_RECORD + " next_attempt_at = {later $4} WHERE id = $1 AND state = 'pending'")
MARK_FAILED = Query(_RECORD + " state = 'failed', next_attempt_at = NULL WHERE id = $1 AND state = 'pending'")
ENDPOINT_RECOVERED = Query(
    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL"
)
ENDPOINT_FAILING = Query("UPDATE webhook_endpoints SET failing_since = {now} WHERE id = $1 AND failing_since IS NULL")
REDELIVER = Query(
    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = {now}, delivered_at = NULL"
    " WHERE id = $1 RETURNING id"
)
