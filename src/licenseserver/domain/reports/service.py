"""Figures for the dashboard, each one aggregate query in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientConfig, ClientSession, Customer, License
from licenseserver.kit.timefmt import utc_now, utc_today

SOON_DAYS = 30


@dataclass(frozen=True, slots=True)
class DashboardCounts:
    customers: int
    active_licenses: int
    expired_licenses: int
    expiring_soon: int
    devices: int
    live_sessions: int


async def dashboard_counts(session: AsyncSession) -> DashboardCounts:
    today = utc_today()
    usable = and_(
        License.is_active, License.valid_from <= today, or_(License.valid_until.is_(None), License.valid_until >= today)
    )
    timeout = await session.scalar(select(ClientConfig.session_timeout).order_by(ClientConfig.id).limit(1)) or 90
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(Customer).scalar_subquery(),
                select(func.count()).select_from(License).where(usable).scalar_subquery(),
                select(func.count()).select_from(License).where(License.valid_until < today).scalar_subquery(),
                select(func.count())
                .select_from(License)
                .where(usable, License.valid_until <= today + timedelta(days=SOON_DAYS))
                .scalar_subquery(),
                select(func.count()).select_from(Activation).where(Activation.is_active).scalar_subquery(),
                select(func.count())
                .select_from(ClientSession)
                .where(
                    ClientSession.ended_at.is_(None),
                    ClientSession.last_heartbeat >= utc_now() - timedelta(seconds=timeout),
                )
                .scalar_subquery(),
            )
        )
    ).one()
    return DashboardCounts(*(int(value or 0) for value in row))


async def activations_per_day(session: AsyncSession, days: int = 30) -> list[tuple[date, int]]:
    """New activations per UTC day over the last `days` days, zero-filled, oldest first."""
    first_day = utc_today() - timedelta(days=days - 1)
    day = func.date(Activation.activated_at)
    rows = await session.execute(select(day, func.count()).where(Activation.activated_at >= first_day).group_by(day))
    counts = {str(d): int(n) for d, n in rows}
    return [(first_day + timedelta(days=i), counts.get(str(first_day + timedelta(days=i)), 0)) for i in range(days)]
