"""The deliverer each License API process runs beside its requests (api/app.py's lifespan).

A loop: one cheap read asks whether anything is to be done; if so, dispatch the outbox's new
events (dispatch.py) and lease as many due deliveries as there are free slots (`concurrency`
requests at once), each sent in a task of its own; then wait a poll interval, or less when a slot
frees up while more is due. Requests never wait for it: it runs in its own tasks, and its database
work is short statements and transactions on the pool (never open across an HTTP request).

Several processes share the work on PostgreSQL through `FOR UPDATE SKIP LOCKED` and the lease
(each delivery is sent by one of them). SQLite has no row locks and needs none: its writes run
one at a time, the dispatch is one write transaction and the claim one UPDATE, so the workers of
`serve api --workers N` on one file cannot take the same event or delivery either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from licenseserver.db.sql import Connection, Database
from licenseserver.domain.webhooks.delivery import ClaimedDelivery, DeliveryRules, attempt, claim_due
from licenseserver.domain.webhooks.dispatch import dispatch_events
from licenseserver.domain.webhooks.statements import ANYTHING_TO_DO

log = logging.getLogger(__name__)

CONCURRENCY = 4
SecretSource = Callable[[Connection], Awaitable[str]]


class Deliverer:
    def __init__(
        self,
        db: Database,
        rules: DeliveryRules,
        secret_source: SecretSource,
        poll_seconds: float = 1.0,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._db = db
        self._rules = rules
        self._secret_source = secret_source
        self._sealing_key: str | None = None
        self._poll = poll_seconds
        self._concurrency = concurrency
        self._sending: set[asyncio.Task[bool]] = set()

    async def run_forever(self) -> None:
        """Until cancelled; a round that fails (the database away) is tried again next poll. On
        cancellation the requests in flight are cancelled too: their leases bring them back."""
        try:
            while True:
                try:
                    more = await self.round()
                except Exception as exc:
                    log.warning("webhook delivery round failed: %s: %s", type(exc).__name__, exc)
                    more = False
                if more and self._sending:
                    await asyncio.wait(self._sending, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(self._poll)
        finally:
            for task in self._sending:
                task.cancel()
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def round(self) -> bool:
        """Dispatch and start what is due; True when every slot is busy (more may be waiting)."""
        free = self._concurrency - len(self._sending)
        if free <= 0:
            return True
        async with self._db.autocommit() as conn:
            todo = await conn.fetchrow(ANYTHING_TO_DO)
        if todo is None or not (todo["undispatched"] or todo["due"]):
            return False
        if todo["undispatched"]:
            await self.dispatch()
        claimed = await claim_due(self._db, free, self._rules)
        for delivery in claimed:
            self._start(delivery, await self._key())
        return len(claimed) == free

    async def dispatch(self) -> int:
        """Dispatch the whole outbox, a batch per transaction; how many events."""
        total = 0
        while True:
            async with self._db.transaction() as conn:
                count = await dispatch_events(conn)
            total += count
            if count == 0:
                return total

    async def drain(self) -> int:
        """Dispatch and send until nothing is due now, waiting for each attempt (tests, tools);
        how many attempts were made."""
        made = 0
        while True:
            await self.dispatch()
            claimed = await claim_due(self._db, self._concurrency, self._rules)
            if not claimed:
                return made
            key = await self._key()
            await asyncio.gather(*(attempt(self._db, delivery, self._rules, key) for delivery in claimed))
            made += len(claimed)

    def _start(self, delivery: ClaimedDelivery, key: str) -> None:
        task = asyncio.create_task(self._send(delivery, key), name=f"webhook-delivery-{delivery.id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, delivery: ClaimedDelivery, key: str) -> bool:
        try:
            return await attempt(self._db, delivery, self._rules, key)
        except Exception as exc:  # recording failed (database away): the lease brings it back
            log.warning("webhook delivery %s not recorded: %s: %s", delivery.id, type(exc).__name__, exc)
            return False

    async def _key(self) -> str:
        if self._sealing_key is None:
            async with self._db.autocommit() as conn:
                self._sealing_key = await self._secret_source(conn)
        return self._sealing_key
