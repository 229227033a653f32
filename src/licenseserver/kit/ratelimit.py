"""Per-address rate limits on top of the `limits` library.

The sliding-window-counter strategy keeps two counters per key (O(1) per hit) and lets exactly
`limit` requests through a burst from a fresh key, which the moving-window strategy also does but
at O(limit) memory and time per key. Limits are read per request from `RateLimitCache`, so a
change in the panel needs no restart.

This class counts in this process only, with `limits`' synchronous in-memory storage: a hit is
a plain call on the event loop's thread, with no await and no asyncio lock (the asyncio storage
cost 8–18 µs a hit against 6–12 µs, measured alone; docs/performance.md), and its expired keys
are swept from that thread too (`SweptMemoryStorage`). With `REDIS_URL` set,
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

# How often the in-process counters' expired keys are dropped. A key's count is right whatever
# this is (the storage checks a key's expiry when it reads it); only memory waits for the sweep.
SWEEP_SECONDS = 5.0


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


class SweptMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage without its timer thread. The library starts a
    `threading.Timer` of 10 ms whenever a counter changes and none is alive, so under load a new
    thread every 10 ms, and `Thread.start` waits for the thread to run: 6.6 % of the event loop's
    samples in a verify profile (docs/performance.md). Here the owner sweeps instead, with the
    library's own sweep, on its own thread (tests/test_rate_limiter.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()  # the one the library starts in __init__
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - replaces the library's private hook
        """Called by the library on every change of a counter: nothing to start."""

    def sweep_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimiter:
    # False: `count` decides for this process alone and the guard may call it without an await.
    shares_counts = False

    def __init__(self) -> None:
        self._storage = SweptMemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._item = RateLimitItems()

    def count(self, scope: str, key: str, per_minute: int) -> Verdict:
        """Count one request in this process if the limit allows it (the count and the check are
        one step: nothing else runs on the event loop in between)."""
        self._storage.sweep_now_and_then()
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
