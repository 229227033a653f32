"""Creating and changing licenses: staff operations (CLI and panel) on the ORM path."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Customer, License
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.keys import new_license_key
from licenseserver.kit.timefmt import utc_today

LicenseType = Literal["perpetual", "subscription", "trial"]
LICENSE_TYPES: tuple[str, ...] = ("perpetual", "subscription", "trial")
KEY_ATTEMPTS = 5


class LicenseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1)
    license_type: LicenseType = "perpetual"
    valid_from: date | None = None
    valid_until: date | None = None
    max_activations: Annotated[int, Field(ge=1, le=100_000)] = 1
    max_users: Annotated[int, Field(ge=1, le=100_000)] = 1
    is_active: bool = True

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


async def _unused_key(session: AsyncSession) -> str:
    # 36^16 keys make a collision vanishingly rare; checking keeps the unique constraint quiet.
    for _ in range(KEY_ATTEMPTS):
        key = new_license_key()
        if await session.scalar(select(License.id).where(License.license_key == key)) is None:
            return key
    raise RuntimeError("could not find an unused license key")


async def create_license(session: AsyncSession, data: LicenseCreate) -> License:
    if await session.get(Customer, data.customer_id) is None:
        raise AppError(404, ErrorCode.CUSTOMER_NOT_FOUND, f"Customer {data.customer_id} not found")
    license_row = License(
        license_key=await _unused_key(session),
        customer_id=data.customer_id,
        license_type=data.license_type,
        valid_from=data.valid_from or utc_today(),
        valid_until=data.valid_until,
        max_activations=data.max_activations,
        max_users=data.max_users,
        is_active=data.is_active,
    )
    session.add(license_row)
    await session.flush()
    return license_row
