"""Licenses by key prefix (on the key index) and devices by the start of their machine name or
hardware hash, for the global search."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select

from licenseserver.db.models import Activation, Customer, License
from licenseserver.domain.licensing.staff_list import key_prefix_condition
from licenseserver.domain.search.hits import SearchHit, lower_prefix


def license_condition(q: str) -> ColumnElement[bool]:
    by_key = key_prefix_condition(q)
    return false() if by_key is None else by_key


def license_statement() -> Select[*tuple[Any, ...]]:
    return (
        select(License.id, License.license_key, License.is_active, Customer.name)
        .join(Customer, Customer.id == License.customer_id)
        .order_by(License.license_key)
    )


def license_hit(row: Any) -> SearchHit:
    state = "Active" if row.is_active else "Inactive"
    return SearchHit("license", row.id, row.license_key, f"{row.name} - {state}", f"/licenses/{row.id}")


def device_condition(q: str) -> ColumnElement[bool]:
    # Devices are as many as licenses: matched by the start of the machine name or the hash,
    # as lower(column) LIKE 'text%', which an index on lower(column) text_pattern_ops can serve.
    return or_(lower_prefix(Activation.machine_name, q), lower_prefix(Activation.hardware_hash, q))


def device_statement() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Activation.id,
            Activation.machine_name,
            Activation.hardware_hash,
            Activation.license_id,
            License.license_key,
        )
        .join(License, License.id == Activation.license_id)
        .order_by(Activation.id.desc())
    )


def device_hit(row: Any) -> SearchHit:
    title = row.machine_name or row.hardware_hash
    return SearchHit("device", row.id, title, row.license_key, f"/licenses/{row.license_id}")
