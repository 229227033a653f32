"""/openapi.json documents every License API operation, and the wire matches the documentation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from licenseserver.api import schemas
from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from tests.api.helpers import (
    INFO,
    SESSION_END,
    SESSION_HEARTBEAT,
    VERSION_CHECK,
    VERSION_LATEST,
    activate,
    activated_license,
    end_session,
    heartbeat,
    live_session,
    start_session,
    verify,
)
from tests.support.world import TestWorld

OPERATIONS = {
    ("/api/license/activate", "post"),
    ("/api/license/verify", "post"),
    ("/api/license/info/{license_key}", "get"),
    ("/api/license/session/start", "post"),
    ("/api/license/session/heartbeat", "post"),
    ("/api/license/session/end", "post"),
    ("/api/version/check", "post"),
    ("/api/version/latest", "get"),
    ("/", "get"),
    ("/health", "get"),
    ("/metrics", "get"),
}
REQUIRED_BODY_FIELDS = {
    "/api/license/activate": {"license_key", "hardware_hash"},
    "/api/license/verify": {"license_key", "hardware_hash"},
    "/api/license/session/start": {"license_key", "hardware_hash", "version"},
    "/api/license/session/heartbeat": {"session_token", "license_key"},
    "/api/license/session/end": {"session_token"},
    "/api/version/check": {"current_version"},
}
DOCUMENTED_ERRORS = [
    ("/api/license/activate", "post", 404, "LICENSE_NOT_FOUND"),
    ("/api/license/activate", "post", 403, "LICENSE_INACTIVE"),
    ("/api/license/activate", "post", 403, "LICENSE_EXPIRED"),
    ("/api/license/activate", "post", 403, "LICENSE_NOT_YET_VALID"),
    ("/api/license/activate", "post", 409, "ACTIVATION_LIMIT_REACHED"),
    ("/api/license/info/{license_key}", "get", 404, "LICENSE_NOT_FOUND"),
    ("/api/license/session/start", "post", 403, "DEVICE_NOT_ACTIVATED"),
    ("/api/license/session/start", "post", 403, "VERSION_TOO_OLD"),
    ("/api/license/session/start", "post", 409, "SESSION_CONFLICT"),
    ("/api/license/session/start", "post", 503, "CLIENT_NOT_CONFIGURED"),
    ("/api/license/session/heartbeat", "post", 404, "SESSION_NOT_FOUND"),
    ("/api/license/session/heartbeat", "post", 503, "CLIENT_NOT_CONFIGURED"),
    ("/api/license/session/end", "post", 404, "SESSION_NOT_FOUND"),
    ("/api/version/check", "post", 503, "CLIENT_NOT_CONFIGURED"),
    ("/api/version/latest", "get", 503, "CLIENT_NOT_CONFIGURED"),
]
PROTECTED_OPERATIONS = sorted(op for op in OPERATIONS if op[0].startswith("/api/"))


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as served, without an API key; building it needs no database."""
    unused = tmp_path_factory.mktemp("openapi") / "unused.db"
    client = TestClient(create_api_app(Settings(database_url=f"sqlite:///{unused}")))
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def test_every_operation_is_documented(spec: dict[str, Any]) -> None:
    documented = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert documented >= OPERATIONS


