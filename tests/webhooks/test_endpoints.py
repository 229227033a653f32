"""Registering webhook endpoints: validation, the secret shown once and sealed at rest."""

from __future__ import annotations

import base64

import pytest

from licenseserver.domain.webhooks.endpoints import (
    EndpointCreate,
    EndpointUpdate,
    create_endpoint,
    delete_endpoint,
    endpoint_secret,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    update_endpoint,
)
from licenseserver.kit.errors import AppError
from licenseserver.kit.secretbox import unseal
from tests.support.world import TestWorld
from tests.webhooks.conftest import RECEIVER, SECRET_KEY, on_sql, subscribe


def _create(world: TestWorld, allow_private: bool = False, **fields: object) -> object:
    data = EndpointCreate.model_validate({"url": RECEIVER, "event_types": ["license.created"], **fields})
    return on_sql(world, lambda conn: create_endpoint(conn, data, secret_key=SECRET_KEY, allow_private=allow_private))


def _refusal(world: TestWorld, allow_private: bool = False, **fields: object) -> AppError:
    with pytest.raises(AppError) as refused:
        _create(world, allow_private, **fields)
    assert refused.value.status == 400
    assert refused.value.code == "VALIDATION_ERROR"
    return refused.value


def test_created_endpoint_shows_its_secret_once_and_stores_it_sealed(world: TestWorld) -> None:
    created = subscribe(world, "license.created", "activation.created")
    assert created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"), validate=True)) >= 24
    assert created.endpoint.event_types == ("license.created", "activation.created")
    assert created.endpoint.enabled is True
    assert "secret" not in created.endpoint.json()

    stored = world.scalar("SELECT secret FROM webhook_endpoints WHERE id = :i", i=created.endpoint.id)
    assert created.secret not in stored
    assert created.secret.removeprefix("whsec_") not in stored
    assert unseal(SECRET_KEY, stored) == created.secret
    assert unseal("another-secret-key", stored) is None
    opened = on_sql(world, lambda conn: endpoint_secret(conn, created.endpoint.id, secret_key=SECRET_KEY))
    assert opened == created.secret


def test_two_endpoints_get_different_secrets(world: TestWorld) -> None:
    assert subscribe(world).secret != subscribe(world).secret


def test_an_unknown_event_type_is_refused(world: TestWorld) -> None:
    refusal = _refusal(world, True, event_types=["license.created", "license.exploded"])
    assert "license.exploded" in refusal.message
    assert refusal.extra["details"][0]["field"] == "event_types"
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 0


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "http"),
        ("http://127.0.0.1/hook", "loopback"),
        ("http://localhost:8080/hook", "localhost resolves to 127.0.0.1"),
        ("http://10.20.30.40/hook", "private"),
        ("http://169.254.169.254/", "metadata"),
    ],
)
def test_a_refused_url_is_refused_at_registration_saying_why(world: TestWorld, url: str, words: str) -> None:
    refusal = _refusal(world, url=url)
    assert refusal.message.startswith("Webhook URL refused: ")
    assert words in refusal.message
    assert refusal.extra["details"][0]["field"] == "url"
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 0


def test_private_targets_are_registered_when_the_operator_allows_them(world: TestWorld) -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.20.30.40/hook"):
        _create(world, allow_private=True, url=url)
    assert world.scalar("SELECT COUNT(*) FROM webhook_endpoints") == 3
    _refusal(world, True, url="ftp://127.0.0.1/hook")  # the scheme is never allowed


def test_update_list_delete_and_rotate(world: TestWorld) -> None:
    first = subscribe(world, "license.created")
    second = subscribe(world, "lead.created")

    changes = EndpointUpdate(description="Shop", event_types=["session.ended", "license.created"], enabled=False)
    before, after = on_sql(world, lambda conn: update_endpoint(conn, first.endpoint.id, changes, allow_private=False))
    assert before.event_types == ("license.created",)
    assert after.event_types == ("license.created", "session.ended")  # stored in the documented order
    assert (after.description, after.enabled, after.url) == ("Shop", False, RECEIVER)  # URL unchanged: not checked

    moved = EndpointUpdate(url="http://127.0.0.2/hook")
    with pytest.raises(AppError, match="loopback"):
        on_sql(world, lambda conn: update_endpoint(conn, first.endpoint.id, moved, allow_private=False))
    bad_type = EndpointUpdate(event_types=["nope"])
    with pytest.raises(AppError, match="nope"):
        on_sql(world, lambda conn: update_endpoint(conn, first.endpoint.id, bad_type, allow_private=True))

    listed = on_sql(world, list_endpoints)
    assert [e.id for e in listed] == [first.endpoint.id, second.endpoint.id]

    new_secret = on_sql(world, lambda conn: rotate_secret(conn, second.endpoint.id, secret_key=SECRET_KEY))
    assert new_secret.startswith("whsec_") and new_secret != second.secret
    opened = on_sql(world, lambda conn: endpoint_secret(conn, second.endpoint.id, secret_key=SECRET_KEY))
    assert opened == new_secret

    deleted = on_sql(world, lambda conn: delete_endpoint(conn, first.endpoint.id))
    assert deleted.id == first.endpoint.id
    for missing in (
        lambda conn: get_endpoint(conn, first.endpoint.id),
        lambda conn: delete_endpoint(conn, first.endpoint.id),
        lambda conn: rotate_secret(conn, 999_999, secret_key=SECRET_KEY),
    ):
        with pytest.raises(AppError) as refused:
            on_sql(world, missing)
        assert refused.value.status == 404


def test_an_endpoint_body_with_unknown_fields_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        EndpointCreate.model_validate({"url": RECEIVER, "event_types": ["license.created"], "secret": "mine"})
    with pytest.raises(ValidationError):
        EndpointCreate.model_validate({"url": RECEIVER, "event_types": []})
