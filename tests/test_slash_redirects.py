"""Trailing-slash redirects of both apps name a path only: a forged Host header cannot send a
client to another site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.api.app import create_api_app
from licenseserver.kit.slash_redirects import relative_location
from tests.support.world import TestWorld

HOSTILE = {"Host": "evil.example"}


@pytest.fixture(params=["api", "admin"])
def app(request: pytest.FixtureRequest, world: TestWorld) -> Iterator[FastAPI]:
    settings = world.settings(secret_key="test-secret-key-for-the-panel")
    yield create_api_app(settings) if request.param == "api" else create_admin_app(settings)


@pytest.mark.parametrize(
    ("path", "location"),
    [("/health/", "/health"), ("/health/?probe=1&x=%2F", "/health?probe=1&x=%2F")],
)
def test_a_slash_redirect_ignores_the_host_header(app: FastAPI, path: str, location: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(path, headers=HOSTILE, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location


def test_the_api_redirects_a_post_to_its_path_and_keeps_the_method(world: TestWorld) -> None:
    with TestClient(create_api_app(world.settings()), raise_server_exceptions=False) as client:
        client.headers.update({"X-API-Key": world.api_key, **HOSTILE})
        redirect = client.post("/api/license/verify/", json={}, follow_redirects=False)
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/api/license/verify")
        # Control characters in the path are percent-encoded, never a header line of their own.
        odd = client.get("/api/license/info/AB%0d%0aSet-Cookie:%20a=b/", follow_redirects=False)
        assert odd.status_code == 307
        assert odd.headers["location"] == "/api/license/info/AB%0D%0ASet-Cookie:%20a=b"
        assert "set-cookie" not in odd.headers


def test_the_panel_redirects_to_its_slashed_page(world: TestWorld) -> None:
    with TestClient(create_admin_app(world.settings(secret_key="k" * 32)), raise_server_exceptions=False) as client:
        response = client.get("/leads?page=2", headers=HOSTILE, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/leads/?page=2")


def test_a_location_never_reads_as_another_host() -> None:
    assert relative_location("//evil.example/x", b"") is None
    assert relative_location("/\\evil.example", b"") == "/%5Cevil.example"
    assert relative_location("/a b?#", b"q=1") == "/a%20b%3F%23?q=1"
