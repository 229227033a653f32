"""The license row lock: the one place it is taken, by key (the API) or by id (the panel).

Every change that must not race a client's activation or session start locks the license row
first and holds it until its unit of work commits: activations, session starts, the panel's
edits of a license, device deactivation, resource allocation and license deletion. PostgreSQL
serialises them per license on every instance; SQLite has no row locks (the renderer drops
` FOR UPDATE`), its write transactions (BEGIN IMMEDIATE) are exclusive already.

The panel takes the lock inside its ORM transaction through db.unit_of_work.sql_connection; ORM
objects it loaded earlier are stale after that and must be read again (populate_existing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from licenseserver.db.sql import Connection, Query, Row
from licenseserver.domain.licensing.license_statements import LICENSE_COLUMNS

LOCK_BY_KEY = Query(f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE license_key = $1 FOR UPDATE")
LOCK_BY_ID = Query(f"SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = $1 FOR UPDATE")
# Many rows in id order, so two bulk operations lock in the same order and cannot deadlock.
# The list travels as one parameter: an array on PostgreSQL, a JSON array on SQLite.
LOCK_MANY = {
    "postgresql": Query("SELECT id FROM licenses WHERE id = ANY($1::integer[]) ORDER BY id FOR UPDATE"),
    "sqlite": Query("SELECT id FROM licenses WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"),
}


async def lock_license(conn: Connection, license_key: str) -> Row | None:
    """The license with this key, locked until commit; None when there is none."""
    return await conn.fetchrow(LOCK_BY_KEY, license_key)


async def lock_license_by_id(conn: Connection, license_id: int) -> Row | None:
    """The license with this id, locked until commit; None when there is none."""
    return await conn.fetchrow(LOCK_BY_ID, license_id)


async def lock_licenses(conn: Connection, license_ids: Sequence[int]) -> list[int]:
    """Lock those of the licenses that exist, in id order; their ids."""
    ids = list(license_ids)
    param: object = ids if conn.dialect == "postgresql" else json.dumps(ids)
    return [int(row["id"]) for row in await conn.fetch(LOCK_MANY[conn.dialect], param)]
