"""Running the web apps under uvicorn (uvloop + httptools: see docs/performance.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings

DEFAULT_PORTS = {"api": 8000, "admin": 8001}
FACTORIES = {"api": "licenseserver.api.app:create_api_app", "admin": "licenseserver.admin.app:create_admin_app"}


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        # The app alone decides whom to believe (TRUSTED_PROXIES); uvicorn would otherwise take
        # X-Forwarded-For from 127.0.0.1 and ::1 as the client address by default.
        "proxy_headers": False,
        "access_log": False,
        "server_header": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 25,
    }


def announce(settings: Settings, service: str, host: str, port: int, api_key: str) -> None:
    url = f"http://{host}:{port}"
    if service == "api":
        typer.echo(f"License API:  {url}  (docs: {url}/docs)")
        typer.echo(f"API key:      {api_key}")
        typer.echo(f"Database:     {settings.database_url}")
    else:
        typer.echo(f"Admin panel:  {url}/login")
        staff = staff_usernames(settings)
        if staff:
            typer.echo(f"Log in:       as {', '.join(staff)} with your password")
        else:
            typer.echo("Log in:       no staff account yet. Create one (the password is read from stdin):")
            typer.echo("              .venv/bin/licenseserver admin create NAME --password-stdin")
            typer.echo("              or start once with ADMIN_USERNAME and ADMIN_PASSWORD set.")


def staff_usernames(settings: Settings, limit: int = 3) -> list[str]:
    from sqlalchemy import select

    from licenseserver.db.models import AdminUser
    from licenseserver.db.orm import run_in_orm_transaction

    async def read(session: AsyncSession) -> list[str]:
        query = select(AdminUser.username).where(AdminUser.is_active).order_by(AdminUser.id).limit(limit)
        return list((await session.scalars(query)).all())

    return run_in_orm_transaction(settings.database_url, read)


def serve_services(settings: Settings, service: str, host: str, port: int | None, workers: int, api_key: str) -> None:
    if service == "all":
        api_port = port or DEFAULT_PORTS["api"]
        admin_port = api_port + 1 if port else DEFAULT_PORTS["admin"]
        announce(settings, "api", host, api_port, api_key)
        announce(settings, "admin", host, admin_port, api_key)
        asyncio.run(_serve_together(host, api_port, admin_port))
        return
    chosen_port = port or DEFAULT_PORTS[service]
    announce(settings, service, host, chosen_port, api_key)
    uvicorn.run(FACTORIES[service], workers=workers, **uvicorn_options(host, chosen_port))


async def _serve_together(host: str, api_port: int, admin_port: int) -> None:
    servers = [
        uvicorn.Server(uvicorn.Config(FACTORIES["api"], **uvicorn_options(host, api_port))),
        uvicorn.Server(uvicorn.Config(FACTORIES["admin"], **uvicorn_options(host, admin_port))),
    ]
    await asyncio.gather(*(server.serve() for server in servers))
