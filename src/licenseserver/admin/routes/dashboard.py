"""The dashboard: the state of the installation at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff
from licenseserver.admin.rendering import render
from licenseserver.domain.reports.service import activations_per_day, dashboard_counts

router = APIRouter()
CHART_HEIGHT = 120


@router.get("/")
async def dashboard(request: Request, db: Db, staff: Staff) -> Response:
    series = await activations_per_day(db)
    peak = max((n for _, n in series), default=0) or 1
    bars = [
        {"day": day, "count": n, "height": round(CHART_HEIGHT * n / peak), "x": i * 14}
        for i, (day, n) in enumerate(series)
    ]
    context = {"counts": await dashboard_counts(db), "bars": bars, "chart_height": CHART_HEIGHT}
    return render(request, "dashboard.html", context)
