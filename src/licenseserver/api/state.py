"""Everything one License API process holds: the database and the short-lived caches over it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from licenseserver.config import Settings
from licenseserver.db.sql import Connection, Database, Row, open_database
from licenseserver.db.urls import PoolLimits
from licenseserver.domain.api_key.service import ApiKeyCache
from licenseserver.domain.clients.service import Client, ClientCache
from licenseserver.domain.installation import sealing_secret
from licenseserver.domain.licensing import license_calls
from licenseserver.domain.licensing.schemas import VerifyRequest
from licenseserver.domain.settings.service import RateLimitCache, RateLimits
from licenseserver.domain.signing.cache import SigningKeyCache
from licenseserver.kit.clientaddr import Network, parse_networks
from licenseserver.kit.errors import AppError
from licenseserver.kit.ratelimit import RateLimiter
from licenseserver.kit.shared_limits import rate_limiter_for
from licenseserver.kit.turn_batch import TurnBatch


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
    verifies: TurnBatch[VerifyRequest, Row | None] = field(init=False)

    def __post_init__(self) -> None:
        self.verifies = TurnBatch(self._verify_many)

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
        )

    async def for_served_client(self, work: Callable[[Connection, Client], Awaitable[int]]) -> int:
        """`work` for the served client, as one unit of work on an autocommit connection (the sweep
        and the live count are one statement each); 0 while no client is configured."""
        client = await self.clients.get()
        if client is None:
            return 0
        async with self.db.autocommit() as conn:
            return await work(conn, client)

    async def verified(self, request: VerifyRequest) -> Row | AppError:
        """The license row when the device may run it now, or why not. On PostgreSQL the verifies
        of one event-loop turn share one statement and one pool loan (kit/turn_batch.py); on
        SQLite each reads on the loop's own connection, where a batch would save nothing."""
        if self.db.dialect != "postgresql":
            async with self.db.autocommit() as conn:
                return await license_calls.verify_on(conn, request)
        row = await self.verifies.ask(request)
        if row is not None:
            return row
        async with self.db.autocommit() as conn:  # the rare refusal: a second read says why
            return await license_calls.verify_refusal_on(conn, request)

    async def _verify_many(self, requests: list[VerifyRequest]) -> list[Row | None]:
        # One statement for the whole batch: it is its own unit of work, as a single verify is.
        async with self.db.autocommit() as conn:
            return await license_calls.verify_many_on(conn, requests)


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state
