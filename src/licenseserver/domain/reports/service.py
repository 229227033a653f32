"""Figures for the dashboard, each one aggregate query in the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Activation, ClientSession, Customer, License
from licenseserver.domain.licensing.rules import expired_condition, expiring_soon_condition, usable_condition
from licenseserver.domain.licensing.session_rules import live_condition
from licenseserver.kit.timefmt import utc_today


@dataclass(frozen=True, slots=True)
class DashboardCounts:
    customers: int
    active_licenses: int
    expired_licenses: int
    expiring_soon: int
    devices: int
    live_sessions: int


async def dashboard_counts(session: AsyncSession) -> DashboardCounts:
    """The licenses are counted by licensing/rules.py's conditions (the list's state filters, which
    the figures link to); live sessions by the database clock and the current client's timeout."""
    today = utc_today()
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(Customer).scalar_subquery(),
                select(func.count()).select_from(License).where(usable_condition(today)).scalar_subquery(),
                select(func.count()).select_from(License).where(expired_condition(today)).scalar_subquery(),
                select(func.count()).select_from(License).where(expiring_soon_condition(today)).scalar_subquery(),
                select(func.count()).select_from(Activation).where(Activation.is_active).scalar_subquery(),
                select(func.count()).select_from(ClientSession).where(live_condition()).scalar_subquery(),
            )
        )
    ).one()
    return DashboardCounts(*(int(value or 0) for value in row))
