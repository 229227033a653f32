"""The admin panel exactly as `licenseserver serve admin` builds and serves it (the same app
factory, the same `uvicorn_options`), wrapped for the list benchmark in a thin ASGI layer that
tells, in response headers, how many SQL statements the request sent and how long the server took.

It also reports the time spent in Python's full (generation 2) garbage collections during the
request, which shows whether a slow single request was a collection pause.

The statements are counted with SQLAlchemy's `before_cursor_execute` event on the panel's engine:
every SELECT, INSERT, UPDATE and DELETE the ORM sends (the BEGIN and COMMIT the driver issues
itself are not cursor executions and are not counted). With `BENCH_SQL_LOG=<file>` each statement
is also appended to that file as a JSON line with its parameters, for `admin_lists.py --explain`.

Run: `python bench/admin_probe.py --port 8101` with DATABASE_URL and SECRET_KEY set.
The probe is one per process: the benchmark sends its requests one at a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licenseserver.admin.app import create_admin_app
from licenseserver.serving import uvicorn_options

FACTORY = "admin_probe:create_probed_admin_app"
QUERIES_HEADER = b"x-bench-queries"
SERVER_MS_HEADER = b"x-bench-server-ms"
GC_MS_HEADER = b"x-bench-gc-ms"
SQL_LOG_ENV = "BENCH_SQL_LOG"


class RequestProbe:
    """What the current request cost: statements sent, full collections; one per process."""

    def __init__(self, log_path: str | None) -> None:
        self.count = 0
        self.request = ""
        self.full_gc_ms = 0.0
        self._gc_started = 0.0
        self.log_path = Path(log_path) if log_path else None

    def start(self, request: str) -> None:
        self.count = 0
        self.request = request
        self.full_gc_ms = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks: time the full collections (the ones that walk every object)."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif info["generation"] == 2:
            self.full_gc_ms += (time.perf_counter() - self._gc_started) * 1000

    def before_cursor_execute(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
    ) -> None:
        self.count += 1
        if self.log_path is not None:
            line = {"request": self.request, "statement": statement, "parameters": _plain(parameters)}
            with self.log_path.open("a") as log:
                log.write(json.dumps(line) + "\n")


def _plain(value: Any) -> Any:
    """Parameters as JSON: dates and times as ISO text, which PostgreSQL casts back by context."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class ProbeMiddleware:
    """Resets the probe when a request arrives and reports it when the response starts, which is
    after the panel's transaction middleware has committed (it sits inside this one)."""

    def __init__(self, app: ASGIApp, probe: RequestProbe) -> None:
        self.app = app
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode()
        self.probe.start(scope["path"] + ("?" + query if query else ""))
        started = time.perf_counter()

        async def with_probe(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((QUERIES_HEADER, str(self.probe.count).encode()))
                headers.append((SERVER_MS_HEADER, f"{elapsed_ms:.2f}".encode()))
                headers.append((GC_MS_HEADER, f"{self.probe.full_gc_ms:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_probe)


def create_probed_admin_app() -> ASGIApp:
    app = create_admin_app()
    probe = RequestProbe(os.environ.get(SQL_LOG_ENV))
    event.listen(app.state.admin.engine.sync_engine, "before_cursor_execute", probe.before_cursor_execute)
    gc.callbacks.append(probe.on_gc)
    return ProbeMiddleware(app, probe)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the admin panel with per-request statement counts.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    # An import string, as `licenseserver serve admin` passes: needs bench/ on PYTHONPATH.
    uvicorn.run(FACTORY, **uvicorn_options(args.host, args.port))


if __name__ == "__main__":
    main()
