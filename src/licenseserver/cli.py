"""`licenseserver`: the operator's command line (contract §2). Runbooks depend on its output."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings, SettingsError, load_settings
from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.api_key.service import ensure_api_key, regenerate_api_key
from licenseserver.domain.installation import prepare_installation, run_in_transaction, secret_key
from licenseserver.kit.errors import AppError
from licenseserver.kit.timefmt import iso_utc

app = typer.Typer(help="V2 License Server: License API, admin panel and their database.", no_args_is_help=True)
api_key_app = typer.Typer(help="Show or replace the system API key.", no_args_is_help=True)
customer_app = typer.Typer(help="Manage customers.", no_args_is_help=True)
license_app = typer.Typer(help="Manage licenses.", no_args_is_help=True)
resource_app = typer.Typer(help="Manage the resource pool.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
app.add_typer(customer_app, name="customer")
app.add_typer(license_app, name="license")
app.add_typer(resource_app, name="resource")
admin_app = typer.Typer(help="Manage staff accounts of the admin panel.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
signing_key_app = typer.Typer(help="Rotate, list or retire the keys that sign answers.", no_args_is_help=True)
app.add_typer(signing_key_app, name="signing-key")
token_app = typer.Typer(help="Create, list or revoke management API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
CLI_ACTOR = "cli"


class Service(StrEnum):
    api = "api"
    admin = "admin"
    all = "all"


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None


def parse_or_exit(model: type[M], **values: Any) -> M:
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        raise fail(f"{field}: {first['msg']}", 2) from None


def run_orm(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One CLI command, one transaction: committed when the command succeeds. A refusal from
    the domain (AppError) is one line on stderr and a non-zero exit."""
    try:
        return run_in_orm_transaction(settings.database_url, work)
    except AppError as exc:
        raise fail(exc.message) from None


def prepare_or_exit(settings: Settings) -> str:
    """Migrate and seed; an unreachable database is one line, not a trace."""
    try:
        return prepare_installation(settings)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise fail(f"cannot use the database: {reason}") from None


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, default=str))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = settings_or_exit()
    prepare_or_exit(settings)
    typer.echo("Database is up to date.")


@app.command()
def serve(
    service: Annotated[Service, typer.Argument(help="api, admin or all")],
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (api 8000, admin 8001)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (api or admin alone)")] = 1,
) -> None:
    """Run the License API, the admin panel, or both; migrates the database first."""
    from licenseserver.kit.logs import configure_logging
    from licenseserver.serving import metrics_shared_by_workers, serve_services

    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    with metrics_shared_by_workers(1 if service == Service.all else workers):
        api_key = prepare_or_exit(settings)
        serve_services(settings, service.value, host, port, workers, api_key)


@api_key_app.command("show")
def api_key_show() -> None:
    """Print the active system API key alone on its line."""
    settings = settings_or_exit()
    prepare_or_exit(settings)
    typer.echo(run_in_transaction(settings, ensure_api_key))


@api_key_app.command("regenerate")
def api_key_regenerate() -> None:
    """Replace the system API key; the old one is refused within one second everywhere."""
    settings = settings_or_exit()
    prepare_or_exit(settings)
    typer.echo(run_in_transaction(settings, regenerate_api_key))


@customer_app.command("create")
def customer_create(
    name: Annotated[str, typer.Option(help="Customer name")],
    email: Annotated[str, typer.Option(help="Contact e-mail address")],
) -> None:
    """Create a customer; prints JSON with its "id"."""
    from licenseserver.domain.customers.service import CustomerCreate, create_customer

    settings = settings_or_exit()
    data = parse_or_exit(CustomerCreate, name=name, email=email)
    prepare_or_exit(settings)
    customer = run_orm(settings, lambda session: create_customer(session, data))
    print_json({"id": customer.id, "name": customer.name, "email": customer.email})


