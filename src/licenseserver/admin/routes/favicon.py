"""The panel's icon. Pages link /static/favicon.svg; browsers that ask for /favicon.ico on their
own (bookmarks, older ones) get the same SVG there instead of a 404 in the log."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

router = APIRouter()
FAVICON = Path(__file__).parent.parent / "static" / "favicon.svg"


@router.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
async def favicon() -> Response:
    return FileResponse(FAVICON, media_type="image/svg+xml")
