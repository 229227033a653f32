"""Public endpoints (/, /health, /metrics) and the routing errors (CONTRACT.md §3, §5 "public")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.api.helpers import (
    ACTIVATE,
    INFO,
    SESSION_START,
    VERIFY,
    VERSION_LATEST,
    activate,
    activated_license,
    assert_error,
    end_session,
    live_session,
    metric,
    parse_utc,
    scrape,
    seconds_ago,
    start_session,
    verify,
)
from tests.conftest import make_client
from tests.support.world import TestWorld

PUBLIC = ("/", "/health", "/metrics")
UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def anonymous(api: TestClient) -> TestClient:
    """The same app, without an API key."""
    del api.headers["X-API-Key"]
    return api


@pytest.fixture
def no_database(pg_world: TestWorld) -> Iterator[TestClient]:
    """The License API started while its database does not answer."""
    with make_client(pg_world, database_url=UNREACHABLE_DATABASE) as client:
        yield client


# --- / and /health -------------------------------------------------------------------------------


def test_root_reports_the_service(world: TestWorld, anonymous: TestClient) -> None:
    response = anonymous.get("/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "service", "timestamp"}
    assert body["status"] == "ok"
    assert body["service"] == "V2 License Server"
    assert abs(seconds_ago(parse_utc(body["timestamp"]))) < 60


def test_health_is_healthy_with_a_database(world: TestWorld, anonymous: TestClient) -> None:
    response = anonymous.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert abs(seconds_ago(parse_utc(body["timestamp"]))) < 60


def test_public_endpoints_need_no_key(world: TestWorld, anonymous: TestClient) -> None:
    for path in PUBLIC:
        assert anonymous.get(path).status_code == 200, path
        assert anonymous.get(path, headers={"X-API-Key": "wrong"}).status_code == 200, path


def test_health_is_503_unhealthy_when_the_database_does_not_answer(no_database: TestClient) -> None:
    response = no_database.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    parse_utc(body["timestamp"])


def test_root_and_metrics_still_answer_without_a_database(no_database: TestClient) -> None:
    assert no_database.get("/").json()["status"] == "ok"
    assert no_database.get("/metrics").status_code == 200


def test_api_without_a_database_answers_503_with_the_error_body(no_database: TestClient) -> None:
    for response in (
        no_database.get(VERSION_LATEST),
        no_database.post(VERIFY, json={"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1"}),
    ):
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert int(response.headers["Retry-After"]) >= 1


# --- routing errors ------------------------------------------------------------------------------


def test_unknown_route_is_404_not_found(world: TestWorld, api: TestClient) -> None:
    for path in ("/nope", "/api/license/nope", "/api/license/info", "/api/version", "/api/license/info/A/B"):
        assert_error(api.get(path), 404, "NOT_FOUND")


def test_unknown_public_route_is_404_without_a_key(world: TestWorld, anonymous: TestClient) -> None:
    assert_error(anonymous.get("/does/not/exist"), 404, "NOT_FOUND")


def test_wrong_method_is_405(world: TestWorld, api: TestClient) -> None:
    cases = [
        ("GET", ACTIVATE, "POST"),
        ("PUT", VERIFY, "POST"),
        ("DELETE", SESSION_START, "POST"),
        ("POST", VERSION_LATEST, "GET"),
        ("POST", "/health", "GET"),
        ("DELETE", "/", "GET"),
    ]
    before = world.snapshot()

    for method, path, allowed in cases:
        response = api.request(method, path)

        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert allowed in response.headers["Allow"]
    assert world.snapshot() == before


# --- /metrics ------------------------------------------------------------------------------------


def test_metrics_is_prometheus_text(world: TestWorld, anonymous: TestClient) -> None:
    response = anonymous.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name, kind in (
        ("licenseserver_http_requests", "counter"),
        ("licenseserver_http_request_duration_seconds", "histogram"),
        ("licenseserver_activations", "counter"),
        ("licenseserver_verifications", "counter"),
        ("licenseserver_sessions_started", "counter"),
        ("licenseserver_sessions_refused", "counter"),
        ("licenseserver_sessions_ended", "counter"),
        ("licenseserver_rate_limited", "counter"),
        ("licenseserver_sessions_live", "gauge"),
    ):
        assert f"# TYPE {name} {kind}" in response.text or f"# TYPE {name}_total {kind}" in response.text, name


def test_requests_are_counted_by_route_template_never_by_raw_key(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    unknown = "QQQQ-WWWW-EEEE-RRRR"
    template = "/api/license/info/{license_key}"
    labels = {"app": "api", "method": "GET", "route": template}
    before = scrape(api)

    assert api.get(INFO.format(key=key)).status_code == 200
    assert api.get(INFO.format(key=unknown)).status_code == 404
    assert api.get("/api/no/such/route").status_code == 404
    after = scrape(api)

    sample = "licenseserver_http_requests_total"
    assert metric(after, sample, status="200", **labels) - metric(before, sample, status="200", **labels) == 1
    assert metric(after, sample, status="404", **labels) - metric(before, sample, status="404", **labels) == 1
    latency = "licenseserver_http_request_duration_seconds_count"
    assert metric(after, latency, app="api", route=template) - metric(before, latency, app="api", route=template) == 2
    for raw in (key, unknown, "/api/no/such/route"):
        assert raw not in after


def test_activations_and_verifications_are_counted_by_result(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    before = scrape(api)

    activate(api, key, "hw-1")  # created
    activate(api, key, "hw-1")  # refreshed
    activate(api, key, "hw-2")  # refused: limit
    verify(api, key, "hw-1")  # valid
    verify(api, key, "hw-2")  # device not activated
    verify(api, "AAAA-BBBB-CCCC-DDDD")  # unknown license
    after = scrape(api)

    def delta(sample: str, result: str) -> float:
        return metric(after, sample, result=result) - metric(before, sample, result=result)

    assert delta("licenseserver_activations_total", "created") == 1
    assert delta("licenseserver_activations_total", "refreshed") == 1
    assert delta("licenseserver_activations_total", "ACTIVATION_LIMIT_REACHED") == 1
    assert delta("licenseserver_verifications_total", "valid") == 1
    assert delta("licenseserver_verifications_total", "DEVICE_NOT_ACTIVATED") == 1
    assert delta("licenseserver_verifications_total", "LICENSE_NOT_FOUND") == 1


def test_sessions_are_counted_started_refused_ended_and_live(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    before = scrape(api)
    assert metric(before, "licenseserver_sessions_live") == 0

    token = start_session(api, key, "hw-1").json()["session_token"]
    assert start_session(api, key, "hw-1").status_code == 409
    during = scrape(api)
    assert end_session(api, token).status_code == 200
    after = scrape(api)

    assert metric(during, "licenseserver_sessions_live") == 1
    assert metric(after, "licenseserver_sessions_live") == 0
    started = "licenseserver_sessions_started_total"
    assert metric(after, started) - metric(before, started) == 1
    refused = "licenseserver_sessions_refused_total"
    assert metric(after, refused, code="SESSION_CONFLICT") - metric(before, refused, code="SESSION_CONFLICT") == 1
    ended = "licenseserver_sessions_ended_total"
    assert metric(after, ended, reason="normal") - metric(before, ended, reason="normal") == 1


def test_live_sessions_gauge_ignores_timed_out_sessions(world: TestWorld, api: TestClient) -> None:
    _, token = live_session(world, api)
    assert metric(scrape(api), "licenseserver_sessions_live") == 1

    world.age_session(token, 120)

    assert metric(scrape(api), "licenseserver_sessions_live") == 0
