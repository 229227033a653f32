"""The activation limit: a license never has more active devices than its max_activations.

One count and one comparison, used by the API's activation (and the panel's device registration,
which is the same rule) and by the panel when staff lower max_activations. Both callers hold the
license row lock (licensing.locks) while they count, so a limit being lowered and a device being
activated take turns and the count each sees is final until it commits.
"""

from __future__ import annotations

from licenseserver.db.sql import Connection, Query

COUNT_ACTIVE = Query("SELECT COUNT(*) AS n FROM activations WHERE license_id = $1 AND is_active = TRUE")


async def count_active_devices(conn: Connection, license_id: int) -> int:
    return int(await conn.fetchval(COUNT_ACTIVE, license_id))


def within_limit(active_devices: int, max_activations: int) -> bool:
    return active_devices <= max_activations


def room_for_one_more_sql(license_param: str, limit_param: str) -> str:
    """`within_limit(active devices + 1, max_activations)` as SQL, for an insert that adds the
    device only when it fits (license_statements.INSERT_ACTIVATION_IF_ROOM)."""
    return (
        f"(SELECT COUNT(*) FROM activations WHERE license_id = {license_param} AND is_active = TRUE) + 1"
        f" <= {limit_param}"
    )
