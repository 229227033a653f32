"""Events of staff changes: licenses, leads, the system API key — each in the change's transaction."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.domain.api_key.service import regenerate_api_key
from licenseserver.domain.audit.service import Actor
from licenseserver.domain.leads.schemas import ContactCreate, InstitutionCreate
from licenseserver.domain.leads.service import create_contact, create_institution
from licenseserver.domain.licensing.staff_bulk import set_active
from licenseserver.domain.licensing.staff_edits import toggle_license, update_license
from licenseserver.kit.errors import AppError
from tests.support.world import TestWorld
from tests.webhooks.conftest import events, on_orm, on_sql, only_event, subscribe

STAFF = Actor("staff", "192.0.2.1")
LICENSE_FIELDS = {
    "license_id",
    "license_key",
    "customer_id",
    "license_type",
    "valid_from",
    "valid_until",
    "max_activations",
    "max_users",
    "is_active",
}


class BoomError(Exception):
    pass


def _license_id(world: TestWorld, key: str) -> int:
    return int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))


def test_license_created_carries_the_license(world: TestWorld) -> None:
    subscribe(world, "license.created")
    key = world.license(license_type="subscription", valid_until=date(2030, 1, 31), max_activations=3)
    data = only_event(world, "license.created")
    assert set(data) == LICENSE_FIELDS
    assert data["license_key"] == key
    assert data["license_id"] == _license_id(world, key)
    assert data["license_type"] == "subscription"
    assert data["valid_until"] == "2030-01-31"
    assert data["max_activations"] == 3
    assert data["is_active"] is True


def test_license_updated_and_deactivated_tell_the_previous_values(world: TestWorld) -> None:
    subscribe(world, "license.updated", "license.deactivated")
    lid = _license_id(world, world.license())

    on_orm(world, lambda s: update_license(s, lid, {"max_users": 4, "valid_until": date(2031, 5, 1)}, STAFF))
    updated = only_event(world, "license.updated")
    assert updated["license_id"] == lid
    assert (updated["max_users"], updated["valid_until"]) == (4, "2031-05-01")
    assert updated["previous"] == {"max_users": 1, "valid_until": None}

    on_orm(world, lambda s: update_license(s, lid, {"max_users": 4}, STAFF))  # no change: no event
    assert len(events(world, "license.updated")) == 1

    on_orm(world, lambda s: toggle_license(s, lid, STAFF))
    deactivated = only_event(world, "license.deactivated")
    assert deactivated["is_active"] is False
    assert deactivated["previous"] == {"is_active": True}

    on_orm(world, lambda s: toggle_license(s, lid, STAFF))  # switched on again: an update
    again = events(world, "license.updated")[-1]["data"]
    assert again["is_active"] is True and again["previous"] == {"is_active": False}


def test_bulk_deactivation_tells_each_license_that_changed(world: TestWorld) -> None:
    subscribe(world, "license.deactivated")
    first, second = _license_id(world, world.license()), _license_id(world, world.license())
    on_orm(world, lambda s: set_active(s, [first], False, STAFF))
    on_orm(world, lambda s: set_active(s, [first, second], False, STAFF))  # the first is off already
    assert [e["data"]["license_id"] for e in events(world, "license.deactivated")] == [first, second]


def test_a_license_change_that_rolls_back_leaves_no_event(world: TestWorld) -> None:
    subscribe(world)
    lid = _license_id(world, world.license())
    before = len(events(world))

    async def edit_then_fail(session: AsyncSession) -> None:
        await update_license(session, lid, {"max_users": 9}, STAFF)
        raise BoomError

    with pytest.raises(BoomError):
        on_orm(world, edit_then_fail)
    with pytest.raises(AppError):  # refused by the rule: valid_until before valid_from
        on_orm(world, lambda s: update_license(s, lid, {"valid_until": date(2000, 1, 1)}, STAFF))
    assert len(events(world)) == before
    assert world.scalar("SELECT max_users FROM licenses WHERE id = :i", i=lid) == 1


def test_lead_created_for_institutions_and_contacts(world: TestWorld) -> None:
    subscribe(world, "lead.created")
    institution = on_orm(world, lambda s: create_institution(s, InstitutionCreate(name="Uni Nord", type="university")))
    contact = on_orm(
        world,
        lambda s: create_contact(
            s, ContactCreate(first_name="Ada", last_name="Lovelace", position="CTO", institution_id=institution.id)
        ),
    )
    told = [e["data"] for e in events(world, "lead.created")]
    assert told == [
        {
            "kind": "institution",
            "institution_id": institution.id,
            "name": "Uni Nord",
            "type": "university",
            "customer_id": None,
        },
        {
            "kind": "contact",
            "contact_id": contact.id,
            "institution_id": institution.id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "position": "CTO",
        },
    ]


def test_api_key_regenerated_never_carries_the_key(world: TestWorld) -> None:
    subscribe(world, "api_key.regenerated")
    key = on_sql(world, regenerate_api_key)
    [event] = events(world, "api_key.regenerated")
    assert event["data"] == {"key_prefix": key[:8]}
    assert key not in str(event) and key[8:] not in str(event)


def test_staff_changes_write_nothing_when_no_endpoint_wants_them(world: TestWorld) -> None:
    subscribe(world, "session.started")
    lid = _license_id(world, world.license())
    on_orm(world, lambda s: toggle_license(s, lid, STAFF))
    on_orm(world, lambda s: create_institution(s, InstitutionCreate(name="Schule Süd")))
    on_sql(world, regenerate_api_key)
    assert events(world) == []
