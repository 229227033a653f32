"""Parallel requests against real server processes (contract §5): the activation limit, one
activation per device and one live session per license hold however many requests arrive at once,
on however many instances — and the schema itself refuses what the rules forbid.

Each worker thread has its own HTTP client whose connection is opened before a barrier, so the
requests really leave together.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from licenseserver.db.engine import make_engine
from tests.conftest import BACKENDS, LiveServer
from tests.support import database
from tests.support.world import TestWorld

ACTIVATE = "/api/license/activate"
SESSION_START = "/api/license/session/start"
SESSION_CONFLICT_PREFIX = "Es ist nur eine Sitzung erlaubt"
# One TLS context for every client: building one per client costs more than the requests.
SHARED_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Scale:
    rounds: int
    activations: int
    one_device: int
    sessions: int


# PostgreSQL is the production database: full size, several rounds. SQLite serialises writers.
SCALES = {
    "postgresql": Scale(rounds=3, activations=100, one_device=50, sessions=20),
    "sqlite": Scale(rounds=1, activations=30, one_device=20, sessions=10),
}


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str | None:
        return self.body.get("code")


def all_at_once(
    servers: list[LiveServer], api_key: str, count: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[Outcome]:
    """Run `request(client, i)` for i in 0..count-1, every one in its own thread and client,
    released together by a barrier; spread round-robin over the servers."""
    barrier = threading.Barrier(count)

    def work(index: int) -> Outcome:
        server = servers[index % len(servers)]
        with httpx.Client(
            base_url=server.base_url, headers={"X-API-Key": api_key}, timeout=60, verify=SHARED_TLS
        ) as client:
            assert client.get("/health").status_code == 200  # the connection is open before the start
            barrier.wait(timeout=60)
            response = request(client, index)
            return Outcome(response.status_code, response.json())

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


def statuses(outcomes: list[Outcome]) -> Counter[tuple[int, str | None]]:
    return Counter((o.status, None if o.status == 200 else o.code) for o in outcomes)


def activate(key: str, device: Callable[[int], str]) -> Callable[[httpx.Client, int], httpx.Response]:
    def send(client: httpx.Client, index: int) -> httpx.Response:
        body = {
            "license_key": key,
            "hardware_hash": device(index),
            "machine_name": f"PC-{index}",
            "app_version": "1.0.0",
        }
        return client.post(ACTIVATE, json=body)

    return send


def activation_limit_holds(world: TestWorld, servers: list[LiveServer], count: int, limit: int = 5) -> None:
    key = world.license(max_activations=limit)
    outcomes = all_at_once(servers, world.api_key, count, activate(key, lambda i: f"device-{i:03d}"))

    assert statuses(outcomes) == {(200, None): limit, (409, "ACTIVATION_LIMIT_REACHED"): count - limit}
    for refused in (o for o in outcomes if o.status == 409):
        assert refused.body["status"] == 409 and refused.body["error"]
    granted = sorted(o.body["activation"]["hardware_hash"] for o in outcomes if o.status == 200)
    assert len(set(o.body["activation"]["id"] for o in outcomes if o.status == 200)) == limit

    rows = world.rows(
        "SELECT a.hardware_hash, a.is_active FROM activations a JOIN licenses l ON l.id = a.license_id"
        " WHERE l.license_key = :k ORDER BY a.hardware_hash",
        k=key,
    )
    assert [r["hardware_hash"] for r in rows] == granted, "refused requests must write nothing"
    assert all(bool(r["is_active"]) for r in rows)


def one_device_one_activation(world: TestWorld, server: LiveServer, count: int) -> None:
    key = world.license(max_activations=1)
    outcomes = all_at_once([server], world.api_key, count, activate(key, lambda _i: "the-one-device"))

    assert statuses(outcomes) == {(200, None): count}, [o.body for o in outcomes if o.status != 200][:3]
    assert len({o.body["activation"]["id"] for o in outcomes}) == 1, "every answer names the same activation"
    assert sum(1 for o in outcomes if o.body["already_active"] is False) == 1
    rows = world.rows(
        "SELECT a.id, a.is_active FROM activations a JOIN licenses l ON l.id = a.license_id WHERE l.license_key = :k",
        k=key,
    )
    assert len(rows) == 1 and bool(rows[0]["is_active"])
    assert rows[0]["id"] == outcomes[0].body["activation"]["id"]


def one_session_per_license(world: TestWorld, servers: list[LiveServer], count: int) -> None:
    key = world.license(max_activations=1)
    base_url = servers[0].base_url
    with httpx.Client(base_url=base_url, headers={"X-API-Key": world.api_key}, verify=SHARED_TLS) as client:
        assert client.post(ACTIVATE, json={"license_key": key, "hardware_hash": "hw-session"}).status_code == 200

    def start(client: httpx.Client, index: int) -> httpx.Response:
        body = {"license_key": key, "hardware_hash": "hw-session", "machine_id": f"PC-{index}", "version": "1.0.0"}
        return client.post(SESSION_START, json=body)

    outcomes = all_at_once(servers, world.api_key, count, start)

    assert statuses(outcomes) == {(200, None): 1, (409, "SESSION_CONFLICT"): count - 1}
    assert all(o.body["error"].startswith(SESSION_CONFLICT_PREFIX) for o in outcomes if o.status == 409)
    token = next(o.body["session_token"] for o in outcomes if o.status == 200)
    rows = world.rows(
        "SELECT s.session_token, s.ended_at FROM sessions s JOIN licenses l ON l.id = s.license_id"
        " WHERE l.license_key = :k",
        k=key,
    )
    assert rows == [{"session_token": token, "ended_at": None}]


@pytest.fixture(scope="module")
def pg_servers(pg_database_url: str) -> Iterator[list[LiveServer]]:
    """Two server processes on the worker's PostgreSQL database, shared by this module's tests:
    each test's `world` empties and re-seeds that database, which running servers do not mind."""
    address_only = TestWorld("postgresql", pg_database_url, engine=None)  # type: ignore[arg-type]
    servers: list[LiveServer] = []
    try:
        servers.extend(LiveServer(address_only) for _ in range(2))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def sqlite_rig(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestWorld, LiveServer]]:
    """One SQLite file and one server process for this module (every scenario uses fresh licenses)."""
    url = database.copy_sqlite(sqlite_template, tmp_path_factory.mktemp("parallel") / "parallel.db")
    engine = make_engine(url)
    world = TestWorld("sqlite", url, engine)
    server = LiveServer(world)
    yield world, server
    server.stop()
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest) -> tuple[TestWorld, LiveServer]:
    """A database and a live server on it, on each backend (server processes are shared, since
    starting one costs more than the scenario it serves)."""
    if request.param == "sqlite":
        sqlite: tuple[TestWorld, LiveServer] = request.getfixturevalue("sqlite_rig")
        return sqlite
    world: TestWorld = request.getfixturevalue("pg_world")
    servers: list[LiveServer] = request.getfixturevalue("pg_servers")
    return world, servers[0]


