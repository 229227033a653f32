"""SIGTERM under load (`serve api --workers 2`, gunicorn's master over uvicorn workers): the
requests the server already has are answered in full, nothing is answered with a 5xx, and the
process exits 0 within 30 seconds.

The requests held in flight are activations of one license waiting for its row lock, which the
test holds in a transaction of its own and releases a while after the signal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest

from tests.api.helpers import ACTIVATE, VERIFY
from tests.faults.processes import ServeProcess
from tests.support.world import TestWorld

HELD_REQUESTS = 6
LOAD_THREADS = 4
HOLD_AFTER_SIGNAL_SECONDS = 2.0
EXIT_LIMIT_SECONDS = 30.0


@dataclass
class Outcome:
    sent: float
    status: int | None
    failure: str = ""


def _post(client: httpx.Client, path: str, body: dict[str, str]) -> Outcome:
    sent = time.monotonic()
    try:
        return Outcome(sent, client.post(path, json=body).status_code)
    except httpx.HTTPError as exc:
        return Outcome(sent, None, f"{type(exc).__name__}: {exc}")


@contextmanager
def license_row_locked(world: TestWorld, key: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(world.database_url) as conn:
        conn.execute("SELECT id FROM licenses WHERE license_key = %s FOR UPDATE", (key,))
        yield conn
        conn.rollback()


def _waiting_on_locks(world: TestWorld) -> int:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    return int(world.scalar(sql))


def _verify_load(base_url: str, headers: dict[str, str], body: dict[str, str], stop: threading.Event) -> list[Outcome]:
    outcomes = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            outcomes.append(_post(client, VERIFY, body))
    return outcomes


@pytest.mark.slow
def test_sigterm_finishes_in_flight_requests_and_exits_0(pg_world: TestWorld, tmp_path: Path) -> None:
    world = pg_world
    server = ServeProcess(tmp_path, "api", workers=2, DATABASE_URL=world.database_url)
    try:
        server.wait_healthy()
        held_key = world.license(max_activations=100)
        load_key = world.license()
        headers = {"X-API-Key": world.api_key}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
            body = {"license_key": load_key, "hardware_hash": "hw-load", "machine_name": "PC"}
            assert client.post(ACTIVATE, json=body).status_code == 200
        verify_body = {"license_key": load_key, "hardware_hash": "hw-load"}

        stop = threading.Event()
        with ThreadPoolExecutor(HELD_REQUESTS + LOAD_THREADS) as pool:
            load = [pool.submit(_verify_load, server.base_url, headers, verify_body, stop) for _ in range(LOAD_THREADS)]
            with license_row_locked(world, held_key) as lock:
                held = [
                    pool.submit(_held_activation, server.base_url, headers, held_key, n) for n in range(HELD_REQUESTS)
                ]
                _wait_until(lambda: _waiting_on_locks(world) >= HELD_REQUESTS, "activations never reached the lock")
                time.sleep(0.5)  # the verify load keeps running meanwhile
                signalled = time.monotonic()
                server.terminate()
                time.sleep(HOLD_AFTER_SIGNAL_SECONDS)
                assert server.process.poll() is None, "exited while requests were still in flight"
                lock.rollback()  # the held activations may go on now
            held_outcomes = [future.result(timeout=30) for future in held]
            stop.set()
            load_outcomes = [o for future in load for o in _result(future)]
        returncode = server.process.wait(timeout=EXIT_LIMIT_SECONDS)
        exited_after = time.monotonic() - signalled
    finally:
        server.stop()

    assert [o.status for o in held_outcomes] == [200] * HELD_REQUESTS, held_outcomes
    assert world.scalar("SELECT COUNT(*) FROM activations WHERE hardware_hash LIKE 'hw-held-%'") == HELD_REQUESTS
    before = [o for o in load_outcomes if o.sent < signalled - 0.2]
    assert before and all(o.status == 200 for o in before), [o for o in before if o.status != 200][:5]
    # After the signal a new request may find the port closed, but nothing is answered with a 5xx.
    assert all(o.status is None or o.status < 500 for o in load_outcomes)
    assert returncode == 0, server.output()[-3000:]
    assert exited_after < EXIT_LIMIT_SECONDS
    assert "Traceback" not in server.output(), server.output()[-3000:]


def _held_activation(base_url: str, headers: dict[str, str], key: str, n: int) -> Outcome:
    body = {"license_key": key, "hardware_hash": f"hw-held-{n}", "machine_name": "PC"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=40) as client:
        return _post(client, ACTIVATE, body)


def _result(future: Future[list[Outcome]]) -> list[Outcome]:
    return future.result(timeout=30)


def _wait_until(condition: object, message: str, timeout: float = 15.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
