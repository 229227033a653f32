"""Running the web apps: uvicorn (uvloop + httptools: see docs/performance.md) in this process
for one worker and for `serve all`; gunicorn's master over uvicorn workers for `--workers N`.

Why two ways: a single process needs no supervisor, so `--workers 1` and `serve all` cost nothing
extra. Several workers need one that restarts a crashed or stuck worker and shuts them all down
gracefully; gunicorn does that, and each of its workers is the same uvicorn server, so a request
costs the same either way. SIGTERM stops accepting connections, lets in-flight requests finish
(at most GRACEFUL_SECONDS) and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from typing import Any

import typer
import uvicorn
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings

DEFAULT_PORTS = {"api": 8000, "admin": 8001}
FACTORIES = {"api": "licenseserver.api.app:create_api_app", "admin": "licenseserver.admin.app:create_admin_app"}
GRACEFUL_SECONDS = 25  # in-flight requests get this long after SIGTERM; then the process exits
# A gunicorn worker's own server gives up a little earlier, so it still ends its lifespan cleanly.
WORKER_GRACEFUL_SECONDS = GRACEFUL_SECONDS - 3
WORKER_SILENT_TIMEOUT = 30  # gunicorn replaces a worker whose event loop is blocked this long
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
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


def announce(settings: Settings, service: str, host: str, port: int, api_key: str) -> None:
    url = f"http://{host}:{port}"
    if service == "api":
        typer.echo(f"License API:  {url}  (docs: {url}/docs)")
        # The key is a secret: shown to a person at a terminal, never written into captured logs.
        if sys.stdout.isatty():
            typer.echo(f"API key:      {api_key}")
        else:
            typer.echo("API key:      licenseserver api-key show  (prints it)")
        typer.echo(f"Database:     {safe_database_url(settings.database_url)}")
    else:
        typer.echo(f"Admin panel:  {url}/login")
        staff = staff_usernames(settings)
        if staff:
            typer.echo(f"Log in:       as {', '.join(staff)} with your password")
        else:
            typer.echo("Log in:       no staff account yet. Create one (the password is read from stdin):")
            typer.echo("              .venv/bin/licenseserver admin create NAME --password-stdin")
            typer.echo("              or start once with ADMIN_USERNAME and ADMIN_PASSWORD set.")


def safe_database_url(database_url: str) -> str:
    """The URL with its password masked, fit for a log."""
    if database_url.startswith("sqlite"):
        return database_url
    return make_url(database_url).render_as_string(hide_password=True)


def staff_usernames(settings: Settings, limit: int = 3) -> list[str]:
    from sqlalchemy import select

    from licenseserver.db.models import AdminUser
    from licenseserver.db.unit_of_work import run_in_orm_transaction

    async def read(session: AsyncSession) -> list[str]:
        query = select(AdminUser.username).where(AdminUser.is_active).order_by(AdminUser.id).limit(limit)
        return list((await session.scalars(query)).all())

    return run_in_orm_transaction(settings.database_url, read)


@contextlib.contextmanager
def metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """Several workers keep their metrics in files of one folder that /metrics merges. Called
    before anything imports prometheus_client, which reads the variable once. A folder we make is
    removed at exit; one the operator gives is theirs (it should be empty at start)."""
    if workers <= 1 or os.environ.get(METRICS_DIR_VARIABLE):
        yield
        return
    folder = tempfile.mkdtemp(prefix="licenseserver-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = folder
    owner = os.getpid()
    try:
        yield
    finally:
        # A gunicorn worker is a fork that leaves through this block too: only the master cleans up.
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)


def serve_services(settings: Settings, service: str, host: str, port: int | None, workers: int, api_key: str) -> None:
    if service == "all":
        api_port = port or DEFAULT_PORTS["api"]
        admin_port = api_port + 1 if port else DEFAULT_PORTS["admin"]
        announce(settings, "api", host, api_port, api_key)
        announce(settings, "admin", host, admin_port, api_key)
        configs = [uvicorn_config("api", host, api_port, settings), uvicorn_config("admin", host, admin_port, settings)]
        run_in_this_process(configs)
        return
    chosen_port = port or DEFAULT_PORTS[service]
    announce(settings, service, host, chosen_port, api_key)
    if workers == 1:
        run_in_this_process([uvicorn_config(service, host, chosen_port, settings)])
    else:
        from licenseserver.gunicorn_app import run_gunicorn

        run_gunicorn(load_factory(service), host, chosen_port, workers, settings.log_level)


def uvicorn_config(service: str, host: str, port: int, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(FACTORIES[service], **uvicorn_options(host, port, settings.log_level))


def load_factory(service: str) -> Callable[[], Any]:
    module, name = FACTORIES[service].split(":")
    factory: Callable[[], Any] = getattr(import_module(module), name)
    return factory


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
