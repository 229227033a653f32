"""Access lines leave the event loop: a stream that blocks stalls the writer thread, not requests."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import textwrap
import threading
import time

from licenseserver.kit.line_writer import HAND_OVER_SECONDS, LineWriter


class SlowStream(io.StringIO):
    """A log stream whose every write blocks, as a full pipe or a file under writeback does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.writes = 0
        self.writer_threads: set[str] = set()

    def write(self, text: str) -> int:
        self.writes += 1
        self.writer_threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return super().write(text)


def test_a_blocking_stream_does_not_stall_the_event_loop() -> None:
    stream = SlowStream(delay=0.3)
    writer = LineWriter(logging.StreamHandler(stream))

    async def serve() -> float:
        longest = 0.0
        for turn in range(20):
            started = time.perf_counter()
            for n in range(10):
                writer.add(f"turn {turn} line {n}")
            await asyncio.sleep(0)
            longest = max(longest, time.perf_counter() - started)
        return longest

    longest_turn = asyncio.run(serve())
    writer.flush()
    assert longest_turn < 0.1, f"a loop turn waited {longest_turn * 1000:.0f} ms for the stream"
    lines = stream.getvalue().splitlines()
    assert lines == [f"turn {t} line {n}" for t in range(20) for n in range(10)]
    assert threading.main_thread().name not in stream.writer_threads
    # Lines queued while the stream blocked went out together, not one write per line.
    assert stream.writes < 20


def test_flush_writes_every_queued_line_and_the_writer_starts_again() -> None:
    stream = io.StringIO()
    writer = LineWriter(logging.StreamHandler(stream))

    async def log(prefix: str) -> None:
        for n in range(3):
            writer.add(f"{prefix}{n}")

    asyncio.run(log("a"))
    writer.flush()
    assert stream.getvalue() == "a0\na1\na2\n"
    asyncio.run(log("b"))
    writer.flush()
    assert stream.getvalue().splitlines() == ["a0", "a1", "a2", "b0", "b1", "b2"]


def test_outside_an_event_loop_a_line_is_written_at_once() -> None:
    stream = io.StringIO()
    LineWriter(logging.StreamHandler(stream)).add("no loop")
    assert stream.getvalue() == "no loop\n"


def test_lines_still_queued_at_exit_are_written() -> None:
    program = textwrap.dedent(
        """
        import asyncio, logging, sys
        from licenseserver.kit.logs import configure_logging, log_request

        configure_logging("json", "INFO", sys.stdout)

        async def main():
            for n in range(50):
                log_request("GET", "/x", f"/x/{n}", 200, 0.001, "127.0.0.1", "api")

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    paths = [line.split('"path":"', 1)[1].split('"', 1)[0] for line in done.stdout.splitlines()]
    assert paths == [f"/x/{n}" for n in range(50)]


def test_lines_leave_in_one_hand_over_per_interval_not_per_loop_turn() -> None:
    stream = SlowStream(delay=0.0)
    writer = LineWriter(logging.StreamHandler(stream))

    async def serve() -> list[str]:
        # About 100 loop turns of 2 ms, a line each, as requests alone on the loop make them.
        deadline = time.perf_counter() + 0.2
        n = 0
        while time.perf_counter() < deadline:
            writer.add(f"line {n}")
            n += 1
            await asyncio.sleep(0.002)
        await asyncio.sleep(2 * HAND_OVER_SECONDS + 0.05)  # the last ones leave without a flush
        return [f"line {i}" for i in range(n)]

    expected = asyncio.run(serve())
    assert stream.getvalue().splitlines() == expected
    assert len(expected) > 40
    # 0.2 s of lines in HAND_OVER_SECONDS slices: a handful of writes, not one per turn.
    assert stream.writes <= 0.2 / HAND_OVER_SECONDS + 3
    writer.flush()
