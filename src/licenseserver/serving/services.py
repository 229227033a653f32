"""`serve api|admin|all`: announce what is served where, then run it in this process or under
gunicorn's master."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings
from licenseserver.serving.apps import DEFAULT_PORTS, load_factory
from licenseserver.serving.uvicorn_runner import run_in_this_process, uvicorn_config


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
        # Imported only here: gunicorn costs a single-process server nothing.
        from licenseserver.serving.gunicorn_runner import run_gunicorn

        run_gunicorn(load_factory(service), host, chosen_port, workers, settings.log_level)


def announce(settings: Settings, service: str, host: str, port: int, api_key: str) -> None:
    url = f"http://{host}:{port}"
    if service == "api":
        typer.echo(f"License API:  {url}  (docs: {url}/docs)")
        # The key is a secret: shown to a person at a terminal, never written into captured logs.
        if sys.stdout.isatty():
            typer.echo(f"API key:      {api_key}")
        else:
            typer.echo(f"API key:      {operator_command()} api-key show  (prints it)")
        typer.echo(f"Database:     {safe_database_url(settings.database_url)}")
    else:
        typer.echo(f"Admin panel:  {url}/login")
        staff = staff_usernames(settings)
        if staff:
            typer.echo(f"Log in:       as {', '.join(staff)} with your password")
        else:
            typer.echo("Log in:       no staff account yet. Create one (it asks for the password):")
            typer.echo(f"              {operator_command()} admin create NAME --password-stdin")
            typer.echo("              or start once with ADMIN_USERNAME and ADMIN_PASSWORD set.")


def operator_command() -> str:
    """The CLI as the operator can type it again here: `.venv/bin/licenseserver` after
    scripts/start, the bare name where PATH finds this very script (a container), else its path."""
    invoked = Path(sys.argv[0]).resolve()
    if invoked.name != "licenseserver":
        return "licenseserver"
    found = shutil.which("licenseserver")
    if found is not None and Path(found).resolve() == invoked:
        return "licenseserver"
    try:
        return str(invoked.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(invoked)


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
