"""Trailing-slash redirects that name only a path.

Starlette's own (`redirect_slashes`) build an absolute URL from the request's `Host` header, so a
request with a forged Host is sent to any site the sender likes (and a cache in front may keep
that answer for everyone). A path-only `Location` (RFC 9110 allows a relative reference) sends
the client back to the host it already talks to, behind any proxy and under any name, with no
list of host names to configure and nothing spent on requests that match a route.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

# RFC 3986 path characters stay as they are; everything else ("?", "#", "%", "\", controls) is
# percent-encoded so that it cannot end the path or start a header line.
_PATH_SAFE = "/:@!$&'()*+,;=~"


def relative_location(path: str, query_string: bytes) -> str | None:
    """The Location for `path`, or None when it would read as another host (`//host/...`)."""
    location = quote(path, safe=_PATH_SAFE)
    if location.startswith("//"):
        return None
    return f"{location}?{query_string.decode('latin-1')}" if query_string else location


class SlashRedirect:
    """The router's fallback: a path that matches a route once its trailing slash is added or
    removed is redirected there (307, method and body kept); anything else is the router's 404."""

    def __init__(self, router: Router, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        location = self._location(scope) if scope["type"] == "http" else None
        if location is None:
            await self.fallback(scope, receive, send)
            return
        await RedirectResponse(location, status_code=307)(scope, receive, send)

    def _location(self, scope: Scope) -> str | None:
        path: str = scope["path"]
        if path == "/":
            return None
        other = {**scope, "path": path.rstrip("/") if path.endswith("/") else path + "/"}
        if not any(route.matches(other)[0] is not Match.NONE for route in self.router.routes):
            return None
        return relative_location(other["path"], scope.get("query_string", b""))


def use_relative_slash_redirects(app: Starlette) -> None:
    router = app.router
    router.redirect_slashes = False
    router.default = SlashRedirect(router, router.default)
