"""Fixtures shared by the whole suite.

Every test that takes `world` runs twice: on a SQLite file and on the real PostgreSQL server.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from licenseserver.db.engine import make_engine
from tests.support import database
from tests.support.world import TestWorld

# Fixtures shared by several folders of tests.
pytest_plugins = ["tests.support.minute_edge"]

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    database.make_sqlite_template(path)
    return path


@pytest.fixture(scope="session")
def pg_database_url(worker_id: str) -> Iterator[str]:
    name = f"licenseserver_test_{worker_id}_{os.getpid()}"
    url = database.create_pg_database(name)
    yield url
    database.drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_engine(pg_database_url: str) -> Iterator[Any]:
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _world(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestWorld]:
    if backend == "sqlite":
        url = database.copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "test.db")
        engine = make_engine(url)
        yield TestWorld("sqlite", url, engine)
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        database.reset_pg(engine)
        yield TestWorld("postgresql", request.getfixturevalue("pg_database_url"), engine)


_empty_database_numbers = itertools.count(1)
# Every setting the server reads, as environment variables (tests clear them for a clean start).
SETTING_VARIABLES = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a SQLite path not yet created, or a brand-new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"licenseserver_test_empty_{os.getpid()}_{next(_empty_database_numbers)}"
    url = database.create_empty_pg_database(name)
    try:
        yield url
    finally:
        database.drop_pg_database(name)


@pytest.fixture
def world(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestWorld]:
    """A fresh, seeded database on each backend."""
    yield from _world(backend, request, tmp_path)


@pytest.fixture
def pg_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestWorld]:
    """A fresh, seeded PostgreSQL database, for tests that only PostgreSQL can answer."""
    yield from _world("postgresql", request, tmp_path)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    workerinput = getattr(request.config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def make_client(world: TestWorld, **settings: Any) -> TestClient:
    client = TestClient(create_api_app(world.settings(**settings)), raise_server_exceptions=False)
    client.headers["X-API-Key"] = world.api_key
    return client


@pytest.fixture
def api(world: TestWorld) -> Iterator[TestClient]:
    """The License API in-process, with the test API key on every request."""
    with make_client(world) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn process serving the License API over TCP on 127.0.0.1."""

    def __init__(self, world: TestWorld, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": world.database_url,
            "SESSION_SWEEP_SECONDS": "3600",
            "CLIENT_CONFIG_CACHE_SECONDS": "0",
            **(extra_env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "licenseserver.api.app:create_api_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-proxy-headers",
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_until_healthy()

    def _wait_until_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"server exited early: {output}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def live_server(world: TestWorld) -> Iterator[Callable[..., LiveServer]]:
    """Start real server processes on this test's database; all are stopped after the test."""
    started: list[LiveServer] = []

    def start(**extra_env: str) -> LiveServer:
        server = LiveServer(world, extra_env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
