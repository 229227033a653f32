"""Figures over time for the dashboard's charts, each one grouped query in the database: at most
one row per day comes back, whatever the number of licenses, devices or sessions; the days are
gathered into weeks here (periods.py).

The windows end or start today (UTC): licenses ending in the next 90 days, devices activated and
sessions started in the last weeks or days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientSession, License
from licenseserver.domain.licensing.rules import usable_condition
from licenseserver.domain.reports.periods import Period, daily, monday_of, utc_day, weekly
from licenseserver.kit.timefmt import utc_today

EXPIRY_DAYS = 90
ACTIVATION_WEEKS = 13  # the current week and the twelve before it: about 90 days
SESSION_DAYS = 30


async def expiring_per_week(session: AsyncSession, days: int = EXPIRY_DAYS) -> list[Period]:
    """Usable licenses whose last valid day is today or within `days` days, per calendar week.

    The window on valid_until is the chart's (it lets the planner read the index
    ix_licenses_valid_until as one range); whether a license is usable is the licensing rule's."""
    today = utc_today()
    last = today + timedelta(days=days)
    query = (
        select(License.valid_until, func.count())
        .where(License.valid_until.between(today, last), usable_condition(today))
        .group_by(License.valid_until)
    )
    return weekly((await session.execute(query)).all(), today, last)


async def activations_per_week(session: AsyncSession, weeks: int = ACTIVATION_WEEKS) -> list[Period]:
    """Devices activated per calendar week (Monday to Sunday, UTC), the current week last;
    deactivated devices count in the week they were activated."""
    today = utc_today()
    first = monday_of(today) - timedelta(weeks=weeks - 1)
    day = utc_day(Activation.activated_at)
    query = select(day, func.count()).where(Activation.activated_at >= first).group_by(day)
    return weekly((await session.execute(query)).all(), first, today)


async def sessions_per_day(session: AsyncSession, days: int = SESSION_DAYS) -> list[Period]:
    """Sessions started per UTC day over the last `days` days, today last. Ended sessions stay
    in the table as history, so every start is counted."""
    today = utc_today()
    first = today - timedelta(days=days - 1)
    day = utc_day(ClientSession.started_at)
    query = select(day, func.count()).where(ClientSession.started_at >= first).group_by(day)
    return daily((await session.execute(query)).all(), first, today)
