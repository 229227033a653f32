"""The answers generated requests cannot provoke, forced one by one on every operation, conform to
/openapi.json too: too large (413), no key (401), rate limited (429), no client configured and
database away (503). Together with the fuzzing this shows every status an operation answers is
documented, with its body."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from licenseserver.api.guard import MANAGEMENT_PREFIX, MAX_BODY_BYTES
from tests.conftest import make_client
from tests.fuzz.checks import OUR_CHECKS
from tests.support.world import TestWorld

DOCUMENT_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    *OUR_CHECKS,
]
KEY = "AAAA-BBBB-CCCC-DDDD"
# Well-formed bodies, so that a refusal comes from the condition under test, not from validation.
BODIES: dict[str, dict[str, str]] = {
    "/api/license/activate": {"license_key": KEY, "hardware_hash": "hw-1"},
    "/api/license/verify": {"license_key": KEY, "hardware_hash": "hw-1"},
    "/api/license/checkout": {"license_key": KEY, "hardware_hash": "hw-1"},
    "/api/license/session/start": {"license_key": KEY, "hardware_hash": "hw-1", "version": "1.0.0"},
    "/api/license/session/heartbeat": {"session_token": "no-such-session", "license_key": KEY},
    "/api/license/session/end": {"session_token": "no-such-session"},
    "/api/version/check": {"current_version": "1.0.0"},
}
UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def document(world: TestWorld) -> schemathesis.BaseSchema:
    with make_client(world) as client:
        return schemathesis.openapi.from_dict(client.get("/openapi.json").json())


def _operations(document: schemathesis.BaseSchema, prefix: str = "/") -> list[Any]:
    operations = []
    for result in document.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return [operation for operation in operations if operation.path.startswith(prefix)]


def _key_operations(document: schemathesis.BaseSchema) -> list[Any]:
    """The operations behind the system key: every `/api/` one but the management API's, which
    takes Bearer tokens and has its own limit (tests/management)."""
    return [op for op in _operations(document, "/api/") if not op.path.startswith(MANAGEMENT_PREFIX)]


def _path_parameters(operation: Any) -> dict[str, str] | None:
    names = re.findall(r"\{(\w+)\}", operation.path)
    return {name: KEY if name == "license_key" else "1" for name in names} or None


def _send(
    client: TestClient, operation: Any, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    path = operation.path.format(**(_path_parameters(operation) or {}))
    if body is None and operation.path in BODIES:
        return client.request(operation.method.upper(), path, json=BODIES[operation.path], headers=headers)
    return client.request(operation.method.upper(), path, content=body, headers=headers)


def _conforms(operation: Any, response: Any) -> int:
    operation.Case(path_parameters=_path_parameters(operation)).validate_response(response, checks=DOCUMENT_CHECKS)
    return int(response.status_code)


@pytest.fixture
def client(world: TestWorld) -> Iterator[TestClient]:
    with make_client(world) as client:
        yield client


def test_too_large_bodies(document: schemathesis.BaseSchema, client: TestClient) -> None:
    oversized = b"{" + b" " * MAX_BODY_BYTES + b"}"
    for operation in _operations(document):
        response = _send(client, operation, body=oversized, headers={"Content-Type": "application/json"})
        assert _conforms(operation, response) == 413, operation.label


def test_bodies_sent_as_something_else_than_json(document: schemathesis.BaseSchema, client: TestClient) -> None:
    # Whatever the answer to a body labelled text/plain or form data (415 where refused), the
    # document must declare it for that operation.
    for operation in _operations(document):
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            body = b'{"license_key": "AAAA-BBBB-CCCC-DDDD", "hardware_hash": "hw-1"}'
            response = _send(client, operation, body=body, headers={"Content-Type": content_type})
            assert _conforms(operation, response) < 500, operation.label


def test_missing_and_wrong_keys(document: schemathesis.BaseSchema, client: TestClient) -> None:
    for operation in _key_operations(document):
        for key in ("", "AF-2026-WRONGKEY"):
            assert _conforms(operation, _send(client, operation, headers={"X-API-Key": key})) == 401, operation.label


def test_management_calls_without_a_token(document: schemathesis.BaseSchema, client: TestClient) -> None:
    for operation in _operations(document, MANAGEMENT_PREFIX):
        for token in ("", "Bearer v2lm_abcdefgh_wrong"):
            response = _send(client, operation, headers={"Authorization": token})
            assert _conforms(operation, response) == 401, operation.label


def test_rate_limited(world: TestWorld, document: schemathesis.BaseSchema) -> None:
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 1")
    operations = _key_operations(document)
    with make_client(world) as client:
        _send(client, operations[0])
        for operation in operations:
            response = _send(client, operation)
            assert _conforms(operation, response) == 429, operation.label
            assert int(response.headers["Retry-After"]) >= 1


def test_no_client_configured(world: TestWorld, document: schemathesis.BaseSchema, client: TestClient) -> None:
    world.execute("DELETE FROM client_releases")
    world.execute("DELETE FROM client_configs")
    for operation in _key_operations(document):
        status = _conforms(operation, _send(client, operation))
        if operation.path.startswith(("/api/license/session/", "/api/version/")):
            assert status == 503, operation.label


def test_database_away(pg_world: TestWorld) -> None:
    settings = pg_world.settings(database_url=UNREACHABLE_DATABASE)
    with TestClient(create_api_app(settings), raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = pg_world.api_key
        document = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        for operation in _operations(document):
            status = _conforms(operation, _send(client, operation))
            if operation.path.startswith("/api/") or operation.path == "/health":
                assert status == 503, operation.label
