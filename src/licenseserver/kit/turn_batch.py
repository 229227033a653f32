"""Requests that arrive in one event-loop turn, answered by one call.

Under load a worker starts many requests per turn of its event loop, and when each asks the
database the same one-statement question (verify, heartbeat) the server pays the statement's
fixed costs — a pool loan, the driver's protocol work, PostgreSQL's parse/bind/execute and its
per-statement CPU — once per request. A `TurnBatch` collects what the requests of one turn ask
and runs them as one call; each request awaits its own answer. A request never waits for a later
one: the batch leaves at the end of the turn it was filled in. Alone on the loop, a request is a
batch of one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class TurnBatch(Generic[Item, Answer]):
    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[Sequence[Answer]]],
        max_items: int = 200,
        max_in_flight: int | None = None,
    ) -> None:
        """`run` answers a list of items with a list of answers, in the same order. With
        `max_in_flight`, a batch filled while that many are being answered waits for one of them
        to end, gathering the requests of the turns meanwhile (a full one leaves at once)."""
        self._run = run
        self._max_items = max_items
        self._max_in_flight = max_in_flight
        self._items: list[Item] = []
        self._waiting: list[asyncio.Future[Answer]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def ask(self, item: Item) -> Answer:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._items.append(item)
        self._waiting.append(answer)
        if len(self._items) == 1:
            loop.call_soon(self._send)
        elif len(self._items) >= self._max_items:
            self._send(full=True)
        return await answer

    def _send(self, full: bool = False) -> None:
        if not self._items:
            return
        if not full and self._max_in_flight is not None and len(self._running) >= self._max_in_flight:
            return  # the batch that ends next sends it
        items, waiting = self._items, self._waiting
        self._items, self._waiting = [], []
        task = asyncio.get_running_loop().create_task(self._answer(items, waiting))
        # The loop keeps only a weak reference to a task: hold it until it ends.
        self._running.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._items:
            self._send()

    async def _answer(self, items: list[Item], waiting: list[asyncio.Future[Answer]]) -> None:
        try:
            answers = await self._run(items)
            if len(answers) != len(items):
                raise RuntimeError(f"batch of {len(items)} answered with {len(answers)}")
        except BaseException as exc:
            # Every request of the batch fails the way it would have failed alone.
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, answer in zip(waiting, answers, strict=True):
            if not future.done():  # a request cancelled while it waited takes no answer
                future.set_result(answer)
