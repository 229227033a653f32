"""A value loaded by a coroutine and reused for a few seconds: the shape of every setting the hot
path reads (API key, client config, rate limits). One load at a time; others reuse its result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlValue(Generic[T]):
    def __init__(self, load: Callable[[], Awaitable[T]], ttl_seconds: float, initial: T) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._value = initial
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < self._ttl

    async def get(self) -> T:
        if self._fresh():
            return self._value
        async with self._lock:
            if not self._fresh():
                # The value's age counts from before the read: a read that waited on a busy loop
                # must not stretch the promise (a replaced API key refused within one second).
                started = time.monotonic()
                self._value = await self._load()
                self._loaded_at = started
        return self._value

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
