"""PostgreSQL goes away for a few seconds under load and comes back: the License API answers
only 503 with Retry-After meanwhile (never a 500, never a hang) and serves everything again within
10 seconds, in the same process. The cluster is a private one (tests/support/private_postgres.py)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from licenseserver.db.engine import make_engine
from licenseserver.db.migrate import upgrade_schema
from tests.api.helpers import ACTIVATE, SESSION_HEARTBEAT, SESSION_START, VERIFY
from tests.faults.processes import ServeProcess
from tests.support import database
from tests.support.private_postgres import PrivatePostgres
from tests.support.world import TestWorld

OUTAGE_SECONDS = 3.0
RECOVERY_LIMIT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 8.0  # a request still unanswered after this counts as a hang
LOAD_THREADS = 6
Requests = Iterator[tuple[str, str, dict[str, str]]]  # (kind, path, body), without end


@dataclass
class Outcome:
    kind: str
    sent: float
    status: int | None  # None: no answer at all (timeout or transport error)
    retry_after: str | None = None
    code: str | None = None
    failure: str = ""


@pytest.fixture
def private_world(private_postgres: PrivatePostgres) -> Iterator[TestWorld]:
    url = private_postgres.create_database("licenseserver")
    upgrade_schema(url)
    engine = make_engine(url)
    database.reset_pg(engine)
    yield TestWorld("postgresql", url, engine)
    engine.dispose()


def _client(server: ServeProcess, world: TestWorld) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-API-Key": world.api_key}, timeout=REQUEST_TIMEOUT_SECONDS)


def _requests(key: str, token: str) -> Requests:
    for n in itertools.count():
        yield "verify", VERIFY, {"license_key": key, "hardware_hash": "hw-base", "app_version": "1.0.0"}
        yield "heartbeat", SESSION_HEARTBEAT, {"session_token": token, "license_key": key}
        body = {"license_key": key, "hardware_hash": f"hw-{n}", "machine_name": "PC", "app_version": "1.0.0"}
        yield "activate", ACTIVATE, body


def _load(
    client: httpx.Client, requests: Requests, stop: threading.Event, lock: threading.Lock, outcomes: list[Outcome]
) -> None:
    while not stop.is_set():
        with lock:
            kind, path, body = next(requests)
        sent = time.monotonic()
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            outcome = Outcome(kind, sent, None, failure=f"{type(exc).__name__}: {exc}")
        else:
            code = response.json().get("code") if response.status_code >= 400 else None
            outcome = Outcome(kind, sent, response.status_code, response.headers.get("Retry-After"), code)
        with lock:
            outcomes.append(outcome)


def _run_load(start: Callable[[], httpx.Client], key: str, token: str, during: Callable[[], float]) -> list[Outcome]:
    """Requests from LOAD_THREADS threads while `during()` runs; returns every outcome."""
    stop, lock, outcomes = threading.Event(), threading.Lock(), list[Outcome]()
    requests = _requests(key, token)
    clients = [start() for _ in range(LOAD_THREADS)]
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        futures = [pool.submit(_load, client, requests, stop, lock, outcomes) for client in clients]
        try:
            during()
        finally:
            stop.set()
            for future in futures:
                future.result()
            for client in clients:
                client.close()
    return outcomes


@pytest.mark.slow
def test_postgres_restart_under_load(
    private_postgres: PrivatePostgres, private_world: TestWorld, tmp_path: Path
) -> None:
    world = private_world
    server = ServeProcess(tmp_path, "api", DATABASE_URL=world.database_url, CLIENT_CONFIG_CACHE_SECONDS="0")
    try:
        server.wait_healthy()
        pid = server.pid
        key = world.license(max_activations=100_000)
        with _client(server, world) as client:
            device = {"license_key": key, "hardware_hash": "hw-base"}
            assert client.post(ACTIVATE, json={**device, "machine_name": "PC"}).status_code == 200
            started = client.post(SESSION_START, json={**device, "machine_id": "PC", "version": "1.0.0"})
            assert started.status_code == 200, started.text
            token = started.json()["session_token"]

        marks: dict[str, float] = {}

        def restart_postgres() -> float:
            time.sleep(2.0)  # load before the outage
            marks["down"] = time.monotonic()
            private_postgres.stop()
            time.sleep(OUTAGE_SECONDS)
            private_postgres.start()
            marks["up"] = time.monotonic()
            time.sleep(RECOVERY_LIMIT_SECONDS + 2.0)  # load after: the last 2 s must all succeed
            return marks["up"]

        outcomes = _run_load(lambda: _client(server, world), key, token, restart_postgres)

        hangs = [o for o in outcomes if o.status is None]
        assert not hangs, f"{len(hangs)} requests got no answer, e.g. {hangs[:3]}"
        wrong = [o for o in outcomes if o.status not in (200, 503)]
        assert not wrong, f"only 200 and 503 allowed, got e.g. {wrong[:5]}"
        unavailable = [o for o in outcomes if o.status == 503]
        assert unavailable, "the outage was never noticed: the test restarted nothing"
        assert all(o.code == "SERVICE_UNAVAILABLE" and o.retry_after and int(o.retry_after) >= 1 for o in unavailable)
        assert all(o.sent >= marks["down"] - 1.0 for o in unavailable), "503s before the database went away"

        recovered_by = marks["up"] + RECOVERY_LIMIT_SECONDS
        late = [o for o in outcomes if o.sent >= recovered_by]
        assert late and {o.kind for o in late} == {"verify", "heartbeat", "activate"}
        assert all(o.status == 200 for o in late), f"not fully back {RECOVERY_LIMIT_SECONDS} s after the restart"
        assert server.process.poll() is None and server.pid == pid, "the server process was restarted"
        with _client(server, world) as client:
            assert client.get("/health").status_code == 200
    finally:
        returncode = server.stop()
    assert returncode == 0, server.output()[-3000:]
    assert "Traceback" not in server.output(), server.output()[-3000:]
