"""a session start in one call on PostgreSQL: the function start_license_session

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 13:00:00.000000

PostgreSQL only; on SQLite this migration does nothing (its session start keeps the transaction).

The License API starts a session with one call of this function on an autocommit connection of
the durable pool, instead of BEGIN, the license lock, the check, the insert and COMMIT (five round
trips; docs/architecture.md, "A session start on PostgreSQL in one call"):

- the license row is locked by key, only while it is usable on `p_today` (licensing/rules.py's
  `usable_sql`; under the lock PostgreSQL checks it again on the newest row);
- then, each a statement of its own and so each with a fresh snapshot taken after the lock was
  granted (a VOLATILE function in READ COMMITTED): the device's active activation is found, the
  license's timed-out sessions are ended as timeouts at their last heartbeat, and the session is
  inserted unless a live one holds the license (session_rules.py's `timed_out_sql` and
  `live_sql`, rendered for PostgreSQL). A session that an earlier holder of the lock committed is
  seen, so the one-session rule is as exact as in the transaction.

It returns the new session, or no row when the license is missing or not usable today, the
device is not activated on it, or a live session holds it; the caller then runs the transaction,
which finds the refusal and answers it with its code and message.

tests/licensing/test_rules_agree.py proves that the predicates written here are the ones the
rules render today; a change to any of them needs a migration that replaces this function.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CREATE_FUNCTION = """
CREATE FUNCTION start_license_session(
    p_license_key text, p_hardware_hash text, p_machine_id text, p_app_version text,
    p_session_token text, p_timeout_seconds integer, p_today date
) RETURNS SETOF sessions
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_license_id integer;
    v_activation_id integer;
    v_started sessions%ROWTYPE;
BEGIN
    SELECT licenses.id INTO v_license_id FROM licenses
    WHERE licenses.license_key = p_license_key
    AND licenses.is_active = TRUE AND licenses.valid_from <= p_today AND (licenses.valid_until IS NULL OR licenses.valid_until >= p_today)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- From here on each statement takes a new snapshot, taken now that the lock is held.
    SELECT activations.id INTO v_activation_id FROM activations
    WHERE activations.license_id = v_license_id AND activations.hardware_hash = p_hardware_hash
    AND activations.is_active = TRUE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE sessions SET ended_at = last_heartbeat, end_reason = 'timeout'
    WHERE license_id = v_license_id
    AND ended_at IS NULL AND last_heartbeat < (now() - make_interval(secs => p_timeout_seconds::float8));
    INSERT INTO sessions (session_token, license_id, activation_id, machine_id, hardware_hash, app_version, started_at, last_heartbeat)
    SELECT p_session_token, v_license_id, v_activation_id, p_machine_id, p_hardware_hash, p_app_version, now(), now()
    WHERE NOT EXISTS (
        SELECT 1 FROM sessions WHERE license_id = v_license_id
        AND ended_at IS NULL AND last_heartbeat >= (now() - make_interval(secs => p_timeout_seconds::float8))
    )
    RETURNING * INTO v_started;
    IF FOUND THEN
        RETURN NEXT v_started;
    END IF;
END
$$
"""
DROP_FUNCTION = "DROP FUNCTION start_license_session(text, text, text, text, text, integer, date)"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute(CREATE_FUNCTION)


def downgrade() -> None:
    if _postgresql():
        op.execute(DROP_FUNCTION)
