"""/openapi.json documents the management API: its own tags, the Bearer scheme (not the system
key), the errors of every call, bodies and answers with examples, the Idempotency-Key of creates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.config import Settings

CREATES = {"/api/v1/customers", "/api/v1/licenses", "/api/v1/leads/institutions", "/api/v1/leads/contacts"}
EXPECTED = {
    ("/api/v1/customers", "get"),
    ("/api/v1/customers", "post"),
    ("/api/v1/customers/{customer_id}", "get"),
    ("/api/v1/customers/{customer_id}", "patch"),
    ("/api/v1/customers/{customer_id}", "delete"),
    ("/api/v1/licenses", "get"),
    ("/api/v1/licenses", "post"),
    ("/api/v1/licenses/{license_id}", "get"),
    ("/api/v1/licenses/{license_id}", "patch"),
    ("/api/v1/licenses/{license_id}", "delete"),
    ("/api/v1/licenses/{license_id}/activate", "post"),
    ("/api/v1/licenses/{license_id}/deactivate", "post"),
    ("/api/v1/licenses/{license_id}/devices", "get"),
    ("/api/v1/licenses/{license_id}/devices/{device_id}/deactivate", "post"),
    ("/api/v1/licenses/{license_id}/resources", "get"),
    ("/api/v1/licenses/{license_id}/resources", "post"),
    ("/api/v1/sessions", "get"),
    ("/api/v1/sessions/{session_id}/end", "post"),
    ("/api/v1/resources", "get"),
    ("/api/v1/resources/{resource_id}/release", "post"),
    ("/api/v1/leads/institutions", "get"),
    ("/api/v1/leads/institutions", "post"),
    ("/api/v1/leads/institutions/{institution_id}/contacts", "get"),
    ("/api/v1/leads/contacts", "post"),
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    unused: Path = tmp_path_factory.mktemp("openapi") / "unused.db"
    client = TestClient(create_api_app(Settings(database_url=f"sqlite:///{unused}")))
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
    }


def test_every_management_operation_is_documented(spec: dict[str, Any]) -> None:
    assert set(_operations(spec)) >= EXPECTED


@pytest.mark.parametrize(("path", "method"), sorted(EXPECTED))
def test_each_operation_documents_bearer_errors_and_examples(spec: dict[str, Any], path: str, method: str) -> None:
    operation = _operations(spec)[(path, method)]
    assert operation["security"] == [{"BearerToken": []}]
    assert all(tag.startswith("Management: ") for tag in operation["tags"])
    responses = operation["responses"]
    assert "INVALID_TOKEN" in responses["401"]["description"]
    assert "RATE_LIMITED" in responses["429"]["description"]
    if method != "get":
        assert "INSUFFICIENT_SCOPE" in responses["403"]["description"]
    success = [status for status in responses if status.startswith("2")]
    assert len(success) == 1
    if success != ["204"]:
        assert responses[success[0]]["content"]["application/json"]["example"]
    if "requestBody" in operation:
        media = operation["requestBody"]["content"]["application/json"]
        assert media["example"] and media["schema"]
        assert "VALIDATION_ERROR" in responses["400"]["description"]
    names = {parameter["name"] for parameter in operation.get("parameters", [])}
    if method == "post" and path in CREATES:
        assert "Idempotency-Key" in names
        assert "IDEMPOTENCY_KEY_REUSED" in responses["422"]["description"]
    else:
        assert "Idempotency-Key" not in names
        assert "422" not in responses  # bad values are answered 400, not FastAPI's 422
    for status, response in responses.items():
        codes = response["description"].removeprefix("Error codes: ").split(", ")
        assert len(codes) == len(set(codes)), (status, codes)


def test_the_bearer_scheme_is_declared_and_the_api_key_stays_on_the_license_api(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerToken"]["type"] == "http" and schemes["BearerToken"]["scheme"] == "bearer"
    assert spec["paths"]["/api/license/activate"]["post"]["security"] == [{"ApiKey": []}]


def test_a_wrong_method_names_every_method_the_path_takes(client: TestClient) -> None:
    for method, path, allowed in (
        ("OPTIONS", "/api/v1/customers", {"GET", "HEAD", "POST"}),
        ("PUT", "/api/v1/customers/5", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("GET", "/api/v1/leads/contacts", {"POST"}),
    ):
        response = client.request(method, path)
        assert response.status_code == 405
        assert response.json() == {"error": "Method not allowed", "code": "METHOD_NOT_ALLOWED", "status": 405}
        assert set(response.headers["allow"].split(", ")) == allowed
