"""Open-loop (constant-rate) load: requests are due on a fixed timetable (request i at
start + i ÷ rate) whatever the server does, and each latency is measured from the time the
request was *due*, not from when a free connection sent it. A server that falls behind therefore
shows its queue in the latencies (no coordinated omission, unlike a closed loop or `hey -q`,
whose workers wait for their answer before the next tick).

Raw HTTP/1.1 over asyncio keep-alive connections: no client library between the timetable and
the socket. A connection idle longer than IDLE_SECONDS is replaced before use, so none is reused
just as the server's keep-alive timeout (uvicorn: 5 s) closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from traffic import UNEXPECTED, Traffic

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]

IDLE_SECONDS = 2.0
# Seconds at the run's rate before the measured ones, their latencies not kept (wrk2 calibrates
# for 10 s the same way): the figures are of the steady rate, not of the moment it begins. The
# server has just been idle through the baseline's run, and a writing scenario may start right
# after the checkpoint of another's preparation, when the first write to every page logs all of
# it (docs/performance.md, "The open-loop generator").
WARMUP_SECONDS = 2.0
DRAIN_SECONDS = 30.0  # after the last due time, answers still outstanding then count as errors
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass
class OpenLoopResult:
    planned_rate: float
    achieved_rate: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    counters: dict[str, int] = field(default_factory=dict)
    rows_written: int | None = None  # verify scenarios: devices the run refreshed (a write each)
    # The generator's own CPU, in cores (process time ÷ wall time): near 1.0 it cannot keep its
    # timetable, and its own lag would show as the server's latency.
    generator_cores: float = 0.0
    generator_niceness: int = 0  # the niceness its runs had (bench/run_bench.py --generator-nice)
    server_p99_ms: float | None = None  # inside the server process, from its access log
    answered_in_all: int = 0  # the warm-up's answers too: what `rows_written` is divided by
    measured_from: float = 0.0  # wall-clock time (epoch seconds) when the measured part began

    @property
    def writes_per_request(self) -> float | None:
        if self.rows_written is None or not self.answered_in_all:
            return None
        return self.rows_written / self.answered_in_all


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank of an ascending list; 0 when it is empty."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.last_used = time.monotonic()

    async def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or time.monotonic() - self.last_used > IDLE_SECONDS:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunks()
        else:
            raise ConnectionError("an answer with neither Content-Length nor chunked encoding")
        self.last_used = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return int(status_line.split()[1]), headers, body

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def constant_rate(
    host: str, port: int, traffic: Traffic, rate: float, seconds: float, connections: int
) -> OpenLoopResult:
    """`rate` requests/s for WARMUP_SECONDS and then `seconds` measured, over up to `connections`
    keep-alive connections."""
    due_times: asyncio.Queue[float | None] = asyncio.Queue()
    latencies: list[float] = []
    answered_in_all = 0
    counters: Counter[str] = Counter()
    loop = asyncio.get_running_loop()

    async def sender(connection: Connection) -> None:
        nonlocal answered_in_all
        try:
            while (due := await due_times.get()) is not None:
                try:
                    status, headers, body = await asyncio.wait_for(
                        connection.exchange(traffic.next_request()), REQUEST_TIMEOUT_SECONDS
                    )
                    counters[traffic.judge(status, headers, body)] += 1
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
                    counters["socket error"] += 1
                    await connection.close()
                answered_in_all += 1
                if due >= measured_from:
                    latencies.append(loop.time() - due)
        finally:
            await connection.close()

    # Connected before the timetable starts: opening all of them at once inside it would hold
    # up its first requests and send the server the backlog in one burst, a start no client
    # population makes and whose queue then stood for the run's tail (docs/performance.md).
    pool = [Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(connection.open() for connection in pool))
    senders = [asyncio.create_task(sender(connection)) for connection in pool]
    total = max(1, round(rate * (WARMUP_SECONDS + seconds)))
    start = loop.time() + 0.1
    measured_from = start + WARMUP_SECONDS
    measured_from_wall = time.time() + (measured_from - loop.time())
    cpu_started = time.process_time()
    for i in range(total):
        due = start + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        due_times.put_nowait(due)
    for _ in senders:
        due_times.put_nowait(None)
    _, late = await asyncio.wait(senders, timeout=DRAIN_SECONDS)
    for task in late:
        task.cancel()
    finished = loop.time()
    generator_cores = (time.process_time() - cpu_started) / max(finished - start, 1e-9)
    ordered = sorted(latencies)
    answered = len(ordered)
    errors = counters[UNEXPECTED] + counters["socket error"] + (total - answered_in_all)
    return OpenLoopResult(
        planned_rate=rate,
        achieved_rate=answered / max(finished - measured_from, 1e-9),
        requests=answered,
        errors=errors,
        p50_ms=1e3 * percentile(ordered, 0.50),
        p99_ms=1e3 * percentile(ordered, 0.99),
        p999_ms=1e3 * percentile(ordered, 0.999),
        max_ms=1e3 * (ordered[-1] if ordered else 0.0),
        counters=dict(counters),
        generator_cores=generator_cores,
        answered_in_all=answered_in_all,
        measured_from=measured_from_wall,
    )


@contextlib.contextmanager
def generator_niceness(niceness: int) -> Iterator[int]:
    """The calling thread (the generator's event loop) at `niceness` for the run, then back; what
    it ran at. Below 0 needs root (CAP_SYS_NICE); without it the run keeps the current niceness."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        yield before
        return
    try:
        yield niceness
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def run_constant_rate(
    host: str, port: int, traffic: Traffic, rate: float, seconds: float, connections: int
) -> OpenLoopResult:
    # The server stack's event loop, so the generator costs the shared machine as little as it can.
    policy = uvloop.EventLoopPolicy() if uvloop is not None else None
    with collector_paused(), asyncio.Runner(loop_factory=policy.new_event_loop if policy else None) as runner:
        return runner.run(constant_rate(host, port, traffic, rate, seconds, connections))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in the generator while it keeps its timetable. The bench's process
    holds every scenario's rows and the earlier runs' results; a full collection of them stops the
    timetable and the reading of every answer for as long as it takes, which the latencies would
    charge to the server. Collected before the run instead; what the run leaves, after it."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def server_side_p99_ms(access_log: Path, offset: int, path: str, since: float) -> float | None:
    """p99 of the `duration_ms` the server logged for `path` in the lines after `offset` of its
    access log (kit/logs.py) written from `since` (epoch seconds) on, the warm-up's left out: the
    time inside the server process, beside the generator's view."""
    durations = [
        float(entry["duration_ms"])
        for entry in access_lines(access_log, offset)
        if entry.get("path") == path and logged_at(entry["time"]) >= since
    ]
    return percentile(sorted(durations), 0.99) if durations else None


def access_lines(access_log: Path, offset: int = 0) -> Iterator[dict[str, Any]]:
    """The access lines (those with a `duration_ms`) of the server's log after `offset`."""
    with access_log.open("rb") as log:
        log.seek(offset)
        for line in log:
            if b'"duration_ms"' in line:
                with contextlib.suppress(ValueError):
                    yield json.loads(line)


def logged_at(stamp: str) -> float:
    """Epoch seconds of an access line's `time` (ISO 8601; Python 3.11 reads its `Z` as UTC)."""
    return datetime.fromisoformat(stamp).timestamp()
