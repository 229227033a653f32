"""Rows with known dates for the chart and device-list tests: licenses in every state, devices
activated and sessions started at given ages, leads of every type and status."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientSession, LeadInstitution
from licenseserver.db.unit_of_work import run_in_orm_transaction
from tests.support.world import TestWorld

# Devices are activated this many minutes before their age in days.
DEVICE_AGE_MINUTES = 10


def add_licenses_in_every_state(world: TestWorld, today: date) -> dict[str, int]:
    """Licenses whose states and end dates the tests know; their ids by name."""
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    shapes = {
        "open-1": {},
        "open-2": {},
        "open-3": {},
        "soon-1": {"valid_until": days(10)},
        "soon-2": {"valid_until": days(10)},
        "in-60": {"valid_until": days(60)},
        "in-120": {"valid_until": days(120)},
        "ended": {"valid_from": days(-400), "valid_until": days(-1)},
        "off": {"valid_until": days(20), "is_active": False},
        "later": {"valid_from": days(5), "valid_until": days(40)},
    }
    ids = {}
    for name, values in shapes.items():
        key = world.license(license_type="subscription", **{"valid_from": days(-30), **values})
        ids[name] = int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))
    return ids


def add_devices(world: TestWorld, license_id: int, ages_in_days: list[int], active: bool = True) -> None:
    """One device per age, activated that many days ago; machine names DEV-<license>-<n>, n
    counting on from the license's devices already there."""
    first = int(world.scalar("SELECT count(*) FROM activations WHERE license_id = :i", i=license_id))

    async def add(session: AsyncSession) -> None:
        now = datetime.now().astimezone()
        for number, age in enumerate(ages_in_days, start=first):
            session.add(
                Activation(
                    license_id=license_id,
                    hardware_hash=f"{license_id:04d}{number:04d}" + "ab" * 30,
                    machine_name=f"DEV-{license_id}-{number}",
                    app_version="2.1.0",
                    activated_at=now - timedelta(days=age, minutes=DEVICE_AGE_MINUTES),
                    last_heartbeat=now - timedelta(minutes=5),
                    is_active=active,
                    deactivated_at=None if active else now,
                )
            )

    run_in_orm_transaction(world.database_url, add)


def add_sessions(world: TestWorld, license_id: int, ages_in_days: list[int]) -> None:
    """One ended session per age, started that many days ago."""

    async def add(session: AsyncSession) -> None:
        now = datetime.now().astimezone()
        for number, age in enumerate(ages_in_days):
            started = now - timedelta(days=age)
            session.add(
                ClientSession(
                    session_token=f"tok-{license_id}-{number}",
                    license_id=license_id,
                    hardware_hash="hw",
                    started_at=started,
                    last_heartbeat=started,
                    ended_at=started + timedelta(minutes=1),
                    end_reason="normal",
                )
            )

    run_in_orm_transaction(world.database_url, add)


def add_leads(world: TestWorld, customer_id: int, shapes: list[tuple[str, bool]]) -> None:
    """One institution per (type, became a customer?)."""

    async def add(session: AsyncSession) -> None:
        for number, (institution_type, linked) in enumerate(shapes):
            session.add(
                LeadInstitution(
                    name=f"Institution {number}",
                    institution_type=institution_type,
                    customer_id=customer_id if linked else None,
                )
            )

    run_in_orm_transaction(world.database_url, add)
