"""a new device's activation in one call on PostgreSQL: the function activate_new_device

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 09:30:00.000000

PostgreSQL only; on SQLite this migration does nothing (its activation keeps the transaction).

The License API activates a device that its quick UPDATE did not find with one call of this
function on an autocommit connection, instead of BEGIN, the license lock, the counted insert and
COMMIT (four round trips; docs/architecture.md, "A device's activation on PostgreSQL in one call"):

- the license row is locked by key, only while it is usable on `p_today` (the predicate is
  licensing/rules.py's `usable_sql`; under the lock PostgreSQL checks it again on the newest row);
- then, as a statement of its own, the device is inserted while the license has room for it
  (licensing/activation_limit.py's `room_for_one_more_sql`). A VOLATILE function takes a new
  snapshot for each statement in READ COMMITTED, taken after the lock was granted, so the count
  sees every device that an earlier holder of the lock committed: it is as exact as the count
  the transaction takes after its own lock statement.

It returns the new activation, or no row when the license is missing, not usable today or full;
the caller then runs the transaction, which finds the refusal. A concurrent activation of the
same device raises the unique index's violation, as the transaction's insert does.

tests/licensing/test_rules_agree.py proves that the predicates written here are the ones the
rules render today; a change to either rule needs a migration that replaces this function.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CREATE_FUNCTION = """
CREATE FUNCTION activate_new_device(
    p_license_key text, p_hardware_hash text, p_machine_name text, p_app_version text, p_today date
) RETURNS SETOF activations
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_license_id integer;
    v_limit integer;
    v_created activations%ROWTYPE;
BEGIN
    SELECT licenses.id, licenses.max_activations INTO v_license_id, v_limit FROM licenses
    WHERE licenses.license_key = p_license_key
    AND licenses.is_active = TRUE AND licenses.valid_from <= p_today AND (licenses.valid_until IS NULL OR licenses.valid_until >= p_today)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A new statement, a new snapshot: taken now that the lock is held.
    INSERT INTO activations (license_id, hardware_hash, machine_name, app_version, activated_at, last_heartbeat, is_active)
    SELECT v_license_id, p_hardware_hash, p_machine_name, p_app_version, now(), now(), TRUE
    WHERE (SELECT COUNT(*) FROM activations WHERE license_id = v_license_id AND is_active = TRUE) + 1 <= v_limit
    RETURNING * INTO v_created;
    IF FOUND THEN
        RETURN NEXT v_created;
    END IF;
END
$$
"""
DROP_FUNCTION = "DROP FUNCTION activate_new_device(text, text, text, text, date)"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute(CREATE_FUNCTION)


def downgrade() -> None:
    if _postgresql():
        op.execute(DROP_FUNCTION)
