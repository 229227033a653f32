"""What the management API holds beside the License API's state: an ORM engine, because every
change goes through the panel's own domain services (they take an ORM session), and the key the
token hashes are made with."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from licenseserver.api.state import ApiState
from licenseserver.db.engine import make_async_engine
from licenseserver.db.unit_of_work import make_sessionmaker
from licenseserver.db.urls import PoolLimits
from licenseserver.domain.installation import sealing_secret
from licenseserver.domain.tokens.format import token_key

# The vendor's own systems call this API now and then, not the clients' all-day traffic: a small
# pool, so the API process holds few extra PostgreSQL connections (created on first use).
POOL_SIZE = 3


@dataclass
class ManagementState:
    api: ApiState
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    _token_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def build(cls, api: ApiState) -> ManagementState:
        engine = make_async_engine(api.settings.database_url, PoolLimits.from_settings(api.settings, size=POOL_SIZE))
        return cls(api=api, engine=engine, sessions=make_sessionmaker(engine))

    async def token_key(self) -> bytes:
        """The HMAC key of token hashes, derived once per process from the installation's secret."""
        if self._token_key is None:
            async with self.api.db.transaction() as conn:
                self._token_key = token_key(await sealing_secret(conn, self.api.settings))
        return self._token_key

    async def close(self) -> None:
        await self.engine.dispose()


def management_state(request: Request) -> ManagementState:
    state: ManagementState = request.app.state.management
    return state
