"""Running a coroutine to completion from synchronous code (the CLI, test set-up)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run, also when the calling thread already runs an event loop (then the coroutine
    gets a fresh loop in a helper thread, since a running loop cannot be re-entered)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()
