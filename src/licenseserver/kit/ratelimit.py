"""Per-address rate limits on top of the `limits` library.

The sliding-window-counter strategy keeps two counters per key (O(1) per hit) and lets exactly
`limit` requests through a burst from a fresh key, which the moving-window strategy also does but
at O(limit) memory and time per key. Limits are read per request from `RateLimitCache`, so a
change in the panel needs no restart.

This class counts in this process only. With `REDIS_URL` set, `kit/shared_limits.py` counts in
Redis for every instance and falls back to this class while Redis does not answer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int
    shared: bool = False  # counted in Redis for every instance (not in this process alone)


class RateLimiter:
    def __init__(self, storage: Storage | None = None) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage or MemoryStorage())
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def _item(self, per_minute: int) -> RateLimitItemPerMinute:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return item

    async def exhausted(self, scope: str, key: str, per_minute: int) -> bool:
        """True when a further hit would be refused (used to throttle failed log-ins)."""
        return not await self._limiter.test(self._item(per_minute), scope, key)

    async def hit(self, scope: str, key: str, per_minute: int) -> Verdict:
        """Count one request if the limit allows it. The count and the check are one atomic step
        (a Lua script in Redis), so parallel hits never pass the limit together."""
        if await self._limiter.hit(self._item(per_minute), scope, key):
            return Verdict(True, 0)
        return await self.refusal(scope, key, per_minute)

    async def refusal(self, scope: str, key: str, per_minute: int) -> Verdict:
        """A refusal, with the seconds until the limit lets the next request through."""
        stats = await self._limiter.get_window_stats(self._item(per_minute), scope, key)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def reserve(self, scope: str, key: str, per_minute: int) -> Verdict:
        """A hit for an attempt about to run (the log-in throttle), counted before it runs."""
        return await self.hit(scope, key, per_minute)

    async def give_back(self, scope: str, key: str, per_minute: int, reserved: Verdict) -> None:
        """Uncount a reserved attempt that turned out not to count (a successful log-in). The
        `limits` strategies have no refund; a hit of cost -1 is one, on every storage
        (tests/admin/test_login_hardening.py checks it in-process and in Redis)."""
        await self._limiter.hit(self._item(per_minute), scope, key, cost=-1)

    async def close(self) -> None:
        """Release what the limiter holds (nothing in-process); called when the app stops."""
