"""What the state machine drives besides the License API: staff actions through the panel's own
domain services, and the passing of time.

Staff actions run in an ORM transaction on the event loop of the TestClient's portal, the loop
the API app itself runs on, so one async engine serves the whole run (a new engine per action
would cost a connection each time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from licenseserver.db.engine import make_async_engine
from licenseserver.db.unit_of_work import make_sessionmaker, sql_connection
from licenseserver.domain.api_key.service import regenerate_api_key
from licenseserver.domain.customers.service import CustomerCreate, create_customer
from licenseserver.domain.licensing.staff_devices import deactivate_device
from licenseserver.domain.licensing.staff_edits import LicenseCreate, create_license
from tests.support.database import TEST_API_KEY
from tests.support.world import TestWorld

T = TypeVar("T")

# Every stored moment the licensing rules compare with "now" or "today".
TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "sessions": ("started_at", "last_heartbeat", "ended_at"),
    "activations": ("activated_at", "last_heartbeat", "deactivated_at"),
}
DATES: dict[str, tuple[str, ...]] = {"licenses": ("valid_from", "valid_until")}


class Staff:
    """The panel's domain services, each call one committed (or rolled back) transaction."""

    def __init__(self, portal: BlockingPortal, database_url: str) -> None:
        self._portal = portal
        self._database_url = database_url
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    async def _in_transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if self._sessions is None:
            self._engine = make_async_engine(self._database_url)
            self._sessions = make_sessionmaker(self._engine)
        async with self._sessions.begin() as session:
            return await work(session)

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return self._portal.call(self._in_transaction, work)

    def close(self) -> None:
        if self._engine is not None:
            self._portal.call(self._engine.dispose)

    def create_licenses(self, specs: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """(id, key) of a license per spec, for one new customer."""

        async def work(session: AsyncSession) -> list[tuple[int, str]]:
            customer = await create_customer(session, CustomerCreate(name="Machine GmbH", email="machine@example.com"))
            made = []
            for spec in specs:
                created = await create_license(session, LicenseCreate(customer_id=customer.id, **spec))
                made.append((created.id, created.license_key))
            return made

        return self.run(work)

    def deactivate_device(self, license_id: int, device_id: int) -> None:
        async def work(session: AsyncSession) -> None:
            await deactivate_device(session, license_id, device_id)

        self.run(work)

    def regenerate_api_key(self) -> str:
        """As "System-API-Key generieren" does it (admin/routes/administration.py)."""

        async def work(session: AsyncSession) -> str:
            return await regenerate_api_key(await sql_connection(session))

        return self.run(work)


def reset(world: TestWorld) -> None:
    """Back to the seeded database: no customers, licenses, devices or sessions; the test key."""
    with world.engine.begin() as conn:
        for table in ("sessions", "activations", "licenses", "customers", "audit_log"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE system_api_key SET api_key = :k WHERE id = 1"), {"k": TEST_API_KEY})


def move_into_past(world: TestWorld, seconds: int, days: int = 0) -> None:
    """Move every stored moment `seconds` (and every stored date `days`) into the past.

    For the rules this is the same as time passing: each of them compares a stored moment with
    the database's clock, or a stored date with today's UTC date, and none compares the clock
    with anything else. Moving every stored value back by the same amount keeps the distances
    between stored values (a session's duration) and lengthens the distance of each to "now" by
    exactly that amount, as waiting would. Dates move only by whole days: a step of seconds is
    time passing within one UTC day.
    """
    with world.engine.begin() as conn:
        for table, columns in TIMESTAMPS.items():
            conn.execute(text(f"UPDATE {table} SET {_shifted(world.backend, columns, 'seconds', seconds)}"))
        if days:
            for table, columns in DATES.items():
                conn.execute(text(f"UPDATE {table} SET {_shifted(world.backend, columns, 'days', days)}"))


def _shifted(backend: str, columns: tuple[str, ...], unit: str, amount: int) -> str:
    if backend == "postgresql":
        step = f"make_interval(secs => {amount})" if unit == "seconds" else str(amount)
        return ", ".join(f"{c} = {c} - {step}" for c in columns)
    # SQLite keeps moments as text in the SQL layer's own format (db/sql/, `{now}`), and
    # compares them as text: the shifted value must keep that format to the digit.
    if unit == "seconds":
        return ", ".join(f"{c} = strftime('%Y-%m-%d %H:%M:%f000', {c}, '-{amount} seconds')" for c in columns)
    return ", ".join(f"{c} = date({c}, '-{amount} days')" for c in columns)
