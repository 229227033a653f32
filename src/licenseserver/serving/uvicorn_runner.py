"""One process, uvicorn (uvloop + httptools: see docs/performance.md) serving one app or both;
SIGTERM or Ctrl-C stops every server of the process at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from licenseserver.config import Settings
from licenseserver.serving.apps import FACTORIES
from licenseserver.serving.timeouts import GRACEFUL_SECONDS

STARTUP_FAILED = 3  # uvicorn's own exit status when an app cannot start


def uvicorn_options(host: str, port: int, log_level: str = "INFO") -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        # The app alone decides whom to believe (TRUSTED_PROXIES); uvicorn would otherwise take
        # X-Forwarded-For from 127.0.0.1 and ::1 as the client address by default.
        "proxy_headers": False,
        # The app writes one access line per request itself, with its request id (kit/logs.py).
        "access_log": False,
        "log_config": None,
        "log_level": log_level.lower(),
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
    }


def uvicorn_config(service: str, host: str, port: int, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(FACTORIES[service], **uvicorn_options(host, port, settings.log_level))


class _SharedSignalServer(uvicorn.Server):
    """A uvicorn server that leaves signals to `run_in_this_process`, which stops every server
    of the process at once (uvicorn's own handlers would stop one server, then the next)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run_in_this_process(configs: list[uvicorn.Config]) -> None:
    """Serve until SIGTERM or Ctrl-C, then shut down gracefully and return (exit status 0)."""
    import uvloop

    servers = [_SharedSignalServer(config) for config in configs]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_until_signalled(servers))


async def _serve_until_signalled(servers: Sequence[uvicorn.Server]) -> None:
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        for server in servers:
            # A second Ctrl-C gives up waiting for in-flight requests.
            server.force_exit = server.force_exit or (server.should_exit and signum == signal.SIGINT)
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    await asyncio.gather(*(server.serve() for server in servers))
    if not all(server.started for server in servers):
        raise SystemExit(STARTUP_FAILED)
