"""The shared rate limiter in-process: two limiters stand for two instances of one installation.
Against the real Redis at 127.0.0.1:6379 (a key prefix per test) and, for the outages, a private
redis-server that the test pauses or kills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from prometheus_client import REGISTRY

from licenseserver.config import Settings, SettingsError, load_settings
from licenseserver.kit.ratelimit import RateLimiter
from licenseserver.kit.shared_limits import SharedRateLimiter, rate_limiter_for
from tests.conftest import free_port
from tests.multi.rig import clear_of_the_minute_edge
from tests.support.redis_server import SHARED_REDIS_URL, PrivateRedis, require_shared_redis, unique_prefix

T = TypeVar("T")
TIMEOUT = 0.3
RETRY = 0.5


def _settings(redis_url: str | None, prefix: str) -> Settings:
    return Settings(
        redis_url=redis_url, redis_key_prefix=prefix, redis_timeout_seconds=TIMEOUT, redis_retry_seconds=RETRY
    )


def _instances(redis_url: str, name: str = "api", count: int = 2) -> list[RateLimiter]:
    settings = _settings(redis_url, unique_prefix("unit"))
    return [rate_limiter_for(settings, name) for _ in range(count)]


def _run(scenario: Callable[[], Awaitable[T]], limiters: list[RateLimiter]) -> T:
    async def run_and_close() -> T:
        try:
            return await scenario()
        finally:
            for limiter in limiters:
                await limiter.close()

    return asyncio.run(run_and_close())


def _fallbacks(name: str) -> float:
    return REGISTRY.get_sample_value("licenseserver_ratelimit_fallbacks_total", {"limiter": name}) or 0.0


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis(free_port())
    yield redis
    redis.stop()


def test_without_redis_url_each_process_counts_alone() -> None:
    limiter = rate_limiter_for(_settings(None, "unused"), "api")
    assert type(limiter) is RateLimiter


def test_a_redis_url_of_another_kind_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(SettingsError, match="REDIS_URL"):
        load_settings()


def test_two_instances_count_one_client_once() -> None:
    require_shared_redis()
    first, second = _instances(SHARED_REDIS_URL)

    async def scenario() -> list[bool]:
        verdicts = []
        for index in range(8):
            limiter = first if index % 2 == 0 else second
            verdicts.append(await limiter.hit("api", "203.0.113.5", 5))
        assert 1 <= verdicts[-1].retry_after_seconds <= 60
        return [v.allowed for v in verdicts]

    assert _run(scenario, [first, second]) == [True] * 5 + [False] * 3


def test_failed_logins_counted_on_one_instance_throttle_the_other() -> None:
    require_shared_redis()
    first, second = _instances(SHARED_REDIS_URL, "login")

    async def scenario() -> tuple[bool, bool]:
        for _ in range(4):
            await first.hit("login", "user:chef", 5)
        not_yet = await second.exhausted("login", "user:chef", 5)
        await second.hit("login", "user:chef", 5)
        return not_yet, await first.exhausted("login", "user:chef", 5)

    assert _run(scenario, [first, second]) == (False, True)


def test_a_paused_redis_costs_one_timeout_then_nothing_until_the_retry(private_redis: PrivateRedis) -> None:
    (limiter,) = _instances(private_redis.url, count=1)
    assert isinstance(limiter, SharedRateLimiter)

    async def scenario() -> list[float]:
        await limiter.hit("api", "warm-up", 100)  # the connection is open before the pause
        private_redis.pause()
        took = []
        for _ in range(4):
            started = time.monotonic()
            assert (await limiter.hit("api", "203.0.113.6", 100)).allowed
            took.append(time.monotonic() - started)
        assert not limiter.shared
        return took

    before = _fallbacks("api")
    took = _run(scenario, [limiter])

    assert TIMEOUT * 0.8 <= took[0] < TIMEOUT + 0.5, took
    assert max(took[1:]) < 0.05, f"Redis was asked again during the back-off: {took}"
    assert _fallbacks("api") - before == 4


def test_counting_is_shared_again_once_redis_is_back(private_redis: PrivateRedis) -> None:
    first, second = _instances(private_redis.url)

    async def scenario() -> tuple[list[bool], list[bool]]:
        clear_of_the_minute_edge()
        await first.hit("api", "warm-up", 100)
        private_redis.kill()
        during = [(await first.hit("api", "203.0.113.7", 3)).allowed for _ in range(4)]
        private_redis.start()
        await asyncio.sleep(RETRY + 0.1)
        after = []
        for index in range(4):
            limiter = second if index % 2 else first
            after.append((await limiter.hit("api", "203.0.113.8", 3)).allowed)
        return during, after

    during, after = _run(scenario, [first, second])

    assert during == [True, True, True, False], "while Redis is away the instance still applies the limit"
    assert after == [True, True, True, False], "the two instances count one client once again"


def test_login_failures_counted_during_an_outage_still_count_after_it(private_redis: PrivateRedis) -> None:
    (throttle,) = _instances(private_redis.url, "login", count=1)

    async def scenario() -> tuple[bool, bool]:
        clear_of_the_minute_edge()
        await throttle.hit("login", "user:warm-up", 5)
        private_redis.kill()
        for _ in range(5):
            await throttle.hit("login", "address:198.51.100.9", 5)
        during = await throttle.exhausted("login", "address:198.51.100.9", 5)
        private_redis.start()  # empty: it never saw those failures
        await asyncio.sleep(RETRY + 0.1)
        return during, await throttle.exhausted("login", "address:198.51.100.9", 5)

    assert _run(scenario, [throttle]) == (True, True)