@pytest.mark.slow
def test_parallel_activations_never_exceed_the_limit(rig: tuple[TestWorld, LiveServer]) -> None:
    world, server = rig
    scale = SCALES[world.backend]
    for _ in range(scale.rounds):
        activation_limit_holds(world, [server], scale.activations)


@pytest.mark.slow
def test_parallel_activations_of_one_device_make_one_activation(rig: tuple[TestWorld, LiveServer]) -> None:
    world, server = rig
    scale = SCALES[world.backend]
    for _ in range(scale.rounds):
        one_device_one_activation(world, server, scale.one_device)


@pytest.mark.slow
def test_parallel_session_starts_exactly_one_wins(rig: tuple[TestWorld, LiveServer]) -> None:
    world, server = rig
    scale = SCALES[world.backend]
    for _ in range(scale.rounds):
        one_session_per_license(world, [server], scale.sessions)


@pytest.mark.slow
def test_activation_limit_holds_across_two_instances(pg_world: TestWorld, pg_servers: list[LiveServer]) -> None:
    """Two server processes on one PostgreSQL database: no in-process lock can help, only the database."""
    scale = SCALES["postgresql"]
    for _ in range(scale.rounds):
        activation_limit_holds(pg_world, pg_servers, scale.activations)


@pytest.fixture
def counted_pg_world(worker_id: str) -> Iterator[TestWorld]:
    """A PostgreSQL database of this test alone that counts calls of its PL/pgSQL functions
    (track_functions), so no other test's server can add to the count."""
    name = f"licenseserver_test_fn_{worker_id}_{os.getpid()}"
    url = database.create_pg_database(name)
    with psycopg.connect(database.PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET track_functions = 'pl'")
    engine = make_engine(url)
    try:
        database.reset_pg(engine)
        yield TestWorld("postgresql", url, engine)
    finally:
        engine.dispose()
        database.drop_pg_database(name)


FUNCTION_CALLS = "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_user_functions WHERE funcname = :n"


def function_calls(world: TestWorld, name: str, expected: int) -> int:
    """Calls of the function counted by the server, once the servers' backends have ended and
    handed in their counts (a backend reports them on exit); waits up to 15 s for `expected`."""
    deadline = time.monotonic() + 15
    while True:
        calls = int(world.scalar(FUNCTION_CALLS, n=name))
        if calls >= expected or time.monotonic() > deadline:
            return calls
        time.sleep(0.2)


def bursts_on_two_instances(
    world: TestWorld, burst: Callable[[TestWorld, list[LiveServer], int], None], count: int
) -> int:
    """`burst` of `count` requests, the rounds of PostgreSQL's scale, on two server processes of
    their own on `world`; how many requests were sent in all."""
    rounds = SCALES["postgresql"].rounds
    servers = [LiveServer(world) for _ in range(2)]
    try:
        for _ in range(rounds):
            burst(world, servers, count)
    finally:
        for server in servers:
            server.stop()
    return rounds * count


@pytest.mark.slow
def test_new_devices_at_once_on_two_instances_go_through_the_one_call_and_stop_at_the_limit(
    counted_pg_world: TestWorld,
) -> None:
    """A burst of new devices on two server processes, each device activated by one call of
    activate_new_device (migration 0012): exactly `limit` are created, and the server counted one
    call per request, so the burst did not fall back to the transaction for its grants."""
    requests = bursts_on_two_instances(counted_pg_world, activation_limit_holds, SCALES["postgresql"].activations)
    assert function_calls(counted_pg_world, "activate_new_device", expected=requests) == requests


@pytest.mark.slow
def test_session_starts_at_once_on_two_instances_go_through_the_one_call_and_one_wins(
    counted_pg_world: TestWorld,
) -> None:
    """Parallel starts of one license's session on two server processes, each trying one call of
    start_license_session (migration 0013) first: exactly one session starts, every other request
    is refused, and the server counted one call per request."""
    requests = bursts_on_two_instances(counted_pg_world, one_session_per_license, SCALES["postgresql"].sessions)
    assert function_calls(counted_pg_world, "start_license_session", expected=requests) == requests


# --- the rules are in the schema itself ------------------------------------------------------------


def license_id(world: TestWorld) -> int:
    key = world.license(max_activations=10)
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


INSERT_ACTIVATION = (
    "INSERT INTO activations (license_id, hardware_hash, machine_name, activated_at, last_heartbeat, is_active)"
    " VALUES (:license_id, :hardware_hash, '', :now, :now, :is_active)"
)
INSERT_SESSION = (
    "INSERT INTO sessions (session_token, license_id, machine_id, hardware_hash, started_at, last_heartbeat,"
    " ended_at, end_reason) VALUES (:token, :license_id, '', 'hw', :now, :now, :ended_at, :end_reason)"
)


def test_database_refuses_a_second_active_activation_of_a_device(world: TestWorld) -> None:
    now = datetime.now(UTC)
    lid = license_id(world)
    values = {"license_id": lid, "hardware_hash": "hw-dup", "now": now}
    world.execute(INSERT_ACTIVATION, **values, is_active=True)
    with pytest.raises(IntegrityError):
        world.execute(INSERT_ACTIVATION, **values, is_active=True)
    # Deactivated rows are history: any number of them beside the one active row.
    world.execute(INSERT_ACTIVATION, **values, is_active=False)
    world.execute(INSERT_ACTIVATION, **values, is_active=False)
    # Another device, or the same device on another license, is no duplicate.
    world.execute(INSERT_ACTIVATION, **{**values, "hardware_hash": "hw-other"}, is_active=True)
    world.execute(INSERT_ACTIVATION, **{**values, "license_id": license_id(world)}, is_active=True)
    active = world.scalar(
        "SELECT COUNT(*) FROM activations WHERE license_id = :l AND hardware_hash = 'hw-dup' AND is_active = :t",
        l=lid,
        t=True,
    )
    assert active == 1
    # Re-activating a deactivated row while an active one exists is refused as well.
    with pytest.raises(IntegrityError):
        world.execute(
            "UPDATE activations SET is_active = :t WHERE license_id = :l AND hardware_hash = 'hw-dup'", l=lid, t=True
        )


def test_database_refuses_a_second_open_session_of_a_license(world: TestWorld) -> None:
    now = datetime.now(UTC)
    lid = license_id(world)
    world.execute(INSERT_SESSION, token="token-1", license_id=lid, now=now, ended_at=None, end_reason=None)
    with pytest.raises(IntegrityError):
        world.execute(INSERT_SESSION, token="token-2", license_id=lid, now=now, ended_at=None, end_reason=None)
    # Ended sessions stay in the history beside the open one.
    world.execute(INSERT_SESSION, token="token-3", license_id=lid, now=now, ended_at=now, end_reason="normal")
    world.execute(INSERT_SESSION, token="token-4", license_id=lid, now=now, ended_at=now, end_reason="timeout")
    # Another license has its own session.
    world.execute(
        INSERT_SESSION, token="token-5", license_id=license_id(world), now=now, ended_at=None, end_reason=None
    )
    assert world.scalar("SELECT COUNT(*) FROM sessions WHERE license_id = :l AND ended_at IS NULL", l=lid) == 1
    # Re-opening an ended session while one is open is refused too.
    with pytest.raises(IntegrityError):
        world.execute("UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE session_token = 'token-3'")
