"""Settings from the environment (and an optional `.env` file), validated once at start-up."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./licenseserver.db"


class SettingsError(Exception):
    """A setting is wrong; the message is one line a person can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: str | None = None
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_api_per_minute: int = Field(default=100, ge=1)
    rate_limit_login_per_minute: int = Field(default=5, ge=1)
    display_timezone: str = "Europe/Berlin"
    admin_username: str | None = None
    admin_password: str | None = None
    # How long a cached client config / API key may be served before it is read again.
    client_config_cache_seconds: float = Field(default=5.0, ge=0)
    api_key_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    session_sweep_seconds: float = Field(default=30.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1, le=1000)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].split("+", 1)[0]
        if "://" not in value or scheme not in {"postgresql", "postgres", "sqlite"}:
            raise ValueError("must look like postgresql://user:pass@host:port/db or sqlite:///path/file.db")
        # `sqlite://` (in-memory) and `sqlite://file.db` would only fail later, with a trace.
        if scheme == "sqlite":
            path = value.split(":///", 1)[1] if ":///" in value else ""
            if not path.split("?", 1)[0].strip(" /"):
                raise ValueError("a SQLite URL needs a file: sqlite:///relative/file.db or sqlite:////abs/file.db")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # raises ValueError on junk
        return value

    @field_validator("display_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "setting"
    return f"Invalid setting {name}: {first['msg']}"


def load_settings() -> Settings:
    """Read the settings; raise SettingsError with one readable line when a value is bad."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
