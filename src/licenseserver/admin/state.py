"""What one admin panel process holds: the ORM engine, the secret key, caches and the throttle."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from licenseserver.config import Settings
from licenseserver.db.engine import make_async_engine
from licenseserver.db.sql import Database, open_database
from licenseserver.db.unit_of_work import make_sessionmaker
from licenseserver.db.urls import PoolLimits
from licenseserver.domain.settings.service import RateLimitCache, RateLimits
from licenseserver.kit.clientaddr import Network, parse_networks
from licenseserver.kit.ratelimit import RateLimiter
from licenseserver.kit.shared_limits import rate_limiter_for


@dataclass
class AdminState:
    settings: Settings
    secret_key: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sql_db: Database  # for the shared caches' reads (rate limits)
    rate_limits: RateLimitCache
    login_throttle: RateLimiter
    trusted_proxies: tuple[Network, ...]
    timezone: ZoneInfo

    @classmethod
    def build(cls, settings: Settings, secret_key: str) -> AdminState:
        engine = make_async_engine(settings.database_url, PoolLimits.from_settings(settings))
        sql_db = open_database(settings.database_url, PoolLimits.from_settings(settings, size=2))
        defaults = RateLimits(settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute)
        return cls(
            settings=settings,
            secret_key=secret_key,
            engine=engine,
            sessions=make_sessionmaker(engine),
            sql_db=sql_db,
            rate_limits=RateLimitCache(sql_db, defaults),
            login_throttle=rate_limiter_for(settings, "login"),
            trusted_proxies=parse_networks(settings.trusted_proxies),
            timezone=ZoneInfo(settings.display_timezone),
        )


def admin_state(request: Request) -> AdminState:
    state: AdminState = request.app.state.admin
    return state
