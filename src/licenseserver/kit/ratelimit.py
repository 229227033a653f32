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
        item = self._item(per_minute)
        if await self._limiter.hit(item, scope, key):
            return Verdict(True, 0)
        stats = await self._limiter.get_window_stats(item, scope, key)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def close(self) -> None:
        """Release what the limiter holds (nothing in-process); called when the app stops."""
