"""The panel's charts of the figures in domain/reports: names and labels in German, one id per
chart (its patterns' ids start with it), the accessible name the browser tests look for."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.admin.charts.bars import Bar, Series, bar_chart, stacked_bar_chart
from licenseserver.admin.charts.lines import Point, line_chart
from licenseserver.domain.leads.schemas import TYPE_LABELS
from licenseserver.domain.reports import breakdowns, trends
from licenseserver.domain.reports.periods import Period

STATE_LABELS = {
    "active": "Aktiv",
    "expiring": "Läuft bald ab",
    "not_yet_valid": "Noch nicht gültig",
    "expired": "Abgelaufen",
    "inactive": "Deaktiviert",
}
LICENSES_BY_STATE = "Lizenzen nach Status"
EXPIRING = "Ablaufende Lizenzen je Kalenderwoche, nächste 90 Tage"
ACTIVATIONS = "Neue Aktivierungen je Kalenderwoche, letzte 13 Wochen"
SESSIONS = "Gestartete Sitzungen pro Tag, letzte 30 Tage"
LEADS = "Leads nach Typ und Status"


@dataclass(frozen=True, slots=True)
class DashboardCharts:
    licenses_by_state: Markup
    expiring: Markup
    activations: Markup
    sessions: Markup


def week_label(period: Period) -> str:
    return f"KW {period.iso_week}"


def day_label(period: Period) -> str:
    return period.start.strftime("%d.%m.")


async def dashboard_charts(session: AsyncSession) -> DashboardCharts:
    states = await breakdowns.licenses_by_state(session)
    # Each state in its own fill, so the columns differ by pattern as well as by name.
    state_bars = [Bar(STATE_LABELS[state], count, fill) for fill, (state, count) in enumerate(states.items())]
    expiring = [Bar(week_label(p), p.count) for p in await trends.expiring_per_week(session)]
    activations = [Bar(week_label(p), p.count) for p in await trends.activations_per_week(session)]
    sessions = [Point(day_label(p), p.count) for p in await trends.sessions_per_day(session)]
    return DashboardCharts(
        licenses_by_state=bar_chart("chart-license-states", LICENSES_BY_STATE, state_bars),
        expiring=bar_chart("chart-expiring", EXPIRING, expiring),
        activations=bar_chart("chart-activations", ACTIVATIONS, activations),
        sessions=line_chart("chart-sessions", SESSIONS, sessions),
    )


async def leads_chart(session: AsyncSession) -> Markup:
    counts = await breakdowns.leads_by_type_and_status(session)
    types = list(counts.customers)
    series = [
        Series("Kunde geworden", [counts.customers[t] for t in types]),
        Series("Offen", [counts.open[t] for t in types]),
    ]
    return stacked_bar_chart("chart-leads", LEADS, [TYPE_LABELS.get(t, t) for t in types], series)
