"""Fixtures for the admin panel: an in-process client, logged out or logged in as staff."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.staff.service import create_admin
from tests.support.world import TestWorld

STAFF_USERNAME = "rac00n"
STAFF_PASSWORD = "1248163264"  # the reference's test credentials: fixtures only, never defaults
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def make_staff(world: TestWorld, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> None:
    run_in_orm_transaction(world.database_url, lambda session: create_admin(session, username, password))


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page carries no csrf-token meta"
    return match.group(1)


def log_in(client: TestClient, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def panel(world: TestWorld) -> Iterator[TestClient]:
    """The admin panel in-process, nobody logged in."""
    app = create_admin_app(world.settings(secret_key="test-secret-key-for-the-panel"))
    with TestClient(app, raise_server_exceptions=False, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def staff_panel(world: TestWorld, panel: TestClient) -> TestClient:
    """The admin panel with a staff member logged in; `panel.headers` carries the CSRF token."""
    make_staff(world)
    panel.headers["X-CSRF-Token"] = log_in(panel)
    return panel


def count_queries(client: TestClient, path: str) -> int:
    """How many SQL statements the panel runs to answer a GET (its ORM engine's cursor calls)."""
    engine = client.app.state.admin.engine.sync_engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
    assert response.status_code == 200
    return len(statements)