@pytest.mark.parametrize(("path", "required"), sorted(REQUIRED_BODY_FIELDS.items()))
def test_posts_document_their_request_body(spec: dict[str, Any], path: str, required: set[str]) -> None:
    body = spec["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    schema = _resolve(spec, body["content"]["application/json"]["schema"])
    assert set(schema["required"]) == required
    assert set(schema["properties"]) >= required


@pytest.mark.parametrize(("path", "method", "status", "code"), DOCUMENTED_ERRORS)
def test_error_codes_are_documented(spec: dict[str, Any], path: str, method: str, status: int, code: str) -> None:
    response = spec["paths"][path][method]["responses"][str(status)]
    assert code in response["description"]
    schema = _resolve(spec, response["content"]["application/json"]["schema"])
    assert set(schema["required"]) == {"error", "code", "status"}


@pytest.mark.parametrize(("path", "method"), PROTECTED_OPERATIONS)
def test_protected_operations_document_key_rate_limit_and_validation(
    spec: dict[str, Any], path: str, method: str
) -> None:
    operation = spec["paths"][path][method]
    assert operation["security"] == [{"ApiKey": []}]
    assert "INVALID_API_KEY" in operation["responses"]["401"]["description"]
    assert "RATE_LIMITED" in operation["responses"]["429"]["description"]
    if method == "post":
        assert "VALIDATION_ERROR" in operation["responses"]["400"]["description"]
        assert "UNSUPPORTED_MEDIA_TYPE" in operation["responses"]["415"]["description"]
    assert spec["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


@pytest.mark.parametrize("path", ["/", "/health", "/metrics"])
def test_public_operations_need_no_key_in_the_documentation(spec: dict[str, Any], path: str) -> None:
    assert "security" not in spec["paths"][path]["get"]


def test_health_documents_its_503(spec: dict[str, Any]) -> None:
    assert "503" in spec["paths"]["/health"]["get"]["responses"]


# --- the wire matches the documented models ------------------------------------------------------


def _conforms(model: type[BaseModel], body: dict[str, Any]) -> None:
    model.model_validate(body)
    undocumented = set(body) - set(model.model_fields)
    assert not undocumented, f"{model.__name__} does not document {undocumented}"


def test_license_responses_match_their_models(world: TestWorld, api: TestClient) -> None:
    key = world.license(max_activations=1)
    activated = activate(api, key, "hw-1").json()
    _conforms(schemas.ActivateResponse, activated)
    _conforms(schemas.ActivationOut, activated["activation"])
    _conforms(schemas.ActivateResponse, activate(api, key, "hw-1").json())

    valid = verify(api, key, "hw-1").json()
    _conforms(schemas.VerifyResponse, valid)
    _conforms(schemas.VerifiedLicense, valid["license"])
    _conforms(schemas.VerifyResponse, verify(api, key, "hw-unknown").json())

    info = api.get(INFO.format(key=key)).json()
    _conforms(schemas.InfoResponse, info)
    _conforms(schemas.LicenseOut, info["license"])
    for activation in info["activations"]:
        _conforms(schemas.ActivationOut, activation)


def test_session_responses_match_their_models(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api, "hw-1")
    started = start_session(api, key, "hw-1").json()
    _conforms(schemas.SessionStartResponse, started)
    _conforms(schemas.HeartbeatResponse, heartbeat(api, started["session_token"], key).json())
    _conforms(schemas.SessionEndResponse, end_session(api, started["session_token"]).json())


def test_version_and_public_responses_match_their_models(world: TestWorld, api: TestClient) -> None:
    _conforms(schemas.VersionCheckResponse, api.post(VERSION_CHECK, json={"current_version": "1.0.0"}).json())
    _conforms(schemas.VersionLatestResponse, api.get(VERSION_LATEST).json())
    _conforms(schemas.ServiceStatus, api.get("/").json())
    _conforms(schemas.HealthStatus, api.get("/health").json())


def test_error_responses_match_the_error_model(world: TestWorld, api: TestClient) -> None:
    key, token = live_session(world, api)
    end_session(api, token)
    for response in (
        api.post(SESSION_HEARTBEAT, json={"session_token": token, "license_key": key}),
        api.post(SESSION_END, json={"session_token": "unknown"}),
        activate(api, "AAAA-BBBB-CCCC-DDDD"),
        api.post(VERSION_CHECK, json={}),
        api.get("/nope"),
        api.get(VERSION_LATEST, headers={"X-API-Key": "wrong"}),
    ):
        assert response.status_code >= 400
        _conforms(schemas.ErrorBody, response.json())
