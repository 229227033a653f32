"""405 for a method a management path does not take, naming every method it does take.

Starlette answers a wrong method from the first route whose path matches, so on a path served by
two routes (GET and POST /api/v1/customers) its `Allow` named one route's methods only. A hidden
route per path, added after the real ones, takes every other standard method and answers with
the full list (RFC 9110, 15.5.6); the fuzzing (tests/fuzz) checks `Allow` against the document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from licenseserver.kit.errors import ErrorCode, error_body
from licenseserver.kit.jsonresp import JsonResponse

STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _refusal(allowed: str) -> Callable[[Request], Awaitable[Response]]:
    async def method_not_allowed(_request: Request) -> Response:
        body = error_body(405, ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed")
        return JsonResponse(body, status_code=405, headers={"Allow": allowed})

    return method_not_allowed


def method_refusals(routers: Iterable[APIRouter]) -> APIRouter:
    by_path: dict[str, set[str]] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                by_path.setdefault(route.path, set()).update(route.methods or ())
    refusals = APIRouter()
    for path, methods in by_path.items():
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        others = [method for method in STANDARD_METHODS if method not in allowed]
        listed = ", ".join(method for method in STANDARD_METHODS if method in allowed)
        refusals.add_api_route(path, _refusal(listed), methods=others, include_in_schema=False)
    return refusals
