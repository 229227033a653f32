"""Counts by group for the charts: licenses by the state the panel shows them in, leads by
institution type and status. Each is one GROUP BY in the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import LeadInstitution
from licenseserver.db.models.leads import INSTITUTION_TYPES
from licenseserver.domain.licensing.rules import LicenseState, state_column
from licenseserver.kit.timefmt import utc_today

# The order the chart shows them in: the usable ones first.
LICENSE_STATES: tuple[LicenseState, ...] = ("active", "expiring", "not_yet_valid", "expired", "inactive")


async def licenses_by_state(session: AsyncSession) -> dict[LicenseState, int]:
    """Every license counted once, in the one state the list shows for it (licensing's
    `license_state`, in SQL `state_column`); every state listed, 0 when none."""
    state = state_column(utc_today())
    rows = await session.execute(select(state, func.count()).group_by(state))
    counts: dict[LicenseState, int] = dict.fromkeys(LICENSE_STATES, 0)
    for name, count in rows:
        counts[name] = int(count)  # type: ignore[index]
    return counts


@dataclass(frozen=True, slots=True)
class LeadCounts:
    """Institutions per type: those that became a customer (linked to one) and those still open."""

    customers: dict[str, int]
    open: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.customers.values()) + sum(self.open.values())


async def leads_by_type_and_status(session: AsyncSession) -> LeadCounts:
    """Every institution type listed (0 when none); status "customer" when the lead is linked to a
    customer (the same link the conversion rate counts), else "open"."""
    is_customer = LeadInstitution.customer_id.is_not(None)
    query = select(LeadInstitution.institution_type, is_customer, func.count()).group_by(
        LeadInstitution.institution_type, is_customer
    )
    counts = LeadCounts(dict.fromkeys(INSTITUTION_TYPES, 0), dict.fromkeys(INSTITUTION_TYPES, 0))
    for institution_type, customer, count in (await session.execute(query)).all():
        (counts.customers if customer else counts.open)[institution_type] = int(count)
    return counts
