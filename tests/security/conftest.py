"""Fixtures of the panel's security suite: the admin panel fixtures, and a database holding one
of everything staff can change, so every route has something real to act on."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.admin import conftest as admin_fixtures
from tests.admin.pool_support import pool
from tests.api.helpers import live_session
from tests.conftest import make_client
from tests.support.world import TestWorld

Ids = dict[str, Any]
# The admin panel's fixtures, for this folder too.
panel = admin_fixtures.panel
staff_panel = admin_fixtures.staff_panel


def _lead(staff_panel: TestClient) -> Ids:
    institution = staff_panel.post("/leads/api/institutions", json={"name": "Uni Nord", "type": "university"})
    lead = institution.json()["id"]
    body = {"first_name": "Ada", "last_name": "Lovelace", "position": "Dekanin", "institution_id": lead}
    contact = staff_panel.post("/leads/api/contacts", json=body).json()["id"]
    detail = {"type": "email", "value": "ada@uni-nord.example", "label": "Büro"}
    assert staff_panel.post(f"/leads/api/contacts/{contact}/details", json=detail).status_code == 201
    note = staff_panel.post(f"/leads/api/contacts/{contact}/notes", json={"content": "Erstkontakt"}).json()["id"]
    return {"lead": lead, "contact": contact, "note": note}


def _integrations(world: TestWorld, staff_panel: TestClient) -> Ids:
    """A management API token, a webhook endpoint and a delivery to it that gave up."""
    made = staff_panel.post("/administration/api-tokens", data={"name": "Shop", "scope": "write"})
    assert made.status_code == 200
    form = {"url": "https://93.184.215.14/hooks", "event_types": ["license.created"], "enabled": "on"}
    assert staff_panel.post("/administration/webhooks", data=form).status_code == 200
    endpoint = int(world.scalar("SELECT max(id) FROM webhook_endpoints"))
    world.execute(
        "INSERT INTO webhook_events (event_id, event_type, payload) VALUES ('msg_SEED', 'license.created', '{}')"
    )
    event = int(world.scalar("SELECT id FROM webhook_events WHERE event_id = 'msg_SEED'"))
    world.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, state, attempts) VALUES (:e, :p, 'failed', 11)",
        e=event,
        p=endpoint,
    )
    return {
        "api_token": int(world.scalar("SELECT max(id) FROM api_tokens")),
        "webhook_endpoint": endpoint,
        "webhook_delivery": int(world.scalar("SELECT max(id) FROM webhook_deliveries")),
    }


def seed_everything(world: TestWorld, staff_panel: TestClient) -> Ids:
    """A license with an active device holding a live session, an allocated and a free resource,
    a customer without licenses, the seeded client with its release, a lead with a contact and a
    note, a signing key that a rotation turned into a published older one, an API token and a
    webhook endpoint with a delivery."""
    with make_client(world) as api:
        key, token = live_session(world, api, "hw-seed", max_activations=5)
    license_id = int(world.scalar("SELECT id FROM licenses WHERE license_key = :k", k=key))
    allocated, free = pool(world, "domain", "alloc.example", "free.example")
    body = {"license_id": license_id, "resource_ids": [allocated]}
    assert staff_panel.post("/api/resources/allocate", json=body).status_code == 200
    # Rotations leave a published older key behind, for the routes that retire one (the first one
    # only makes the current key when the database has none yet).
    for _ in range(2):
        assert staff_panel.post("/administration/signing-keys/rotate", follow_redirects=False).status_code == 303
    return {
        "license": license_id,
        "customer": int(world.scalar("SELECT customer_id FROM licenses WHERE id = :i", i=license_id)),
        "bare_customer": world.customer("Ohne Lizenz GmbH", "info@ohne.example"),
        "device": int(world.scalar("SELECT id FROM activations WHERE license_id = :i", i=license_id)),
        "session": int(world.scalar("SELECT id FROM sessions WHERE session_token = :t", t=token)),
        "allocated_resource": allocated,
        "free_resource": free,
        "client": 1,
        "release": int(world.scalar("SELECT min(id) FROM client_releases")),
        "previous_key": str(world.scalar("SELECT kid FROM signing_keys WHERE state = 'previous' ORDER BY id DESC")),
        **_lead(staff_panel),
        **_integrations(world, staff_panel),
    }


@pytest.fixture
def seeded(world: TestWorld, staff_panel: TestClient) -> Ids:
    return seed_everything(world, staff_panel)
