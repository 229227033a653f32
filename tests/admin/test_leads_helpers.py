"""Shortcuts the lead tests share: put leads in a test's database through the domain services and
read every lead table back (the suite's snapshot does not know these tables)."""

from __future__ import annotations

from typing import Any

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.leads import service
from licenseserver.domain.leads.schemas import ContactCreate, DetailCreate, InstitutionCreate
from tests.support.world import TestWorld

LEAD_TABLES = ("lead_institutions", "lead_contacts", "lead_contact_details", "lead_notes", "lead_note_versions")


def lead_rows(world: TestWorld) -> dict[str, list[dict[str, Any]]]:
    return {table: world.rows(f"SELECT * FROM {table} ORDER BY id") for table in LEAD_TABLES}


def everything(world: TestWorld) -> dict[str, Any]:
    """Every row of every table, lead tables included: a refused request must change none."""
    return {**world.snapshot(), **lead_rows(world)}


def institution(world: TestWorld, name: str = "Technische Universität Ilmenau", **values: Any) -> int:
    data = InstitutionCreate(name=name, **values)
    return run_in_orm_transaction(world.database_url, lambda s: service.create_institution(s, data)).id


def contact(
    world: TestWorld, institution_id: int, first: str = "Erika", last: str = "Mustermann", **values: Any
) -> int:
    data = ContactCreate(first_name=first, last_name=last, institution_id=institution_id, **values)
    return run_in_orm_transaction(world.database_url, lambda s: service.create_contact(s, data)).id


def detail(world: TestWorld, contact_id: int, kind: str, value: str, label: str = "") -> int:
    data = DetailCreate(type=kind, value=value, label=label)  # type: ignore[arg-type]
    return run_in_orm_transaction(world.database_url, lambda s: service.add_detail(s, contact_id, data)).id


def note(world: TestWorld, contact_id: int, content: str, author: str = "rac00n") -> int:
    async def write(session: Any) -> int:
        created, _version = await service.add_note(session, contact_id, content, author)
        return created.id

    return run_in_orm_transaction(world.database_url, write)


def audit(world: TestWorld, entity_type: str) -> list[dict[str, Any]]:
    return world.rows(
        "SELECT actor, action, entity_id, before, after FROM audit_log WHERE entity_type = :t ORDER BY id",
        t=entity_type,
    )
