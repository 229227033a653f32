"""/openapi.json documents the checkout and the JWK Set, and their answers match the documentation."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.api import schemas
from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from tests.api.helpers import activated_license
from tests.signing.helpers import CHECKOUT, JWKS
from tests.support.world import TestWorld


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    unused = tmp_path_factory.mktemp("openapi") / "unused.db"
    document: dict[str, Any] = (
        TestClient(create_api_app(Settings(database_url=f"sqlite:///{unused}"))).get("/openapi.json").json()
    )
    return document


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_checkout_is_documented(spec: dict[str, Any]) -> None:
    operation = spec["paths"][CHECKOUT]["post"]
    assert operation["security"] == [{"ApiKey": []}]
    body = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"license_key", "hardware_hash"}
    assert set(body["properties"]) == {"license_key", "hardware_hash", "ttl_days"}
    answer = _resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(answer["required"]) == {"license_file", "expires_at"}
    codes = {status: operation["responses"][status]["description"] for status in ("400", "401", "403", "404", "503")}
    for status, code in [
        ("400", "VALIDATION_ERROR"),
        ("401", "INVALID_API_KEY"),
        ("403", "DEVICE_NOT_ACTIVATED"),
        ("403", "LICENSE_EXPIRED"),
        ("403", "LICENSE_INACTIVE"),
        ("403", "LICENSE_NOT_YET_VALID"),
        ("404", "LICENSE_NOT_FOUND"),
        ("503", "SERVICE_UNAVAILABLE"),
    ]:
        assert code in codes[status]


def test_the_jwk_set_is_documented_and_public(spec: dict[str, Any]) -> None:
    operation = spec["paths"][JWKS]["get"]
    assert "security" not in operation
    answer = _resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert answer["required"] == ["keys"]


def _conforms(model: type[schemas.Documented], body: dict[str, Any]) -> None:
    model.model_validate(body)
    assert not set(body) - set(model.model_fields)


def test_answers_match_their_documentation(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    _conforms(schemas.CheckoutResponse, api.post(CHECKOUT, json={"license_key": key, "hardware_hash": "hw-1"}).json())
    document = api.get(JWKS).json()
    _conforms(schemas.JwkSet, document)
    for jwk in document["keys"]:
        _conforms(schemas.Jwk, jwk)
