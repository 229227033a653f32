"""The panel's charts of the figures in domain/reports: names and labels in the staff member's
language (the catalogs; the charts are drawn after the request's language is set), one id per
chart (its patterns' ids start with it), the accessible name the browser tests look for."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.admin.charts.bars import Bar, Series, bar_chart, stacked_bar_chart
from licenseserver.admin.charts.lines import Point, line_chart
from licenseserver.admin.i18n import format_day_month, gettext
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.labels import INSTITUTION_TYPES, label
from licenseserver.domain.reports import breakdowns, trends
from licenseserver.domain.reports.periods import Period

STATE_LABELS = {
    "active": _l("Aktiv"),
    "expiring": _l("Läuft bald ab"),
    "not_yet_valid": _l("Noch nicht gültig"),
    "expired": _l("Abgelaufen"),
    "inactive": _l("Deaktiviert"),
}
LICENSES_BY_STATE = _l("Lizenzen nach Status")
EXPIRING = _l("Ablaufende Lizenzen je Kalenderwoche, nächste %(days)s Tage")
ACTIVATIONS = _l("Neue Aktivierungen je Kalenderwoche, letzte %(weeks)s Wochen")
SESSIONS = _l("Gestartete Sitzungen pro Tag, letzte %(days)s Tage")
LEADS = _l("Leads nach Typ und Status")


@dataclass(frozen=True, slots=True)
class DashboardCharts:
    licenses_by_state: Markup
    expiring: Markup
    activations: Markup
    sessions: Markup


def week_label(period: Period) -> str:
    return gettext("KW %(week)s") % {"week": period.iso_week}


def day_label(period: Period) -> str:
    return format_day_month(period.start)


async def dashboard_charts(session: AsyncSession) -> DashboardCharts:
    states = await breakdowns.licenses_by_state(session)
    # Each state in its own fill, so the columns differ by pattern as well as by name.
    state_bars = [Bar(str(STATE_LABELS[state]), count, fill) for fill, (state, count) in enumerate(states.items())]
    expiring = [Bar(week_label(p), p.count) for p in await trends.expiring_per_week(session)]
    activations = [Bar(week_label(p), p.count) for p in await trends.activations_per_week(session)]
    sessions = [Point(day_label(p), p.count) for p in await trends.sessions_per_day(session)]
    return DashboardCharts(
        licenses_by_state=bar_chart("chart-license-states", str(LICENSES_BY_STATE), state_bars),
        # Each title names its window from the figure's own constant (domain/reports/trends.py).
        expiring=bar_chart("chart-expiring", str(EXPIRING) % {"days": trends.EXPIRY_DAYS}, expiring),
        activations=bar_chart("chart-activations", str(ACTIVATIONS) % {"weeks": trends.ACTIVATION_WEEKS}, activations),
        sessions=line_chart("chart-sessions", str(SESSIONS) % {"days": trends.SESSION_DAYS}, sessions),
    )


async def leads_chart(session: AsyncSession) -> Markup:
    counts = await breakdowns.leads_by_type_and_status(session)
    types = list(counts.customers)
    series = [
        Series(gettext("Kunde geworden"), [counts.customers[t] for t in types]),
        Series(gettext("Offen"), [counts.open[t] for t in types]),
    ]
    return stacked_bar_chart("chart-leads", str(LEADS), [label(INSTITUTION_TYPES, t) for t in types], series)
