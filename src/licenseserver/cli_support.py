"""What every command of the operator CLI (cli.py, cli_tokens.py) shares: settings, input checks,
one transaction per command, and refusals as one line on stderr (contract §2)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.config import Settings, SettingsError, load_settings
from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.installation import prepare_installation, run_in_transaction
from licenseserver.kit.errors import AppError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
CLI_ACTOR = "cli"


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


def run_sql(settings: Settings, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Like run_orm, on in the SQL layer the License API's rules use."""
    try:
        return run_in_transaction(settings, work)
    except AppError as exc:
        raise fail(exc.message) from None
