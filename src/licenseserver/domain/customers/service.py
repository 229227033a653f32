"""Customers: the people and companies licenses are sold to."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import Customer


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    email: Annotated[EmailStr, StringConstraints(max_length=255)]


async def create_customer(session: AsyncSession, data: CustomerCreate) -> Customer:
    customer = Customer(name=data.name, email=str(data.email))
    session.add(customer)
    await session.flush()
    return customer
