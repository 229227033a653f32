"""The in-process rate limiter: `limits`' own counting, without a timer thread per 10 ms."""

from __future__ import annotations

import asyncio
import threading

import pytest

from licenseserver.kit import ratelimit
from licenseserver.kit.ratelimit import RateLimiter


def test_exactly_the_limit_passes_then_a_refusal_with_retry_after() -> None:
    limiter = RateLimiter()
    verdicts = [limiter.count("api", "203.0.113.1", 5) for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 2
    assert 1 <= verdicts[-1].retry_after_seconds <= 120
    assert limiter.count("api", "203.0.113.2", 5).allowed, "another address counts on its own"


def test_hits_start_no_thread() -> None:
    limiter = RateLimiter()
    before = set(threading.enumerate())
    for n in range(500):
        limiter.count("api", f"198.51.100.{n % 7}", 1_000)
    assert set(threading.enumerate()) <= before


def test_expired_keys_are_swept_on_a_later_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter()
    for n in range(20):
        limiter.count("api", f"192.0.2.{n}", 10)
    storage = limiter._storage
    assert len(storage.storage) == 20
    storage.expirations = dict.fromkeys(storage.expirations, 0.0)  # all of them past their expiry
    limiter.count("api", "192.0.2.200", 10)
    assert len(storage.storage) == 21, "no sweep before SWEEP_SECONDS have passed"
    monkeypatch.setattr(ratelimit, "SWEEP_SECONDS", 0.0)
    limiter.count("api", "192.0.2.201", 10)
    assert set(storage.storage) == {key for key in storage.storage if "192.0.2.20" in key}
    assert len(storage.storage) == 2


def test_a_given_back_attempt_no_longer_counts() -> None:
    async def scenario() -> None:
        limiter = RateLimiter()
        first = await limiter.reserve("login", "alice", 2)
        await limiter.give_back("login", "alice", 2, first)
        assert (await limiter.reserve("login", "alice", 2)).allowed
        assert (await limiter.reserve("login", "alice", 2)).allowed
        assert await limiter.exhausted("login", "alice", 2)
        assert not (await limiter.hit("login", "alice", 2)).allowed

    asyncio.run(scenario())