@license_app.command("create")
def license_create(
    customer_id: Annotated[int, typer.Option(help="Owner of the license")],
    type: Annotated[str | None, typer.Option(help="perpetual, subscription or trial")] = None,
    valid_from: Annotated[str | None, typer.Option(help="First valid day, YYYY-MM-DD (default today)")] = None,
    valid_until: Annotated[str | None, typer.Option(help="Last valid day, YYYY-MM-DD (default none)")] = None,
    max_activations: Annotated[int | None, typer.Option(help="Devices at once (default 1)")] = None,
    max_users: Annotated[int | None, typer.Option(help="Users (default 1)")] = None,
) -> None:
    """Create a license with a generated key; prints JSON with "id" and "key"."""
    from licenseserver.domain.licensing.staff_edits import LicenseCreate, create_license

    settings = settings_or_exit()
    data = parse_or_exit(
        LicenseCreate,
        customer_id=customer_id,
        license_type=type,
        valid_from=valid_from,
        valid_until=valid_until,
        max_activations=max_activations,
        max_users=max_users,
    )
    prepare_or_exit(settings)
    row = run_orm(settings, lambda session: create_license(session, data))
    print_json(
        {
            "id": row.id,
            "key": row.license_key,
            "customer_id": row.customer_id,
            "type": row.license_type,
            "valid_from": _iso(row.valid_from),
            "valid_until": _iso(row.valid_until),
            "max_activations": row.max_activations,
            "max_users": row.max_users,
        }
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@resource_app.command("add")
def resource_add(
    identifiers: Annotated[list[str], typer.Argument(help="Identifiers to add")],
    type: Annotated[str, typer.Option(help="domain, ipv4, phone or server")],
) -> None:
    """Add resources to the pool (all or none); prints JSON with their "ids"."""
    from licenseserver.domain.resources.service import add_resources

    settings = settings_or_exit()
    prepare_or_exit(settings)
    ids = run_orm(settings, lambda session: add_resources(session, type, identifiers, CLI_ACTOR))
    print_json({"ids": ids})


def password_from_stdin() -> str:
    """The password from standard input: a line as piped in; at a terminal asked for twice,
    without echo, so that it neither shows on the screen nor ends up mistyped."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise fail("the two passwords differ; nothing created")
    return password


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Argument(help="Log-in name")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create a staff account; the password comes from standard input, never the command line."""
    from licenseserver.domain.staff.service import create_admin

    if not password_stdin:
        raise fail("give the password on standard input with --password-stdin", 2)
    password = password_from_stdin()
    settings = settings_or_exit()
    prepare_or_exit(settings)
    admin = run_orm(settings, lambda session: create_admin(session, username, password))
    typer.echo(f"Admin {admin.username!r} created.")


def run_sql(settings: Settings, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Like run_orm, on in the SQL layer the License API's rules use."""
    try:
        return run_in_transaction(settings, work)
    except AppError as exc:
        raise fail(exc.message) from None


@signing_key_app.command("rotate")
def signing_key_rotate() -> None:
    """Make a new current signing key; prints its kid alone on its line. The old one stays published."""
    from licenseserver.domain.signing.keys import rotate_keys

    settings = settings_or_exit()
    prepare_or_exit(settings)
    secret = secret_key(settings)
    typer.echo(run_sql(settings, lambda conn: rotate_keys(conn, secret)).kid)


@signing_key_app.command("list")
def signing_key_list() -> None:
    """One key a line, current first: kid, state, created (UTC), fingerprint."""
    from licenseserver.domain.signing.keys import list_keys

    settings = settings_or_exit()
    prepare_or_exit(settings)
    for key in run_sql(settings, list_keys):
        typer.echo(f"{key.kid}  {key.state:<8}  {iso_utc(key.created_at)}  {key.fingerprint}")


# A kid is a base64url thumbprint and may begin with "-"; without this Click reads it as options.
@signing_key_app.command("retire", context_settings={"ignore_unknown_options": True})
def signing_key_retire(kid: Annotated[str, typer.Argument(help="The kid of a previous key")]) -> None:
    """Stop publishing a previous key; answers and files it signed no longer verify."""
    from licenseserver.domain.signing.keys import retire_key

    settings = settings_or_exit()
    prepare_or_exit(settings)
    run_sql(settings, lambda conn: retire_key(conn, kid))
    typer.echo(f"Signing key {kid} retired.")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. the shop's name")],
    scope: Annotated[str, typer.Option(help="read, or write (read and change)")],
    expires_days: Annotated[int | None, typer.Option(help="Expire after this many days (default never)")] = None,
) -> None:
    """Create a management API token; prints JSON with "id" and "token" (shown this once only)."""
    from licenseserver.domain.audit.service import Actor, record
    from licenseserver.domain.tokens.service import NewToken, TokenCreate, create_token, token_snapshot

    settings = settings_or_exit()
    data = parse_or_exit(TokenCreate, name=name, scope=scope, expires_days=expires_days)
    prepare_or_exit(settings)
    secret = secret_key(settings)

    async def create(session: AsyncSession) -> NewToken:
        made = await create_token(session, secret, data, CLI_ACTOR)
        await record(session, Actor(CLI_ACTOR), "create", "api_token", made.id, after=token_snapshot(made))
        return made

    made = run_orm(settings, create)
    print_json(
        {
            "id": made.id,
            "token": made.token,
            "name": made.name,
            "scope": made.scope,
            "prefix": made.prefix,
            "expires_at": iso_utc(made.expires_at),
        }
    )


@token_app.command("list")
def token_list() -> None:
    """One token a line as JSON (id, name, prefix, scope, created, last used, expires, revoked); never the secret."""
    from licenseserver.domain.tokens.service import list_tokens

    settings = settings_or_exit()
    prepare_or_exit(settings)
    for token in run_orm(settings, list_tokens):
        print_json(token.as_json())


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (token list)")]) -> None:
    """Revoke a token: its next call is refused (401 INVALID_TOKEN)."""
    from licenseserver.domain.audit.service import Actor, record
    from licenseserver.domain.tokens.service import revoke_token

    settings = settings_or_exit()
    prepare_or_exit(settings)

    async def revoke(session: AsyncSession) -> bool:
        token, changed = await revoke_token(session, token_id)
        if changed:
            after = {"revoked_at": iso_utc(token.revoked_at)}
            await record(session, Actor(CLI_ACTOR), "revoke", "api_token", token.id, after=after)
        return changed

    changed = run_orm(settings, revoke)
    typer.echo(f"Token {token_id} revoked." if changed else f"Token {token_id} was already revoked.")


if __name__ == "__main__":
    app()
