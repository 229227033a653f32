"""Access lines written off the event loop.

A write to the log stream can block for milliseconds (a full pipe, a file under page-cache
writeback), and on the event loop such a wait stalls every request in flight. So the loop only
collects the lines of HAND_OVER_SECONDS; then they go as one batch to a writer thread, which
writes and flushes them under the handler's lock (the lock other log lines take too). One
hand-over per 50 ms, not per line nor per loop turn: waking the thread is what costs.

Lines still queued when the process ends are written by `flush()` (the apps' lifespans call it,
and an atexit hook does for any other exit path); a SIGKILL loses at most 50 ms of lines.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import queue
import threading
from typing import TextIO

_STOP = None
# How long the loop gathers lines before handing them over. Each hand-over wakes the writer
# thread, which then takes the GIL from the loop: once per loop turn, that cost a request alone
# on the loop 40 % more CPU (bench/verify_instructions.py, docs/performance.md); once per 50 ms
# it costs nothing measurable, and a SIGKILL loses at most these 50 ms of lines.
HAND_OVER_SECONDS = 0.05


class LineWriter:
    def __init__(self, handler: logging.StreamHandler[TextIO]) -> None:
        self.handler = handler
        self._pending: list[str] = []
        self._batches: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        atexit.register(self.flush)

    def add(self, line: str) -> None:
        """Queue one line (without its newline). Outside an event loop it is written at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(line + "\n")
            return
        self._pending.append(line)
        if len(self._pending) == 1:
            loop.call_later(HAND_OVER_SECONDS, self._hand_over)

    def flush(self, timeout: float = 2.0) -> None:
        """Write every queued line now and stop the writer thread (it starts again on demand)."""
        self._hand_over()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._batches.put(_STOP)
            thread.join(timeout)
        self._thread = None

    def _hand_over(self) -> None:
        if not self._pending:
            return
        batch = "\n".join(self._pending) + "\n"
        self._pending.clear()
        self._ensure_thread()
        self._batches.put(batch)

    def _ensure_thread(self) -> None:
        # A forked worker inherits the object but not the thread: each process starts its own.
        if self._thread is None or self._pid != os.getpid():
            self._batches = queue.SimpleQueue()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="access-lines", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        batches = self._batches
        stop = False
        while not stop:
            parts: list[str] = []
            item = batches.get()
            # Everything already queued goes out in the same write.
            while True:
                if item is _STOP:
                    stop = True
                    break
                parts.append(item)
                try:
                    item = batches.get_nowait()
                except queue.Empty:
                    break
            if parts:
                self._write("".join(parts))

    def _write(self, text: str) -> None:
        # A stream closed at exit costs the lines, never an exception in the writer.
        with self.handler.lock or contextlib.nullcontext(), contextlib.suppress(ValueError, OSError):
            self.handler.stream.write(text)
            self.handler.stream.flush()
