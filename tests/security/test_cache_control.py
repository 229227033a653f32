"""No answer of the panel may be kept by a browser or proxy cache: the pages show the system API
key, a TOTP secret and customer data. Every GET route of the router is fetched logged in."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.security.conftest import Ids
from tests.security.panel_routes import concrete_path, get_routes
from tests.support.world import TestWorld

# Parameters a route cannot answer without.
REQUIRED_QUERY = {"/api/global-search": "?q=Ohne", "/api/resources/check-availability": "?type=domain"}


def test_every_get_route_answers_no_store(world: TestWorld, staff_panel: TestClient, seeded: Ids) -> None:
    missing = []
    routes = get_routes(staff_panel.app)  # type: ignore[arg-type]
    for route in routes:
        url = concrete_path(route, seeded) + REQUIRED_QUERY.get(route.path, "")
        response = staff_panel.get(url, follow_redirects=False)
        assert response.status_code < 400, (url, response.status_code, response.text[:200])
        if response.headers.get_list("cache-control") != ["no-store"]:
            missing.append((url, response.headers.get_list("cache-control")))
    assert missing == []
    assert {"/administration", "/account/totp", "/leads/export", "/api/customers"} <= {r.path for r in routes}


def test_errors_and_json_writes_answer_no_store(world: TestWorld, staff_panel: TestClient, seeded: Ids) -> None:
    answers = [
        staff_panel.get("/customers/999999/edit"),
        staff_panel.get("/api/license/999999/devices"),
        staff_panel.post("/api/generate-license-key"),
        staff_panel.post("/leads/api/contacts/{contact}/notes".format(**seeded), json={"content": "x"}),
    ]
    assert [r.headers.get_list("cache-control") for r in answers] == [["no-store"]] * len(answers)


def test_static_files_stay_cacheable(world: TestWorld, panel: TestClient) -> None:
    response = panel.get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
