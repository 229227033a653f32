"""While PostgreSQL does not answer: the admin panel says 503 with Retry-After (its error page, or
the JSON error body on its JSON endpoints), never a 500 and never a hang; the License API's SQL
pool replaces connections the server ended and bounds its wait for a free one."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.admin.deps import SESSION_COOKIE
from licenseserver.db.sql import DATABASE_UNAVAILABLE, Query, open_database
from licenseserver.db.urls import PoolLimits
from tests.support.world import TestWorld

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
BACKEND_PID = Query("SELECT pg_backend_pid() AS pid")


@pytest.fixture
def panel_without_database(pg_world: TestWorld) -> Iterator[TestClient]:
    settings = pg_world.settings(database_url=UNREACHABLE_DATABASE, secret_key="test-secret-key-for-the-panel")
    with TestClient(create_admin_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_panel_answers_503_with_retry_after_while_the_database_is_away(panel_without_database: TestClient) -> None:
    panel = panel_without_database
    form = panel.get("/login")
    assert form.status_code == 200  # the form itself needs no database
    csrf = CSRF_META.search(form.text)
    assert csrf

    started = time.monotonic()
    page = panel.post("/login", data={"username": "chef", "password": "secret-pw", "csrf_token": csrf.group(1)})
    panel.cookies.set(SESSION_COOKIE, "some-session")
    json_answer = panel.get("/api/customers")
    elapsed = time.monotonic() - started

    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    assert "Vorübergehend nicht verfügbar" in page.text
    assert json_answer.status_code == 503
    assert json_answer.json() == {
        "error": "Database temporarily unavailable, retry shortly",
        "code": "SERVICE_UNAVAILABLE",
        "status": 503,
    }
    for response in (page, json_answer):
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["X-Request-ID"]
    assert elapsed < 10, "a refused connection must be answered at once"


def test_lean_pool_replaces_a_connection_the_server_ended(pg_world: TestWorld) -> None:
    """A backend ended under the pool (as a restart ends all of them) fails at most the one
    request that used it, with an error counted as "database unavailable"; the next gets a new one."""

    async def scenario() -> None:
        db = open_database(pg_world.database_url, PoolLimits(size=1))
        await db.open()
        try:
            async with db.autocommit() as conn:
                first_backend = await conn.fetchval(BACKEND_PID)
            pg_world.execute("SELECT pg_terminate_backend(:pid)", pid=first_backend)
            await asyncio.sleep(0.2)
            failures = 0
            for _ in range(3):
                try:
                    async with db.autocommit() as conn:
                        backend = await conn.fetchval(BACKEND_PID)
                    break
                except DATABASE_UNAVAILABLE:
                    failures += 1
            assert failures <= 1 and backend != first_backend
        finally:
            await db.close()

    asyncio.run(scenario())


def test_lean_pool_gives_up_waiting_for_a_free_connection(pg_world: TestWorld) -> None:
    async def scenario() -> float:
        db = open_database(pg_world.database_url, PoolLimits(size=1, timeout_seconds=0.5))
        await db.open()
        try:
            async with db.autocommit():
                started = time.monotonic()
                with pytest.raises(TimeoutError):
                    async with db.autocommit():
                        pass
                return time.monotonic() - started
        finally:
            await db.close()

    assert 0.4 < asyncio.run(scenario()) < 3
