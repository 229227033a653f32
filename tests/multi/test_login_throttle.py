"""The log-in throttle shared through Redis: two admin panel processes on one PostgreSQL database
and the Redis at 127.0.0.1:6379 (a key prefix per test), thirty log-ins sent at once over both;
and the reservation's counting itself, in Redis and while Redis is away."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx2 as httpx
import pytest

from licenseserver.config import Settings
from licenseserver.kit.ratelimit import RateLimiter
from licenseserver.kit.shared_limits import rate_limiter_for
from tests.admin.conftest import STAFF_PASSWORD, STAFF_USERNAME, make_staff
from tests.conftest import free_port
from tests.multi.rig import (
    ADMIN_FACTORY,
    ServerProcess,
    all_at_once,
    clear_of_the_minute_edge,
    fresh_address,
    instance_env,
)
from tests.support.redis_server import SHARED_REDIS_URL, PrivateRedis, require_shared_redis, unique_prefix
from tests.support.world import TestWorld

# Bursts are counted exactly: keep each inside one minute of the counter (tests/support/minute_edge.py).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inside_one_minute")]

T = TypeVar("T")

CSRF = "a-double-submit-token"
LIMIT = 5  # the seeded log-in limit per minute
PARALLEL = 30
WRONG = "wrong-password-0"


class PanelProcess(ServerProcess):
    """An admin panel process given two minutes to come up: on a busy machine (load average 17)
    importing the app alone took 21 s, and the rig's 30 s were not always enough."""

    def _wait_until_up(self, path: str, timeout: float = 120.0) -> None:
        super()._wait_until_up(path, timeout)


@pytest.fixture
def two_panels(pg_world: TestWorld, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    require_shared_redis()
    make_staff(pg_world)
    env = instance_env(pg_world, SHARED_REDIS_URL, unique_prefix("login"))
    with ThreadPoolExecutor(max_workers=2) as pool:  # each takes seconds to start: both at once
        starting = [pool.submit(PanelProcess, ADMIN_FACTORY, env, tmp_path, name) for name in ("admin-1", "admin-2")]
    started = [future.result() for future in starting if future.exception() is None]
    try:
        assert len(started) == len(starting), [str(future.exception()) for future in starting]
        yield started
    finally:
        for server in started:
            server.stop()


def log_in_as(
    username_of: Callable[[int], str], address_of: Callable[[int], str], password_of: Callable[[int], str]
) -> Callable[[httpx.Client, int], httpx.Response]:
    """The i-th of the parallel log-ins, as `all_at_once` sends them."""

    def request(client: httpx.Client, index: int) -> httpx.Response:
        return client.post(
            "/login",
            data={"username": username_of(index), "password": password_of(index), "csrf_token": CSRF},
            headers={"X-Forwarded-For": address_of(index), "Cookie": f"ls_csrf={CSRF}"},
            follow_redirects=False,
        )

    return request


def failed_logins(world: TestWorld) -> int:
    return int(world.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login_failed'"))


def test_parallel_guesses_over_two_instances_reach_the_password_check_at_most_the_limit(
    pg_world: TestWorld, two_panels: list[ServerProcess]
) -> None:
    addresses = [fresh_address() for _ in range(PARALLEL)]
    at_one_username = log_in_as(
        lambda _: STAFF_USERNAME,
        lambda i: addresses[i],
        lambda i: STAFF_PASSWORD if i == PARALLEL - 1 else WRONG,
    )
    counted = Counter(r.status_code for r in all_at_once(two_panels, PARALLEL, at_one_username, {}))
    assert counted[401] + counted[303] <= LIMIT and counted[429] >= PARALLEL - LIMIT, counted
    assert failed_logins(pg_world) == counted[401]

    failed_before = failed_logins(pg_world)
    address = fresh_address()
    from_one_address = log_in_as(lambda i: f"guess-{i}", lambda _: address, lambda _: WRONG)
    counted = Counter(r.status_code for r in all_at_once(two_panels, PARALLEL, from_one_address, {}))
    assert counted[401] <= LIMIT and counted[429] >= PARALLEL - LIMIT, counted
    assert failed_logins(pg_world) - failed_before == counted[401]


# --- the reservation itself ------------------------------------------------------------------


def _limiters(redis_url: str, count: int) -> list[RateLimiter]:
    settings = Settings(
        redis_url=redis_url,
        redis_key_prefix=unique_prefix("reserve"),
        redis_timeout_seconds=0.3,
        redis_retry_seconds=0.5,
    )
    return [rate_limiter_for(settings, "login") for _ in range(count)]


def _run_and_close(scenario: Callable[[], Awaitable[T]], limiters: list[RateLimiter]) -> T:
    async def run() -> T:
        try:
            return await scenario()
        finally:
            for limiter in limiters:
                await limiter.close()

    return asyncio.run(run())


def test_a_given_back_attempt_frees_its_place_on_every_instance() -> None:
    require_shared_redis()
    first, second = _limiters(SHARED_REDIS_URL, 2)

    async def scenario() -> list[bool]:
        clear_of_the_minute_edge()
        verdicts = [await (first if n % 2 else second).reserve("login", "user:chef", LIMIT) for n in range(LIMIT)]
        assert all(v.allowed and v.shared for v in verdicts)
        refused = await first.reserve("login", "user:chef", LIMIT)
        await second.give_back("login", "user:chef", LIMIT, verdicts[0])
        again = await first.reserve("login", "user:chef", LIMIT)
        return [refused.allowed, again.allowed, (await second.reserve("login", "user:chef", LIMIT)).allowed]

    assert _run_and_close(scenario, [first, second]) == [False, True, False]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis(free_port())
    yield redis
    redis.stop()


def test_reservations_still_count_while_redis_is_away(private_redis: PrivateRedis) -> None:
    (throttle,) = _limiters(private_redis.url, 1)

    async def scenario() -> list[bool]:
        clear_of_the_minute_edge()
        await throttle.reserve("login", "user:warm-up", LIMIT)
        private_redis.kill()
        return [(await throttle.reserve("login", "address:198.51.100.9", LIMIT)).allowed for _ in range(LIMIT + 2)]

    assert _run_and_close(scenario, [throttle]) == [True] * LIMIT + [False, False]
