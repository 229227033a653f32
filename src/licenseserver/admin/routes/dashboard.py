"""The dashboard: the state of the installation at a glance, in figures and charts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.charts.reports import dashboard_charts
from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.rendering import render
from licenseserver.domain.licensing.rules import EXPIRING_SOON_DAYS
from licenseserver.domain.reports.service import dashboard_counts

router = APIRouter()


@router.get("/")
async def dashboard(request: Request, db: Db, staff: Staff) -> Response:
    context = {
        "counts": await dashboard_counts(db),
        "charts": await dashboard_charts(db),
        "expiring_days": EXPIRING_SOON_DAYS,  # the licensing rule's "expiring soon", named in the label
    }
    return render(request, "dashboard.html", context)
