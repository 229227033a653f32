"""Shortcuts shared by the License API contract tests (CONTRACT.md §3–5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from tests.conftest import free_port
from tests.support.world import TestWorld

ERROR_KEYS = {"error", "code", "status"}
INVALID_API_KEY_BODY = {"error": "Invalid or missing API key", "code": "INVALID_API_KEY", "status": 401}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
API_KEY_FORMAT = re.compile(r"^AF-(\d{4})-[A-Z0-9]{32}$")
SESSION_CONFLICT_PREFIX = "Es ist nur eine Sitzung erlaubt"

ACTIVATE = "/api/license/activate"
VERIFY = "/api/license/verify"
INFO = "/api/license/info/{key}"
SESSION_START = "/api/license/session/start"
SESSION_HEARTBEAT = "/api/license/session/heartbeat"
SESSION_END = "/api/license/session/end"
VERSION_CHECK = "/api/version/check"
VERSION_LATEST = "/api/version/latest"


def today() -> date:
    """Today as the contract counts days: in UTC."""
    return datetime.now(UTC).date()


def days(offset: int) -> date:
    return today() + timedelta(days=offset)


def parse_utc(value: str) -> datetime:
    assert ISO_UTC.match(value), f"not an ISO-8601 UTC time with Z: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def db_time(value: Any) -> datetime:
    """A timestamp read back with SQL, as an aware UTC datetime on both backends."""
    if isinstance(value, str):  # SQLite through text() hands back the stored string
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def seconds_ago(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds()


def assert_error(
    response: httpx.Response, status: int, code: str, *, extra_keys: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The contract's error body: exactly error/code/status (details optional) and the same status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert set(body) - ERROR_KEYS <= {"details"} | extra_keys, body
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"].strip()
    assert "Traceback" not in body["error"]
    if "details" in body:
        assert isinstance(body["details"], list)
    return body


def assert_invalid_api_key(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == INVALID_API_KEY_BODY


def activate(
    api: TestClient | httpx.Client,
    key: str,
    hardware_hash: str = "hw-1",
    machine_name: str = "DESKTOP-ABC123",
    app_version: str | None = "1.0.0",
) -> httpx.Response:
    body: dict[str, Any] = {"license_key": key, "hardware_hash": hardware_hash, "machine_name": machine_name}
    if app_version is not None:
        body["app_version"] = app_version
    return api.post(ACTIVATE, json=body)


def verify(api: TestClient, key: str, hardware_hash: str = "hw-1", app_version: str | None = "1.0.0") -> httpx.Response:
    body: dict[str, Any] = {"license_key": key, "hardware_hash": hardware_hash}
    if app_version is not None:
        body["app_version"] = app_version
    return api.post(VERIFY, json=body)


def start_session(
    api: TestClient, key: str, hardware_hash: str = "hw-1", version: str = "1.0.0", machine_id: str = "DESKTOP-ABC123"
) -> httpx.Response:
    return api.post(
        SESSION_START,
        json={"license_key": key, "machine_id": machine_id, "hardware_hash": hardware_hash, "version": version},
    )


def heartbeat(api: TestClient, token: str, key: str) -> httpx.Response:
    return api.post(SESSION_HEARTBEAT, json={"session_token": token, "license_key": key})


def end_session(api: TestClient, token: str) -> httpx.Response:
    return api.post(SESSION_END, json={"session_token": token})


def activated_license(world: TestWorld, api: TestClient, hardware_hash: str = "hw-1", **values: Any) -> str:
    """A usable license with `hardware_hash` activated on it."""
    key = world.license(**values)
    response = activate(api, key, hardware_hash)
    assert response.status_code == 200, response.text
    return key


def live_session(world: TestWorld, api: TestClient, hardware_hash: str = "hw-1", **values: Any) -> tuple[str, str]:
    """(license key, session token) of a freshly started session."""
    key = activated_license(world, api, hardware_hash, **values)
    response = start_session(api, key, hardware_hash)
    assert response.status_code == 200, response.text
    return key, response.json()["session_token"]


def add_release(
    world: TestWorld,
    version: str,
    release_date: date = date(2025, 7, 1),
    download_url: str | None = None,
    release_notes: str | None = None,
) -> None:
    world.execute(
        "INSERT INTO client_releases (client_id, version, release_date, download_url, release_notes)"
        " VALUES (1, :v, :d, :u, :n)",
        v=version,
        d=release_date,
        u=download_url or f"https://downloads.example.test/{version}",
        n=release_notes or f"Notes of {version}",
    )


def remove_client(world: TestWorld) -> None:
    """No client configured at all: the session and version endpoints must say so."""
    world.execute("DELETE FROM client_releases")
    world.execute("DELETE FROM client_configs")


def client_at(world: TestWorld, peer: str, **settings: Any) -> TestClient:
    """An in-process client whose socket peer address is `peer` (TestClient's default is "testclient")."""
    client = TestClient(create_api_app(world.settings(**settings)), raise_server_exceptions=False, client=(peer, 50000))
    client.headers["X-API-Key"] = world.api_key
    return client


def metric(text: str, sample: str, **labels: str) -> float:
    """Sum of the samples called `sample` whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                total += found.value
    return total


def scrape(client: TestClient | httpx.Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


@contextmanager
def served_api(world: TestWorld, **extra_env: str) -> Iterator[str]:
    """`licenseserver serve api` as an operator runs it (not bare uvicorn); yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": world.database_url, "SESSION_SWEEP_SECONDS": "3600", **extra_env}
    command = [str(Path(sys.executable).with_name("licenseserver")), "serve", "api", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "licenseserver serve api exited early"
            assert time.monotonic() < deadline, "licenseserver serve api did not become healthy"
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# (license values, status, code, message) of a license not usable today; None: no such license.
NOT_USABLE_TODAY = [
    pytest.param({"is_active": False}, 403, "LICENSE_INACTIVE", "License is inactive", id="inactive"),
    pytest.param(
        {"valid_from": days(-30), "valid_until": days(-1)}, 403, "LICENSE_EXPIRED", "License has expired", id="expired"
    ),
    pytest.param({"valid_from": days(1)}, 403, "LICENSE_NOT_YET_VALID", "License is not valid yet", id="not-yet-valid"),
    pytest.param(None, 404, "LICENSE_NOT_FOUND", "License not found", id="unknown"),
]
