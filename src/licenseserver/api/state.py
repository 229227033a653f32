"""Everything one License API process holds: the database and the short-lived caches over it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request

from licenseserver.api.batched_calls import BatchedCalls
from licenseserver.config import Settings
from licenseserver.db.sql import Connection, Database, open_database
from licenseserver.db.urls import PoolLimits
from licenseserver.domain.api_key.service import ApiKeyCache
from licenseserver.domain.clients.service import Client, ClientCache
from licenseserver.domain.installation import sealing_secret
from licenseserver.domain.settings.service import RateLimitCache, RateLimits
from licenseserver.domain.signing.cache import SigningKeyCache
from licenseserver.kit.clientaddr import Network, parse_networks
from licenseserver.kit.ratelimit import RateLimiter
from licenseserver.kit.shared_limits import rate_limiter_for


@dataclass
class ApiState:
    settings: Settings
    db: Database
    clients: ClientCache
    api_keys: ApiKeyCache
    rate_limits: RateLimitCache
    limiter: RateLimiter
    trusted_proxies: tuple[Network, ...]
    signing: SigningKeyCache
    calls: BatchedCalls

    @classmethod
    def build(cls, settings: Settings) -> ApiState:
        db = open_database(settings.database_url, PoolLimits.from_settings(settings))
        defaults = RateLimits(settings.rate_limit_api_per_minute, settings.rate_limit_login_per_minute)
        return cls(
            settings=settings,
            db=db,
            clients=ClientCache(db, settings.client_config_cache_seconds),
            api_keys=ApiKeyCache(db, settings.api_key_cache_seconds),
            rate_limits=RateLimitCache(db, defaults),
            limiter=rate_limiter_for(settings, "api"),
            trusted_proxies=parse_networks(settings.trusted_proxies),
            signing=SigningKeyCache(db, lambda conn: sealing_secret(conn, settings)),
            calls=BatchedCalls(db),
        )

    async def for_served_client(self, work: Callable[[Connection, Client], Awaitable[int]]) -> int:
        """`work` for the served client, as one unit of work on an autocommit connection (the sweep
        and the live count are one statement each); 0 while no client is configured."""
        client = await self.clients.get()
        if client is None:
            return 0
        async with self.db.autocommit() as conn:
            return await work(conn, client)


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state
