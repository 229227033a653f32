"""Rate limits shared by every instance through Redis, with this process's own counting as the
fallback.

With `REDIS_URL` set, each limit is counted in Redis, so a client gets its limit once however many
instances answer it. Redis never decides whether we answer at all:

- every Redis call is bounded by `REDIS_TIMEOUT_SECONDS` (connect, each reply, and the call as a
  whole), so a hanging Redis delays a request by at most that;
- a failed or slow call makes this instance count in-process instead (so N instances let up to
  N × the limit through), counts `licenseserver_ratelimit_fallbacks_total{limiter}` per decision
  taken that way, and leaves Redis alone for `REDIS_RETRY_SECONDS`;
- then one request asks Redis again; once it answers, counting is shared again.

Falling back never means "allow": the log-in throttle keeps counting in-process, and attempts it
counted in-process during an outage still count for their minute after Redis is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from licenseserver.config import Settings
from licenseserver.kit.metrics import RATE_LIMIT_FALLBACKS
from licenseserver.kit.ratelimit import ALLOWED, RateLimiter, RateLimitItems, Verdict, seconds_until

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a Redis that is down, hanging or refusing looks like from here.
SHARED_STORE_FAILURES = (RedisError, OSError, TimeoutError)
# REDIS_URL's schemes as the `limits` library names its async Redis storage.
STORAGE_SCHEMES = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}


class RedisCounts:
    """The same sliding-window counter as RateLimiter's, kept in Redis (`limits`' asyncio strategy):
    each hit's count and check are one Lua script, so parallel hits never pass the limit together."""

    def __init__(self, storage: RedisStorage) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._item = RateLimitItems()

    async def hit(self, scope: str, key: str, per_minute: int) -> Verdict:
        item = self._item(per_minute)
        if await self._limiter.hit(item, scope, key):
            return ALLOWED
        stats = await self._limiter.get_window_stats(item, scope, key)
        return Verdict(False, seconds_until(stats.reset_time))

    async def exhausted(self, scope: str, key: str, per_minute: int) -> bool:
        return not await self._limiter.test(self._item(per_minute), scope, key)

    async def give_back(self, scope: str, key: str, per_minute: int) -> None:
        await self._limiter.hit(self._item(per_minute), scope, key, cost=-1)


class SharedRateLimiter(RateLimiter):
    """Counts in Redis; the in-process counting it inherits stands in while Redis does not answer."""

    shares_counts = True

    def __init__(
        self, storage: RedisStorage, pool: ConnectionPool, name: str, timeout_seconds: float, retry_seconds: float
    ) -> None:
        super().__init__()
        self._shared = RedisCounts(storage)
        self._pool = pool
        self._name = name
        self._timeout_seconds = timeout_seconds
        self._retry_seconds = retry_seconds
        self._away = False
        self._retry_at = 0.0
        self._fallbacks = RATE_LIMIT_FALLBACKS.labels(name)

    @property
    def shared(self) -> bool:
        """Whether the last word from Redis was an answer (False while counting in-process)."""
        return not self._away

    async def hit(self, scope: str, key: str, per_minute: int) -> Verdict:
        verdict = await self._ask_redis(lambda: self._shared.hit(scope, key, per_minute))
        if verdict is not None:
            return dataclasses.replace(verdict, shared=True)
        self._fallbacks.inc()
        return await super().hit(scope, key, per_minute)

    async def reserve(self, scope: str, key: str, per_minute: int) -> Verdict:
        # Attempts counted here while Redis was away keep counting once it is back.
        if await super().exhausted(scope, key, per_minute):
            return await super().refusal(scope, key, per_minute)
        return await self.hit(scope, key, per_minute)

    async def give_back(self, scope: str, key: str, per_minute: int, reserved: Verdict) -> None:
        if not reserved.shared:
            await super().give_back(scope, key, per_minute, reserved)
            return
        # Redis away now: the attempt stays counted there, which errs on the side of refusing.
        await self._ask_redis(lambda: self._shared.give_back(scope, key, per_minute))

    async def exhausted(self, scope: str, key: str, per_minute: int) -> bool:
        # Attempts counted here while Redis was away keep counting once it is back.
        if await super().exhausted(scope, key, per_minute):
            return True
        shared = await self._ask_redis(lambda: self._shared.exhausted(scope, key, per_minute))
        if shared is not None:
            return shared
        self._fallbacks.inc()
        return False

    async def close(self) -> None:
        await self._pool.aclose()

    async def _ask_redis(self, ask: Callable[[], Awaitable[T]]) -> T | None:
        """Redis's answer, or None when it has none for us in time (or is left alone for now)."""
        if not self._may_ask():
            return None
        try:
            async with asyncio.timeout(self._timeout_seconds):
                answer = await ask()
        except SHARED_STORE_FAILURES as exc:
            self._went_away(exc)
            return None
        self._came_back()
        return answer

    def _may_ask(self) -> bool:
        if not self._away:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        # This request asks; the others keep counting in-process until it has an answer.
        self._retry_at = now + self._retry_seconds
        return True

    def _went_away(self, exc: BaseException) -> None:
        if not self._away:
            log.warning(
                "Redis did not answer (%s): the %s rate limit counts in this process for now",
                type(exc).__name__,
                self._name,
            )
        self._away = True
        self._retry_at = time.monotonic() + self._retry_seconds

    def _came_back(self) -> None:
        if self._away:
            log.warning("Redis answers again: the %s rate limit is shared by every instance again", self._name)
            self._away = False


def rate_limiter_for(settings: Settings, name: str) -> RateLimiter:
    """The limiter `name` ("api", "login") of this process: shared through Redis when REDIS_URL is
    set, else in-process. Nothing connects until the first request."""
    if not settings.redis_url:
        return RateLimiter()
    timeout = settings.redis_timeout_seconds
    # Our own pool, so that every connection has the short timeouts and the app can close it.
    pool = ConnectionPool.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    scheme, rest = settings.redis_url.split("://", 1)
    storage = RedisStorage(
        f"{STORAGE_SCHEMES[scheme]}://{rest}",
        implementation="redispy",
        key_prefix=settings.redis_key_prefix,
        connection_pool=pool,  # type: ignore[arg-type]  # passed through to redis-py, typed narrowly
    )
    return SharedRateLimiter(storage, pool, name, timeout, settings.redis_retry_seconds)
