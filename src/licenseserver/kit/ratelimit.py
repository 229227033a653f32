"""Per-address rate limits on top of the `limits` library.

The sliding-window-counter strategy keeps two counters per key (O(1) per hit) and lets exactly
`limit` requests through a burst from a fresh key, which the moving-window strategy also does but
at O(limit) memory and time per key. Limits are read per request from `RateLimitCache`, so a
change in the panel needs no restart.

This class counts in this process only, with `limits`' synchronous in-memory storage: a hit is
a plain call on the event loop's thread, with no await and no asyncio lock (the asyncio storage
cost 8–18 µs a hit against 6–12 µs, measured alone; docs/performance.md). With `REDIS_URL` set,
`kit/shared_limits.py` counts in Redis for every instance and falls back to this class while
Redis does not answer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int
    shared: bool = False  # counted in Redis for every instance (not in this process alone)


ALLOWED = Verdict(True, 0)


class RateLimitItems:
    """One `limits` item per limit value, made once (a limit changes rarely)."""

    def __init__(self) -> None:
        self._items: dict[int, RateLimitItem] = {}

    def __call__(self, per_minute: int) -> RateLimitItem:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return item


def seconds_until(reset_time: float) -> int:
    """Retry-After for a refusal whose window lets the next request through at `reset_time`."""
    return max(1, math.ceil(reset_time - time.time()))


class RateLimiter:
    # False: `count` decides for this process alone and the guard may call it without an await.
    shares_counts = False

    def __init__(self) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._item = RateLimitItems()

    def count(self, scope: str, key: str, per_minute: int) -> Verdict:
        """Count one request in this process if the limit allows it (the count and the check are
        one step: nothing else runs on the event loop in between)."""
        if self._limiter.hit(self._item(per_minute), scope, key):
            return ALLOWED
        return self.refusal_here(scope, key, per_minute)

    def refusal_here(self, scope: str, key: str, per_minute: int) -> Verdict:
        """A refusal, with the seconds until the limit lets the next request through."""
        stats = self._limiter.get_window_stats(self._item(per_minute), scope, key)
        return Verdict(False, seconds_until(stats.reset_time))

    def exhausted_here(self, scope: str, key: str, per_minute: int) -> bool:
        return not self._limiter.test(self._item(per_minute), scope, key)

    async def exhausted(self, scope: str, key: str, per_minute: int) -> bool:
        """True when a further hit would be refused (used to throttle failed log-ins)."""
        return self.exhausted_here(scope, key, per_minute)

    async def hit(self, scope: str, key: str, per_minute: int) -> Verdict:
        """Count one request if the limit allows it. The count and the check are one atomic step
        (a Lua script in Redis), so parallel hits never pass the limit together."""
        return self.count(scope, key, per_minute)

    async def refusal(self, scope: str, key: str, per_minute: int) -> Verdict:
        return self.refusal_here(scope, key, per_minute)

    async def reserve(self, scope: str, key: str, per_minute: int) -> Verdict:
        """A hit for an attempt about to run (the log-in throttle), counted before it runs."""
        return await self.hit(scope, key, per_minute)

    async def give_back(self, scope: str, key: str, per_minute: int, reserved: Verdict) -> None:
        """Uncount a reserved attempt that turned out not to count (a successful log-in). The
        `limits` strategies have no refund; a hit of cost -1 is one, on every storage
        (tests/admin/test_login_hardening.py checks it in-process and in Redis)."""
        self._limiter.hit(self._item(per_minute), scope, key, cost=-1)

    async def close(self) -> None:
        """Release what the limiter holds (nothing in-process); called when the app stops."""
