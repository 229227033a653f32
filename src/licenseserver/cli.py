"""`licenseserver`: the operator's command line (contract §2). Runbooks depend on its output."""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from typing import Annotated

import typer

# The helpers every command shares (cli_support) and the token commands (cli_tokens) keep this module short.
from licenseserver.cli_support import (
    CLI_ACTOR,
    fail,
    parse_or_exit,
    prepare_or_exit,
    print_json,
    run_orm,
    run_sql,
    settings_or_exit,
)
from licenseserver.cli_tokens import token_app
from licenseserver.domain.api_key.service import ensure_api_key, regenerate_api_key
from licenseserver.domain.installation import run_in_transaction, secret_key
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
app.add_typer(token_app, name="token")


class Service(StrEnum):
    api = "api"
    admin = "admin"
    all = "all"


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


if __name__ == "__main__":
    app()
