"""Rate limits as staff change them in the panel (ORM path).

Every instance reads the row through `RateLimitCache` (at most 2 s old), so a change saved here is
in force everywhere within seconds, without a restart.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import RateLimitSettings
from licenseserver.domain.settings.service import RateLimits
from licenseserver.kit.timefmt import utc_now

API_PER_MINUTE_MAX = 100_000
LOGIN_PER_MINUTE_MAX = 1000


class RateLimitForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_per_minute: int = Field(ge=1, le=API_PER_MINUTE_MAX)
    login_per_minute: int = Field(ge=1, le=LOGIN_PER_MINUTE_MAX)


def limits_state(limits: RateLimits) -> dict[str, int]:
    return {"api_per_minute": limits.api_per_minute, "login_per_minute": limits.login_per_minute}


async def current_rate_limits(session: AsyncSession, defaults: RateLimits) -> RateLimits:
    row = await session.get(RateLimitSettings, 1)
    return defaults if row is None else RateLimits(row.api_per_minute, row.login_per_minute)


async def set_rate_limits(session: AsyncSession, data: RateLimitForm) -> None:
    # The row is made at start-up; creating it here too keeps a hand-emptied table workable.
    row = await session.get(RateLimitSettings, 1)
    if row is None:
        row = RateLimitSettings(id=1, api_per_minute=data.api_per_minute, login_per_minute=data.login_per_minute)
        session.add(row)
    row.api_per_minute = data.api_per_minute
    row.login_per_minute = data.login_per_minute
    row.updated_at = utc_now()
    await session.flush()
