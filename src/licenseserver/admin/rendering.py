"""Jinja2 templates with the panel's filters: German dates in the display time zone."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from licenseserver.admin.state import admin_state
from licenseserver.kit.timefmt import as_utc

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def german_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%d.%m.%Y")


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    state = admin_state(request)
    staff = getattr(request.state, "staff", None)
    zone = state.timezone

    def local_time(value: datetime | None) -> str:
        return "–" if value is None else as_utc(value).astimezone(zone).strftime("%d.%m.%Y %H:%M")

    full = {
        "staff": staff.admin if staff else None,
        "csrf_token": staff.record.csrf_token if staff else getattr(request.state, "anonymous_csrf", ""),
        "local_time": local_time,
        "german_date": german_date,
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full, status_code=status_code)
