"""The admin panel application. Until the panel's pages land it answers a placeholder page, so
that `serve admin` and `serve all` already run the full process layout."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from licenseserver.config import Settings, get_settings

PLACEHOLDER = """<!doctype html><html lang="de"><head><meta charset="utf-8">
<title>Lizenzserver Administration</title></head>
<body><h1>Lizenzserver Administration</h1><p>Das Admin-Panel ist in Vorbereitung.</p></body></html>"""


def create_admin_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="V2 License Server — Admin panel", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def placeholder() -> str:
        return PLACEHOLDER

    return app
