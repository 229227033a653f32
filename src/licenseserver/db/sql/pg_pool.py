"""The PostgreSQL connection pool of the SQL layer: asyncpg connections lent one request at a time.

asyncpg's own Pool costs 15–20 µs of CPU per acquire and release on our machines (a proxy
object per loan, an asyncio Task per release to shield it, a queue and holders; measured with
bench/run_bench.py's verify and a loop of loans, docs/performance.md), about 5 % of a verify.
What the License API needs is small: at most `size` connections, opened when first needed, a
loan that waits (bounded) only when all are out, and a connection that may be unsound — after a
cancellation, a timeout or a lost server — never lent again. That is this class: a stack of idle
connections under a semaphore.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg


class ConnectionPool:
    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], size: int, wait_seconds: float) -> None:
        self._connect = connect  # a coroutine function: a new connection (bounded by its own timeout)
        self._size = size
        self._wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(size)
        self._idle: deque[asyncpg.Connection] = deque()
        self._lent: set[asyncpg.Connection] = set()
        self._closed = False

    async def acquire(self) -> asyncpg.Connection:
        """A connection of the pool. While a slot is free this waits at most for a connect
        (bounded by its own timeout); only when every slot is out is the wait bounded here (a
        TimeoutError), so the common case skips a timer per request."""
        if self._closed:
            raise RuntimeError("database pool is closed")
        if self._free.locked():
            async with asyncio.timeout(self._wait_seconds):
                await self._free.acquire()
        else:
            await self._free.acquire()
        try:
            connection = self._take_idle() or await self._connect()
        except BaseException:
            self._free.release()
            raise
        self._lent.add(connection)
        return connection

    @property
    def opened(self) -> int:
        """Connections the pool holds now, lent or idle."""
        return len(self._lent) + len(self._idle)

    def _take_idle(self) -> asyncpg.Connection | None:
        while self._idle:
            # Newest first: the busiest connections stay warm, the others may be closed by the server.
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
        return None

    def release(self, connection: asyncpg.Connection, sound: bool) -> None:
        """Take a connection back. `sound`: the work on it ended between statements (success or an
        error of its own, not a cancellation, timeout or lost server), so it may be lent again."""
        self._lent.discard(connection)
        try:
            if sound and not self._closed and not connection.is_closed() and not connection.is_in_transaction():
                self._idle.append(connection)
            else:
                connection.terminate()
        finally:
            self._free.release()

    async def close(self) -> None:
        """Close the idle connections politely and end the lent ones (the app is stopping)."""
        self._closed = True
        idle, self._idle = list(self._idle), deque()
        for connection in idle:
            with contextlib.suppress(Exception):  # the server may be gone already
                await asyncio.wait_for(connection.close(), timeout=5)
        for connection in list(self._lent):
            connection.terminate()
        self._lent.clear()
