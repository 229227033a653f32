"""Fixtures for the management API (/api/v1/): the License API app in-process without the system
key, and tokens made by the domain service the CLI and the panel use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.installation import secret_key
from licenseserver.domain.tokens.service import NewToken, TokenCreate, create_token
from tests.conftest import LiveServer
from tests.support.world import TestWorld

V1 = "/api/v1"


def make_token(world: TestWorld, name: str = "shop", scope: str = "write", expires_days: int | None = None) -> NewToken:
    secret = secret_key(world.settings())
    data = TokenCreate(name=name, scope=scope, expires_days=expires_days)  # type: ignore[arg-type]
    return run_in_orm_transaction(world.database_url, lambda session: create_token(session, secret, data, "test"))


def bearer(token: NewToken | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token if isinstance(token, str) else token.token}"}


@dataclass
class Management:
    """The management API as a shop calls it: every request with one token."""

    client: TestClient
    token: NewToken

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**bearer(self.token), **kwargs.pop("headers", {})}
        return self.client.request(method, V1 + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@pytest.fixture
def client(world: TestWorld) -> Iterator[TestClient]:
    """The License API app in-process, with no system key on its requests."""
    with TestClient(create_api_app(world.settings()), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def shop(world: TestWorld, client: TestClient) -> Management:
    """A write token named "shop"."""
    return Management(client, make_token(world, "shop", "write"))


@pytest.fixture
def reader(world: TestWorld, client: TestClient) -> Management:
    """A read token named "report"."""
    return Management(client, make_token(world, "report", "read"))


def audit_rows(world: TestWorld, entity_type: str) -> list[dict[str, Any]]:
    return world.rows(
        "SELECT actor, action, entity_type, entity_id, before, after FROM audit_log WHERE entity_type = :t ORDER BY id",
        t=entity_type,
    )


@pytest.fixture
def live_server_on() -> Iterator[Callable[[TestWorld], LiveServer]]:
    """Real License API processes on a given database (pg_world for PostgreSQL-only tests)."""
    started: list[LiveServer] = []

    def start(world: TestWorld) -> LiveServer:
        server = LiveServer(world)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
