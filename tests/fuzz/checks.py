"""Checks of our own contract, run beside schemathesis's: the error body of CONTRACT.md §3."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, CheckFunction, Response


@schemathesis.check
def error_body_matches_status(_ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every JSON error answer carries its own HTTP status in `status`, and no stack trace."""
    if response.status_code < 400 or not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return None
    if case.operation.path == "/health":
        return None  # its 503 is the health report `{"status": "unhealthy", ...}` (CONTRACT.md §5)
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert body.get("status") == response.status_code, f"body status {body.get('status')} on a {response.status_code}"
    assert "Traceback" not in response.text, "a stack trace in an error body"
    return True


OUR_CHECKS: list[CheckFunction] = [error_body_matches_status]
