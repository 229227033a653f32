"""GET /health of the admin panel: what load balancers and Kubernetes probes ask."""

from __future__ import annotations

from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from tests.api.helpers import parse_utc, seconds_ago
from tests.support.world import TestWorld

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"


def test_health_answers_without_a_login(world: TestWorld, panel: TestClient) -> None:
    response = panel.get("/health", follow_redirects=False)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp"} and body["status"] == "healthy"
    assert abs(seconds_ago(parse_utc(body["timestamp"]))) < 60
    assert "set-cookie" not in response.headers  # a probe starts no session


def test_health_is_503_when_the_database_does_not_answer(pg_world: TestWorld) -> None:
    settings = pg_world.settings(secret_key="test-secret-key-for-the-panel", database_url=UNREACHABLE_DATABASE)
    with TestClient(create_admin_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy" and response.json()["database"] == "unreachable"
