"""Who may call /api/v1/: Bearer tokens only, by scope, until revoked or expired; never the
system X-API-Key, never a token in the URL (CONTRACT.md §9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.tokens.service import list_tokens, revoke_token
from tests.api.helpers import assert_error
from tests.management.conftest import V1, Management, bearer, make_token
from tests.support.world import TestWorld

NEW_CUSTOMER = {"name": "Muster GmbH", "email": "einkauf@muster.example"}


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def _customers(world: TestWorld) -> int:
    return int(world.scalar("SELECT COUNT(*) FROM customers"))


def test_no_token_wrong_token_and_malformed_headers_are_401(client: TestClient, shop: Management) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer v2lm_abcdefgh_wrong"},
        {"Authorization": "Basic " + shop.token.token},
        {"Authorization": shop.token.token},
        {"Authorization": "Bearer " + shop.token.token + "x"},
        {"Authorization": "Bearer " + shop.token.prefix},
    ):
        assert_error(client.get(V1 + "/customers", headers=headers), 401, "INVALID_TOKEN")
    assert client.get(V1 + "/customers", headers=bearer(shop.token)).status_code == 200
    # The scheme's name is case-insensitive (RFC 9110).
    assert client.get(V1 + "/customers", headers={"Authorization": "bearer " + shop.token.token}).status_code == 200


def test_the_system_api_key_never_opens_it(world: TestWorld, client: TestClient, shop: Management) -> None:
    key = {"X-API-Key": world.api_key}
    assert_error(client.get(V1 + "/customers", headers=key), 401, "INVALID_TOKEN")
    assert_error(client.post(V1 + "/customers", headers=key, json=NEW_CUSTOMER), 401, "INVALID_TOKEN")
    as_bearer = {"Authorization": f"Bearer {world.api_key}"}
    assert_error(client.get(V1 + "/customers", headers=as_bearer), 401, "INVALID_TOKEN")
    assert _customers(world) == 0
    # ... and a token does not open the License API, whose paths keep asking for the key.
    assert client.get("/api/version/latest", headers=bearer(shop.token)).status_code == 401


@pytest.mark.parametrize("name", ["token", "access_token", "api_key"])
def test_a_token_in_the_query_string_is_refused(world: TestWorld, shop: Management, name: str) -> None:
    body = assert_error(shop.client.get(f"{V1}/customers?{name}={shop.token.token}"), 400, "VALIDATION_ERROR")
    assert "Authorization" in body["error"]
    # Refused even with the right header beside it, and on a write: nothing is created.
    assert_error(shop.get(f"/customers?{name}=x"), 400, "VALIDATION_ERROR")
    assert_error(shop.post(f"/customers?{name}=x", json=NEW_CUSTOMER), 400, "VALIDATION_ERROR")
    assert _customers(world) == 0


def test_a_read_token_reads_and_may_not_write(world: TestWorld, reader: Management, shop: Management) -> None:
    customer = shop.ok("POST", "/customers", 201, json=NEW_CUSTOMER)
    assert reader.ok("GET", f"/customers/{customer['id']}")["name"] == "Muster GmbH"
    assert_error(reader.post("/customers", json=NEW_CUSTOMER), 403, "INSUFFICIENT_SCOPE")
    assert_error(reader.patch(f"/customers/{customer['id']}", json={"name": "X"}), 403, "INSUFFICIENT_SCOPE")
    assert_error(reader.delete(f"/customers/{customer['id']}"), 403, "INSUFFICIENT_SCOPE")
    assert_error(reader.post("/licenses", json={"customer_id": customer["id"]}), 403, "INSUFFICIENT_SCOPE")
    assert world.rows("SELECT name FROM customers") == [{"name": "Muster GmbH"}]


def test_a_revoked_token_is_refused_from_its_next_call(world: TestWorld, shop: Management) -> None:
    assert shop.get("/customers").status_code == 200
    run_in_orm_transaction(world.database_url, lambda session: revoke_token(session, shop.token.id))
    assert_error(shop.get("/customers"), 401, "INVALID_TOKEN")
    assert_error(shop.post("/customers", json=NEW_CUSTOMER), 401, "INVALID_TOKEN")
    assert _customers(world) == 0


def test_an_expired_token_is_refused(world: TestWorld, client: TestClient) -> None:
    token = make_token(world, "trial-shop", "write", expires_days=1)
    assert client.get(V1 + "/customers", headers=bearer(token)).status_code == 200
    world.execute("UPDATE api_tokens SET expires_at = :when WHERE id = :i", when=_ago(seconds=5), i=token.id)
    assert_error(client.get(V1 + "/customers", headers=bearer(token)), 401, "INVALID_TOKEN")


def test_last_used_is_written_at_most_once_a_minute(world: TestWorld, shop: Management) -> None:
    assert world.scalar("SELECT last_used_at FROM api_tokens WHERE id = :i", i=shop.token.id) is None
    shop.ok("GET", "/customers")
    first = world.scalar("SELECT last_used_at FROM api_tokens WHERE id = :i", i=shop.token.id)
    assert first is not None
    for _ in range(3):
        shop.ok("GET", "/customers")
    assert world.scalar("SELECT last_used_at FROM api_tokens WHERE id = :i", i=shop.token.id) == first
    # A minute later the next call writes it again.
    world.execute("UPDATE api_tokens SET last_used_at = :when WHERE id = :i", when=_ago(minutes=2), i=shop.token.id)
    shop.ok("GET", "/customers")
    later = run_in_orm_transaction(world.database_url, list_tokens)[0].last_used_at
    assert later is not None and later.timestamp() > _ago(minutes=1).timestamp()


def test_the_rate_limit_counts_per_token(world: TestWorld, client: TestClient, shop: Management) -> None:
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 3")
    other = make_token(world, "crm", "read")
    for _ in range(3):
        assert shop.get("/customers").status_code == 200
    refused = assert_error(shop.get("/customers"), 429, "RATE_LIMITED")
    assert refused  # the body is the contract's
    assert int(shop.get("/customers").headers["retry-after"]) >= 1
    # Another token has its own count.
    assert client.get(V1 + "/customers", headers=bearer(other)).status_code == 200


def test_failed_tokens_are_limited_per_address(world: TestWorld, client: TestClient, shop: Management) -> None:
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 3")
    wrong = {"Authorization": "Bearer v2lm_abcdefgh_guess"}
    for _ in range(3):
        assert_error(client.get(V1 + "/customers", headers=wrong), 401, "INVALID_TOKEN")
    assert_error(client.get(V1 + "/customers", headers=wrong), 429, "RATE_LIMITED")


def test_a_body_that_is_not_json_is_415(world: TestWorld, shop: Management) -> None:
    response = shop.post("/customers", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_the_body_size_limit_still_applies(world: TestWorld, shop: Management) -> None:
    response = shop.post("/customers", json={"name": "x" * 20_000, "email": "a@b.example"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert _customers(world) == 0
