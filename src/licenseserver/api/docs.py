"""/docs: Swagger UI served from the package itself, so that an install without internet access
(or behind a proxy that blocks CDNs) still shows its API documentation. FastAPI's own /docs
loads the UI from a CDN and its favicon from FastAPI's site; ReDoc is switched off rather than
vendored too: one interactive page is enough, and every vendored file is one more to keep current.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

SWAGGER_UI_VERSION = "5.35.0"
ASSETS_PATH = "/docs/static"
ASSETS_DIR = Path(__file__).with_name("static") / "vendor" / f"swagger-ui-{SWAGGER_UI_VERSION}"
# Swagger UI shows a badge fetched from validator.swagger.io unless told not to.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def serve_docs_locally(app: FastAPI) -> None:
    """Call on an app created with docs_url=None and redoc_url=None."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-static")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    app.add_route("/docs", swagger_ui, include_in_schema=False)
