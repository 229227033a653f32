"""What `migrate` and every `serve` do first: bring the schema to head and make sure the rows a
working installation needs exist (system API key, rate limits, the current signing key)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings
from licenseserver.db.migrate import upgrade_schema
from licenseserver.db.sql import Connection, Query, open_database
from licenseserver.domain.api_key.service import ensure_api_key
from licenseserver.domain.settings.service import RateLimits, ensure_rate_limits
from licenseserver.domain.signing.keys import ensure_current_key
from licenseserver.kit.blocking import run_blocking

T = TypeVar("T")
SECRET_KEY_NAME = "secret_key"  # noqa: S105  # nosec B105  # the row name, not a secret
FIRST_ADMIN_LOCK_KEY = 0x4C53_4144_4D4E  # PostgreSQL advisory lock key, "LSADMN"


def run_in_transaction(settings: Settings, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run one unit of work on the SQL layer from synchronous code (the CLI)."""

    async def main() -> T:
        db = open_database(settings.database_url, pool_size=1)
        await db.open()
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.close()

    return run_blocking(main)


GET_SECRET = Query("SELECT value FROM app_secrets WHERE name = $1")
INSERT_SECRET_IF_MISSING = Query(
    "INSERT INTO app_secrets (name, value, created_at) VALUES ($1, $2, {now}) ON CONFLICT (name) DO NOTHING"
)


async def ensure_secret(conn: Connection, name: str) -> str:
    """A random secret made on first start and shared by every instance through the database."""
    await conn.execute(INSERT_SECRET_IF_MISSING, name, secrets.token_urlsafe(48))
    return str(await conn.fetchval(GET_SECRET, name))


def prepare_installation(settings: Settings) -> str:
    """Migrate and seed; returns the active system API key."""
    upgrade_schema(settings.database_url)
    defaults = RateLimits(settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute)

    async def seed(conn: Connection) -> str:
        await ensure_rate_limits(conn, defaults)
        generated = await ensure_secret(conn, SECRET_KEY_NAME)
        await ensure_current_key(conn, settings.secret_key or generated)
        return await ensure_api_key(conn)

    api_key = run_in_transaction(settings, seed)
    if settings.admin_username and settings.admin_password:
        ensure_first_admin(settings.database_url, settings.admin_username, settings.admin_password)
    return api_key


async def sealing_secret(conn: Connection, settings: Settings) -> str:
    """SECRET_KEY from the environment, else the one generated on first start."""
    return settings.secret_key or await ensure_secret(conn, SECRET_KEY_NAME)


def secret_key(settings: Settings) -> str:
    """SECRET_KEY from the environment, else the one generated on first start."""
    if settings.secret_key:
        return settings.secret_key
    return run_in_transaction(settings, lambda conn: sealing_secret(conn, settings))


def ensure_first_admin(database_url: str, username: str, password: str) -> None:
    """ADMIN_USERNAME / ADMIN_PASSWORD create the first admin, only while there is none."""
    from sqlalchemy import func, select, text
    from sqlalchemy.exc import IntegrityError

    from licenseserver.db.models import AdminUser
    from licenseserver.db.unit_of_work import run_in_orm_transaction
    from licenseserver.domain.staff.service import create_admin

    async def create_if_none(session: AsyncSession) -> None:
        if session.get_bind().dialect.name == "postgresql":
            # Instances starting together would all count none and insert: they queue here.
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_ADMIN_LOCK_KEY})
        if not await session.scalar(select(func.count()).select_from(AdminUser)):
            await create_admin(session, username, password)

    # On SQLite another process starting at the same moment may still win the insert: then it is done.
    with contextlib.suppress(IntegrityError):
        run_in_orm_transaction(database_url, create_if_none)
