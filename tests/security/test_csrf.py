"""Every state-changing route of the panel, taken from the router, refuses a request without its
CSRF token and with a wrong one: 403 CSRF_FAILED (JSON) or the 403 page, and the database is
unchanged. The same request with the right token does change it, so the refusal is what kept
the data as it was."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.admin.conftest import csrf_of
from tests.api.helpers import assert_error
from tests.security.conftest import Ids, seed_everything
from tests.security.panel_routes import UNSAFE, Unsafe, unsafe_routes
from tests.support.world import TestWorld


def test_the_table_covers_exactly_the_routers_state_changing_routes(staff_panel: TestClient) -> None:
    from_router = unsafe_routes(staff_panel.app)  # type: ignore[arg-type]
    assert sorted(from_router - set(UNSAFE)) == [], "state-changing routes without an entry in panel_routes.UNSAFE"
    assert sorted(set(UNSAFE) - from_router) == [], "entries in panel_routes.UNSAFE the router does not serve"


def send(panel: TestClient, method: str, call: Unsafe, ids: Ids, token: str | None) -> Any:
    """The table's request; the token (if any) where a browser puts it: the form field for
    forms, the X-CSRF-Token header for the JSON endpoints."""
    body, url = call.body(ids), call.concrete_url(ids)
    if call.kind == "json":
        headers = {"X-CSRF-Token": token} if token is not None else {}
        return panel.request(method, url, json=body, headers=headers, follow_redirects=False)
    fields = {"csrf_token": token} if token is not None else {}
    if call.kind == "upload":
        files = {name: ("leads.csv", value) for name, value in body.items()}
        return panel.request(method, url, data=fields, files=files, follow_redirects=False)
    return panel.request(method, url, data={**body, **fields}, follow_redirects=False)


def assert_csrf_refusal(response: Any, call: Unsafe) -> None:
    if call.kind == "json":
        assert_error(response, 403, "CSRF_FAILED")
    else:
        assert response.status_code == 403, response.text[:300]
        assert response.headers["content-type"].startswith("text/html")
        assert "Zugriff verweigert" in response.text


@pytest.mark.parametrize(("method", "path"), sorted(UNSAFE))
def test_state_changing_route_refuses_missing_and_wrong_csrf_token(
    world: TestWorld, staff_panel: TestClient, method: str, path: str
) -> None:
    call = UNSAFE[(method, path)]
    ids = seed_everything(world, staff_panel)
    right = staff_panel.headers.pop("X-CSRF-Token")
    before = world.snapshot()
    for token in (None, "wrong-" + right[6:], ""):
        assert_csrf_refusal(send(staff_panel, method, call, ids, token), call)
    assert world.snapshot() == before
    if not call.changes:
        return
    if call.url == "/login":  # the log-in form's token belongs to the logged-out browser
        staff_panel.cookies.clear()
        right = csrf_of(staff_panel.get("/login").text)
    accepted = send(staff_panel, method, call, ids, right)
    assert accepted.status_code < 400, accepted.text[:300]
    assert world.snapshot() != before, "the table's request changes nothing: the refusal proves nothing"
