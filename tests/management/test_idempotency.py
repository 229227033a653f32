"""Idempotent creates: a retry with the same Idempotency-Key and body gets the first answer and
creates nothing; the same key with another body is refused; keys are per token and kept a day.
The parallel case runs on PostgreSQL with two real server processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest

from tests.api.helpers import assert_error
from tests.conftest import LiveServer
from tests.management.conftest import V1, Management, audit_rows, bearer, make_token
from tests.support.world import TestWorld

MUSTER = {"name": "Muster GmbH", "email": "einkauf@muster.example"}


def test_a_retry_gets_the_first_answer_and_creates_nothing(world: TestWorld, shop: Management) -> None:
    key = {"Idempotency-Key": "order-10045"}
    first = shop.post("/customers", json=MUSTER, headers=key)
    assert first.status_code == 201
    again = shop.post("/customers", json={"email": MUSTER["email"], "name": MUSTER["name"]}, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert world.scalar("SELECT COUNT(*) FROM customers") == 1
    assert len(audit_rows(world, "customer")) == 1
    # Without the header every create is a new one.
    assert shop.post("/customers", json=MUSTER).status_code == 201
    assert world.scalar("SELECT COUNT(*) FROM customers") == 2


def test_licenses_and_leads_are_idempotent_too(world: TestWorld, shop: Management) -> None:
    customer_id = world.customer()
    key = {"Idempotency-Key": "sale-7"}
    first = shop.ok("POST", "/licenses", 201, json={"customer_id": customer_id}, headers=key)
    assert shop.ok("POST", "/licenses", 201, json={"customer_id": customer_id}, headers=key) == first
    assert world.scalar("SELECT COUNT(*) FROM licenses") == 1
    lead = {"name": "Hochschule Musterstadt", "type": "university"}
    # A key names one request of the token: the same key on another path is another request.
    assert_error(shop.post("/leads/institutions", json=lead, headers=key), 422, "IDEMPOTENCY_KEY_REUSED")
    lead_key = {"Idempotency-Key": "crm-lead-1"}
    institution = shop.ok("POST", "/leads/institutions", 201, json=lead, headers=lead_key)
    assert shop.ok("POST", "/leads/institutions", 201, json=lead, headers=lead_key) == institution
    contact = {"institution_id": institution["id"], "first_name": "Erika", "last_name": "Mustermann"}
    made = shop.ok("POST", "/leads/contacts", 201, json=contact, headers={"Idempotency-Key": "crm-contact-1"})
    assert shop.ok("POST", "/leads/contacts", 201, json=contact, headers={"Idempotency-Key": "crm-contact-1"}) == made
    assert world.scalar("SELECT COUNT(*) FROM lead_institutions") == 1
    assert world.scalar("SELECT COUNT(*) FROM lead_contacts") == 1


def test_the_same_key_with_another_body_is_refused(world: TestWorld, shop: Management) -> None:
    key = {"Idempotency-Key": "order-10046"}
    shop.ok("POST", "/customers", 201, json=MUSTER, headers=key)
    other = {**MUSTER, "name": "Andere GmbH"}
    body = assert_error(shop.post("/customers", json=other, headers=key), 422, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key" in body["error"]
    assert world.rows("SELECT name FROM customers") == [{"name": "Muster GmbH"}]


def test_a_refused_create_stores_no_answer(world: TestWorld, shop: Management) -> None:
    key = {"Idempotency-Key": "sale-8"}
    assert_error(shop.post("/licenses", json={"customer_id": 999_999}, headers=key), 404, "CUSTOMER_NOT_FOUND")
    assert_error(shop.post("/licenses", json={"customer_id": 1, "x": 1}, headers=key), 400, "VALIDATION_ERROR")
    assert world.scalar("SELECT COUNT(*) FROM idempotent_answers") == 0
    customer_id = world.customer()
    assert (
        shop.ok("POST", "/licenses", 201, json={"customer_id": customer_id}, headers=key)["customer_id"] == customer_id
    )


def test_keys_belong_to_their_token_and_expire_after_a_day(world: TestWorld, shop: Management) -> None:
    other = Management(shop.client, make_token(world, "crm", "write"))
    key = {"Idempotency-Key": "same-key"}
    first = shop.ok("POST", "/customers", 201, json=MUSTER, headers=key)
    assert other.ok("POST", "/customers", 201, json=MUSTER, headers=key)["id"] != first["id"]
    world.execute("UPDATE idempotent_answers SET created_at = :old", old=_days_ago(2))
    assert shop.ok("POST", "/customers", 201, json=MUSTER, headers=key)["id"] != first["id"]
    assert world.scalar("SELECT COUNT(*) FROM customers") == 3
    # The old answer of that token is gone; the other token's stays until its next keyed create.
    assert world.scalar("SELECT COUNT(*) FROM idempotent_answers") == 2


def _days_ago(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)


@pytest.mark.parametrize("value", ["", "x" * 256, "with space", "umlaut-ä"])
def test_a_malformed_key_is_refused(world: TestWorld, shop: Management, value: str) -> None:
    response = shop.post("/customers", json=MUSTER, headers={"Idempotency-Key": value.encode()})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert world.scalar("SELECT COUNT(*) FROM customers") == 0


@pytest.mark.slow
def test_parallel_creates_with_one_key_make_one_record(
    pg_world: TestWorld, live_server_on: Callable[[TestWorld], LiveServer]
) -> None:
    """Two server processes, ten creates with one key sent at once: one customer, ten answers alike."""
    token = make_token(pg_world, "shop", "write")
    servers = [live_server_on(pg_world), live_server_on(pg_world)]
    attempts = 10
    barrier = threading.Barrier(attempts)

    def create(n: int) -> httpx.Response:
        base = servers[n % 2].base_url
        headers = {**bearer(token), "Idempotency-Key": "order-parallel"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            assert client.get("/health").status_code == 200
            barrier.wait(timeout=60)
            return client.post(V1 + "/customers", json=MUSTER)

    with ThreadPoolExecutor(attempts) as pool:
        answers = list(pool.map(create, range(attempts)))
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert pg_world.scalar("SELECT COUNT(*) FROM customers") == 1
    assert pg_world.scalar("SELECT COUNT(*) FROM idempotent_answers") == 1
    assert len(audit_rows(pg_world, "customer")) == 1
