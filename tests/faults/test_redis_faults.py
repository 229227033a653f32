"""Redis goes away while requests flow: killed (SIGKILL), then paused (SIGSTOP, the kernel still
accepts connections but nothing answers). The License API keeps answering without a 5xx, each
instance counts the limit on its own meanwhile (up to N × the limit in all), the fallback is
counted, and shared counting resumes within seconds of Redis being back.

Two API processes on this module's PostgreSQL database and a private redis-server on a port of
its own, so killing it disturbs nothing else. The log-in throttle is checked in-process on both
database backends: with Redis away it keeps counting in the process and never lets more through.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2 as httpx
import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.db.engine import make_engine
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, csrf_of, make_staff
from tests.conftest import free_port
from tests.multi.rig import (
    API_FACTORY,
    VERSION_LATEST,
    ServerProcess,
    clear_of_the_minute_edge,
    fresh_address,
    instance_env,
    start_together,
    wait_for,
)
from tests.support import database
from tests.support.redis_server import PrivateRedis, unique_prefix
from tests.support.world import TestWorld

LIMIT = 10  # License API requests per client and minute in this module
RETRY_SECONDS = 1.0  # how long an instance leaves Redis alone after a failure (REDIS_RETRY_SECONDS)
TIMEOUT_SECONDS = 0.3  # REDIS_TIMEOUT_SECONDS
RESUME_WITHIN_SECONDS = 5.0
SLOWEST_ANSWER_SECONDS = 2.0  # nothing may hang on Redis: far below any client's timeout


@dataclass
class Rig:
    world: TestWorld
    redis: PrivateRedis
    apis: list[ServerProcess]
    clients: list[httpx.Client]  # one per instance, kept open: a new client per request costs more

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.world.api_key}

    def burst(self, count: int) -> list[int]:
        """`count` requests of one new client, alternating between the instances: passes per instance."""
        headers = {"X-Forwarded-For": fresh_address()}
        passed = [0] * len(self.clients)
        for index in range(count):
            response = self.clients[index % len(self.clients)].get(VERSION_LATEST, headers=headers)
            assert response.status_code in (200, 429), response.text
            passed[index % len(self.clients)] += response.status_code == 200
        return passed

    def counting_is_shared(self) -> bool:
        return sum(self.burst(2 * LIMIT)) == LIMIT

    def fallbacks(self) -> list[float]:
        return [server.fallbacks() for server in self.apis]


@dataclass
class RequestFlow:
    """Requests sent without pause to every instance by a background thread, each from a new
    client address (so none is refused), until stopped: what production traffic looks like."""

    rig: Rig
    answers: list[tuple[int, float]] = field(default_factory=list)  # status (0: no answer), seconds
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        clients = [httpx.Client(base_url=s.base_url, headers=self.rig.headers, timeout=10) for s in self.rig.apis]
        try:
            while not self._stop.is_set():
                for client in clients:
                    started = time.monotonic()
                    try:
                        status = client.get(VERSION_LATEST, headers={"X-Forwarded-For": fresh_address()}).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.answers.append((status, time.monotonic() - started))
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@contextmanager
def requests_flowing(rig: Rig) -> Iterator[RequestFlow]:
    flow = RequestFlow(rig)
    try:
        time.sleep(0.3)
        yield flow
    finally:
        flow.stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    name = f"licenseserver_test_redis_faults_{os.getpid()}"
    url = database.create_pg_database(name)
    engine = make_engine(url)
    redis = PrivateRedis(free_port())
    try:
        database.reset_pg(engine)
        world = TestWorld("postgresql", url, engine)
        world.execute("UPDATE rate_limit_settings SET api_per_minute = :n WHERE id = 1", n=LIMIT)
        env = instance_env(
            world,
            redis.url,
            unique_prefix("faults"),
            REDIS_RETRY_SECONDS=str(RETRY_SECONDS),
            REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        )
        apps = {"api-1": API_FACTORY, "api-2": API_FACTORY}
        with start_together(apps, env, tmp_path_factory.mktemp("redis-fault-logs")) as started:
            apis = list(started.values())
            clients = [httpx.Client(base_url=s.base_url, headers={"X-API-Key": world.api_key}) for s in apis]
            try:
                yield Rig(world, redis, apis, clients)
            finally:
                for client in clients:
                    client.close()
    finally:
        redis.stop()
        engine.dispose()
        database.drop_pg_database(name)


def _assert_flow_was_served(answers: list[tuple[int, float]]) -> None:
    statuses = {status for status, _ in answers}
    assert len(answers) > 20, f"too few requests flowed: {len(answers)}"
    assert statuses == {200}, f"answers other than 200 while Redis was away: {statuses}"
    assert max(seconds for _, seconds in answers) < SLOWEST_ANSWER_SECONDS


def _assert_counting_per_instance(rig: Rig) -> None:
    fallbacks_before = rig.fallbacks()
    clear_of_the_minute_edge()
    assert rig.burst(3 * LIMIT) == [LIMIT, LIMIT], "each instance holds a client to the limit on its own"
    assert all(after > before for after, before in zip(rig.fallbacks(), fallbacks_before, strict=True))


@pytest.mark.slow
def test_redis_killed_while_requests_flow(rig: Rig) -> None:
    assert rig.counting_is_shared(), "with Redis up, one client gets the limit once across both instances"
    with requests_flowing(rig) as flow:
        rig.redis.kill()
        time.sleep(0.5)
        _assert_counting_per_instance(rig)

        rig.redis.start()  # empty: a restarted Redis without persistence has forgotten every count
        back_after = wait_for(rig.counting_is_shared, timeout=RESUME_WITHIN_SECONDS + 2)

    assert back_after <= RESUME_WITHIN_SECONDS
    _assert_flow_was_served(flow.answers)


@pytest.mark.slow
def test_redis_paused_while_requests_flow(rig: Rig) -> None:
    assert wait_for(rig.counting_is_shared, timeout=RESUME_WITHIN_SECONDS) <= RESUME_WITHIN_SECONDS
    with requests_flowing(rig) as flow:
        rig.redis.pause()
        try:
            time.sleep(0.5)
            _assert_counting_per_instance(rig)
        finally:
            rig.redis.resume()
        back_after = wait_for(rig.counting_is_shared, timeout=RESUME_WITHIN_SECONDS + 2)

    assert back_after <= RESUME_WITHIN_SECONDS
    _assert_flow_was_served(flow.answers)


# --- the log-in throttle, in-process on SQLite and PostgreSQL -------------------------------------


def _panel(world: TestWorld, redis_url: str) -> TestClient:
    settings = world.settings(
        secret_key="redis-fault-test-secret",
        redis_url=redis_url,
        redis_key_prefix=unique_prefix("login"),
        redis_timeout_seconds=TIMEOUT_SECONDS,
        redis_retry_seconds=60,
    )
    return TestClient(create_admin_app(settings), raise_server_exceptions=False, base_url="http://testserver")


def _log_in(panel: TestClient, password: str) -> int:
    form = panel.get("/login")
    data = {"username": STAFF_USERNAME, "password": password, "csrf_token": csrf_of(form.text)}
    return panel.post("/login", data=data, follow_redirects=False).status_code


def _login_fallbacks() -> float:
    return REGISTRY.get_sample_value("licenseserver_ratelimit_fallbacks_total", {"limiter": "login"}) or 0.0


@pytest.mark.parametrize("outage", ["killed", "paused"])
def test_login_throttle_never_fails_open_while_redis_is_away(world: TestWorld, outage: str) -> None:
    make_staff(world)
    redis = PrivateRedis(free_port())
    try:
        with _panel(world, redis.url) as panel:
            assert _log_in(panel, "wrong-0") == 401  # counted in Redis
            if outage == "killed":
                redis.kill()
            else:
                redis.pause()
            before = _login_fallbacks()
            started = time.monotonic()
            statuses = [_log_in(panel, f"wrong-{n}") for n in range(1, 6)]
            # The right password after five failures in this process: refused, Redis or not.
            statuses.append(_log_in(panel, STAFF_PASSWORD))
            took = time.monotonic() - started
    finally:
        redis.stop()

    assert statuses == [401] * 5 + [429]
    assert _login_fallbacks() > before
    assert took < 5 * SLOWEST_ANSWER_SECONDS
