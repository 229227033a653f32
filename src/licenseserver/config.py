"""Settings from the environment (and an optional `.env` file), validated once at start-up."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./licenseserver.db"


class SettingsError(Exception):
    """A setting is wrong; the message is one line a person can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    # Every key written to Redis starts with this, so installations (or tests) can share one Redis.
    redis_key_prefix: str = Field(default="licenseserver", min_length=1, max_length=100)
    # A Redis call that takes longer counts as failed: the request goes on with in-process limits.
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=5)
    # After a failure, how long an instance keeps to its in-process limits before it asks Redis again.
    redis_retry_seconds: float = Field(default=2.0, gt=0, le=60)
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
    # Extra connections the admin panel's pool may open beyond DB_POOL_SIZE under a burst.
    db_max_overflow: int = Field(default=5, ge=0, le=1000)
    # Waits on the database are bounded so a request answers 503 instead of hanging when it is away.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    db_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    # Webhook receivers on loopback, private, link-local or metadata addresses (kit/safe_targets.py):
    # refused unless the operator allows them (receivers on the installation's own network; tests).
    webhook_allow_private: bool = False
    # One delivery attempt, redirects included, ends after this long; the receiver's answer is late.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How often each License API process looks for webhook events and deliveries that are due.
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Sign every License API answer, not only those whose request carries Accept-Signature.
    sign_all_responses: bool = False
    # license.expiring goes out this many days before a license's valid_until (once per end date).
    webhook_expiring_days: int = Field(default=7, ge=1, le=365)
    # How often the API process looks for licenses due for license.expiring / license.expired.
    webhook_scan_seconds: float = Field(default=600.0, gt=0)
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value and value.split("://", 1)[0] not in {"redis", "rediss", "unix"}:
            raise ValueError("must look like redis://[:password@]host:port/db, rediss://... or unix:///path")
        return value or None

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

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

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
