"""`licenseserver token ...`: management API tokens (CONTRACT.md §9, docs/integrations.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.cli_support import CLI_ACTOR, parse_or_exit, prepare_or_exit, print_json, run_orm, settings_or_exit
from licenseserver.domain.audit.service import Actor, record
from licenseserver.domain.installation import secret_key
from licenseserver.domain.tokens.service import (
    NewToken,
    TokenCreate,
    create_token,
    list_tokens,
    revoke_token,
    token_snapshot,
)
from licenseserver.kit.timefmt import iso_utc

token_app = typer.Typer(help="Create, list or revoke management API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. the shop's name")],
    scope: Annotated[str, typer.Option(help="read, or write (read and change)")],
    expires_days: Annotated[int | None, typer.Option(help="Expire after this many days (default never)")] = None,
) -> None:
    """Create a management API token; prints JSON with "id" and "token" (shown this once only)."""
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
    settings = settings_or_exit()
    prepare_or_exit(settings)
    for token in run_orm(settings, list_tokens):
        print_json(token.as_json())


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (token list)")]) -> None:
    """Revoke a token: its next call is refused (401 INVALID_TOKEN)."""
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
