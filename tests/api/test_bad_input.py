"""Bad input on every License API endpoint (contract §3, §7).

However malformed a request is, it gets a 4xx with the contract's error body — 400
`VALIDATION_ERROR` naming the field in `details`, or 413 `PAYLOAD_TOO_LARGE` — never a 5xx, and
the database is exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest

from licenseserver.api.app import create_api_app
from tests.conftest import LiveServer
from tests.support.world import TestWorld

MAX_BODY = 16 * 1024
JSON_HEADERS = {"content-type": "application/json"}
VALID_KEY_SHAPE = "AAAA-BBBB-CCCC-DDDD"

# One past each documented maximum; version fields stay valid versions so only the length is wrong.
TOO_LONG: dict[str, str] = {
    "license_key": "AAAA-BBBB-CCCC-DDDD0",
    "hardware_hash": "h" * 257,
    "machine_name": "m" * 256,
    "machine_id": "m" * 256,
    "app_version": "1." + "1" * 49,
    "version": "1." + "1" * 49,
    "current_version": "1." + "1" * 49,
    "session_token": "t" * 65,
}
# Exactly at each maximum (multi-byte characters: the limit counts characters, like the columns).
AT_MAXIMUM: dict[str, str] = {
    "hardware_hash": "ä" * 256,
    "machine_name": "€" * 255,
    "app_version": "1." + "1" * 48,
}
BAD_KEYS = (
    "",
    "   ",
    "AAAA-BBBB-CCCC",
    "AAAA-BBBB-CCCC-DDD",
    "AAAABBBBCCCCDDDD",
    "AAAA_BBBB_CCCC_DDDD",
    "AAAA-BBBB-CCCC-DDD!",
    "AAAA--BBB-CCCC-DDDD",
    "ÄAAA-BBBB-CCCC-DDDD",
    "ＡAAA-BBBB-CCCC-DDDD",  # full-width letter
    "AAAA-BBBB-CCCC-DDD١",  # Arabic-Indic digit one
    "AAAA-BBBB-CCCC-DDDD-EEEE",
    "AAAA-BBBB-CCCC-DD\nD",
    "AAAA-BBBB-CCCC-DDD\u0000",
    "' OR '1'='1",
)
WRONG_TYPES: tuple[Any, ...] = (42, 4.2, True, {"value": "x"}, ["x"], None)


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    nullable: frozenset[str] = field(default_factory=frozenset)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


ENDPOINTS = {
    e.name: e
    for e in (
        Endpoint(
            "activate",
            "/api/license/activate",
            ("license_key", "hardware_hash"),
            ("machine_name", "app_version"),
            frozenset({"app_version"}),
        ),
        Endpoint(
            "verify",
            "/api/license/verify",
            ("license_key", "hardware_hash"),
            ("app_version",),
            frozenset({"app_version"}),
        ),
        Endpoint(
            "session_start", "/api/license/session/start", ("license_key", "hardware_hash", "version"), ("machine_id",)
        ),
        Endpoint("heartbeat", "/api/license/session/heartbeat", ("session_token", "license_key")),
        Endpoint("session_end", "/api/license/session/end", ("session_token",)),
        Endpoint(
            "version_check",
            "/api/version/check",
            ("current_version",),
            ("license_key",),
            frozenset({"license_key"}),
        ),
    )
}
POST_ENDPOINTS = tuple(ENDPOINTS)


class InProcessApi:
    """The License API app driven in one event loop (lifespan included): the same requests as the
    TestClient, but without a thread hop per message, so hundreds of requests take a second."""

    def __init__(self, world: TestWorld) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_api_app(world.settings())
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
            base_url="http://api.test",
            headers={"X-API-Key": world.api_key},
        )

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(path, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@dataclass
class Scene:
    """A database where every endpoint's valid body would succeed (and most would write)."""

    world: TestWorld
    api: InProcessApi
    bodies: dict[str, dict[str, Any]]


@pytest.fixture
def in_process_api(world: TestWorld) -> Iterator[InProcessApi]:
    api = InProcessApi(world)
    yield api
    api.close()


@pytest.fixture
def scene(world: TestWorld, in_process_api: InProcessApi) -> Scene:
    api = in_process_api
    busy = world.license(max_activations=5)
    idle = world.license(max_activations=5)
    for key in (busy, idle):
        activated = api.post("/api/license/activate", json={"license_key": key, "hardware_hash": "hw-ready"})
        assert activated.status_code == 200, activated.text
    started = api.post(
        "/api/license/session/start", json={"license_key": busy, "hardware_hash": "hw-ready", "version": "1.0.0"}
    )
    assert started.status_code == 200, started.text
    token = started.json()["session_token"]
    bodies = {
        "activate": {"license_key": busy, "hardware_hash": "hw-new", "machine_name": "PC-NEW", "app_version": "1.0.0"},
        "verify": {"license_key": busy, "hardware_hash": "hw-ready", "app_version": "1.0.0"},
        "session_start": {"license_key": idle, "hardware_hash": "hw-ready", "machine_id": "PC-1", "version": "1.0.0"},
        "heartbeat": {"session_token": token, "license_key": busy},
        "session_end": {"session_token": token},
        "version_check": {"current_version": "1.0.0", "license_key": busy},
    }
    return Scene(world, api, bodies)


def error_problems(response: httpx.Response, status: int, code: str, field_name: str | None = None) -> str | None:
    """Why this response is not the contract's refusal, or None when it is."""
    if response.status_code != status:
        return f"status {response.status_code} (wanted {status}): {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:300]!r}"
    if not isinstance(body, dict) or not {"error", "code", "status"} <= body.keys():
        return f"not the error body: {body!r}"
    if body["code"] != code or body["status"] != status or not isinstance(body["error"], str) or not body["error"]:
        return f"wrong error body: {body!r}"
    if field_name is not None:
        fields = [d.get("field", "") for d in body.get("details") or []]
        if not any(f == field_name or f.endswith("." + field_name) for f in fields):
            return f"details do not name {field_name!r}: {body!r}"
    return None


@dataclass
class Case:
    label: str
    content: bytes
    field_name: str | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))


def json_case(label: str, payload: Any, field_name: str | None = None) -> Case:
    return Case(label, json.dumps(payload).encode(), field_name)


def syntax_cases(valid: dict[str, Any]) -> list[Case]:
    valid_bytes = json.dumps(valid).encode()
    raw = [
        ("empty body", b""),
        ("whitespace body", b"  \n "),
        ("truncated", valid_bytes[:-1]),
        ("unclosed brace", b"{"),
        ("missing value", b'{"license_key": }'),
        ("single quotes", b"{'license_key': 'x'}"),
        ("trailing comma", valid_bytes[:-1] + b",}"),
        ("two objects", valid_bytes + valid_bytes),
        ("garbage after object", valid_bytes + b"garbage"),
        ("bare word", b"hello"),
        ("nan", b'{"license_key": NaN}'),
        ("array", b"[]"),
        ("array of the valid object", b"[" + valid_bytes + b"]"),
        ("string", b'"license_key"'),
        ("number", b"42"),
        ("true", b"true"),
        ("null", b"null"),
        ("deep nesting", b"[" * 7000 + b"]" * 7000),
        ("huge integer", b'{"license_key": ' + b"9" * 12000 + b"}"),
        ("form encoded", b"license_key=AAAA-BBBB-CCCC-DDDD&hardware_hash=x"),
    ]
    return [Case(label, content) for label, content in raw]


def encoding_cases(endpoint: Endpoint, valid: dict[str, Any]) -> list[Case]:
    first = endpoint.required[0]
    text = json.dumps(valid)
    cases = [
        Case("invalid UTF-8 in a value", text.replace(json.dumps(valid[first]), '"\xff\xfe"').encode("latin-1")),
        Case("latin-1 encoded body", json.dumps({**valid, first: "Ä"}, ensure_ascii=False).encode("latin-1")),
        Case("UTF-16 body", text.encode("utf-16")),
        Case("lone surrogate escape", text.replace(json.dumps(valid[first]), '"\\ud800"').encode()),
        Case("raw NUL byte in a string", text.replace(json.dumps(valid[first]), '"a\x00b"').encode()),
        Case("NUL byte before the body", b"\x00" + text.encode()),
        Case("raw control character", text.replace(json.dumps(valid[first]), '"a\x01b"').encode()),
        Case("binary junk", bytes(range(256))),
    ]
    # A JSON-escaped NUL is valid JSON; every text field must refuse it (PostgreSQL cannot store it).
    for name in endpoint.fields:
        value = str(valid.get(name) or "x")
        cases.append(json_case(f"escaped NUL in {name}", {**valid, name: value[:-1] + "\u0000"}, name))
    return cases


def missing_cases(endpoint: Endpoint, valid: dict[str, Any]) -> list[Case]:
    cases = [json_case("empty object", {}, endpoint.required[0])]
    for name in endpoint.required:
        cases.append(json_case(f"{name} missing", {k: v for k, v in valid.items() if k != name}, name))
    return cases


def type_cases(endpoint: Endpoint, valid: dict[str, Any]) -> list[Case]:
    cases = []
    for name in endpoint.fields:
        for wrong in WRONG_TYPES:
            if wrong is None and name in endpoint.nullable:
                continue
            cases.append(json_case(f"{name}={wrong!r}", {**valid, name: wrong}, name))
    return cases


def length_cases(endpoint: Endpoint, valid: dict[str, Any]) -> list[Case]:
    cases = [json_case(f"{name} one too long", {**valid, name: TOO_LONG[name]}, name) for name in endpoint.fields]
    for name in endpoint.fields:
        if name in ("hardware_hash", "session_token"):
            cases.append(json_case(f"{name} empty", {**valid, name: ""}, name))
            cases.append(json_case(f"{name} blank", {**valid, name: "   "}, name))
        if name in ("app_version", "version", "current_version"):
            for bad in ("", "latest", "1.0.0 beta", "v1..0", "1.0.0\u0000"):
                cases.append(json_case(f"{name}={bad!r}", {**valid, name: bad}, name))
    return cases


def key_cases(endpoint: Endpoint, valid: dict[str, Any]) -> list[Case]:
    if "license_key" not in endpoint.fields:
        return []
    return [json_case(f"license_key={bad!r}", {**valid, "license_key": bad}, "license_key") for bad in BAD_KEYS]


CATEGORIES: dict[str, Callable[[Endpoint, dict[str, Any]], list[Case]]] = {
    "syntax": lambda _e, valid: syntax_cases(valid),
    "encoding": encoding_cases,
    "missing": missing_cases,
    "types": type_cases,
    "lengths": length_cases,
    "key_format": key_cases,
}


def refuse_all(scene: Scene, path: str, cases: list[Case], status: int = 400, code: str = "VALIDATION_ERROR") -> None:
    before = scene.world.snapshot()
    failures = []
    for case in cases:
        response = scene.api.post(path, content=case.content, headers=case.headers)
        problem = error_problems(response, status, code, case.field_name)
        after = scene.world.snapshot()
        if after != before:
            problem = f"{problem or 'answered as wanted'}, but the database changed"
            before = after
        if problem is not None:
            failures.append(f"{case.label}: {problem}")
    assert not failures, f"{path}: {len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)


def test_valid_bodies_succeed(scene: Scene) -> None:
    """The baseline every refusal below is a mutation of is itself accepted."""
    for name in ("verify", "heartbeat", "version_check", "activate", "session_start", "session_end"):
        response = scene.api.post(ENDPOINTS[name].path, json=scene.bodies[name])
        assert response.status_code == 200, (name, response.text)


@pytest.mark.parametrize("endpoint_name", POST_ENDPOINTS)
def test_bad_body_refused_and_nothing_written(scene: Scene, endpoint_name: str) -> None:
    """Every case of every category (syntax, encoding, missing, types, lengths, key format)."""
    endpoint = ENDPOINTS[endpoint_name]
    valid = scene.bodies[endpoint_name]
    cases = [
        Case(f"[{category}] {case.label}", case.content, case.field_name, case.headers)
        for category, make_cases in CATEGORIES.items()
        for case in make_cases(endpoint, valid)
    ]
    assert len(cases) >= 40
    refuse_all(scene, endpoint.path, cases)


@pytest.mark.parametrize("endpoint_name", POST_ENDPOINTS)
def test_fields_at_their_maximum_accepted(scene: Scene, endpoint_name: str) -> None:
    """The limits are the columns' limits: a value exactly at the maximum is served, not a 5xx."""
    endpoint = ENDPOINTS[endpoint_name]
    body = dict(scene.bodies[endpoint_name])
    if endpoint_name == "session_start":  # the device must be activated before it can start a session
        device = {"license_key": body["license_key"], "hardware_hash": AT_MAXIMUM["hardware_hash"]}
        assert scene.api.post("/api/license/activate", json=device).status_code == 200
    for name in endpoint.fields:
        if name in AT_MAXIMUM:
            body[name] = AT_MAXIMUM[name]
        elif name in ("version", "current_version"):
            body[name] = AT_MAXIMUM["app_version"]
        elif name == "machine_id":
            body[name] = AT_MAXIMUM["machine_name"]
        elif name == "session_token":
            body[name] = body[name] + "x" * (64 - len(body[name]))
    response = scene.api.post(endpoint.path, json=body)
    assert response.status_code < 500, response.text
    if endpoint_name in ("heartbeat", "session_end"):  # a 64-character token is well-formed but unknown
        assert error_problems(response, 404, "SESSION_NOT_FOUND") is None, response.text
    elif endpoint_name == "verify":  # a new device: well-formed, so 200 with valid false
        assert response.status_code == 200 and response.json()["valid"] is False, response.text
    else:
        assert response.status_code == 200, response.text
    if endpoint_name == "activate":
        stored = scene.world.rows(
            "SELECT machine_name, app_version FROM activations WHERE hardware_hash = :h", h=AT_MAXIMUM["hardware_hash"]
        )
        assert stored == [{"machine_name": AT_MAXIMUM["machine_name"], "app_version": AT_MAXIMUM["app_version"]}]


@pytest.mark.parametrize("endpoint_name", POST_ENDPOINTS)
def test_body_over_16_kib_refused_with_413(scene: Scene, endpoint_name: str) -> None:
    endpoint = ENDPOINTS[endpoint_name]
    valid = json.dumps(scene.bodies[endpoint_name]).encode()
    padded_to = lambda size: valid[:-1] + b" " * (size - len(valid)) + b"}"  # noqa: E731 - still valid JSON

    exactly = scene.api.post(endpoint.path, content=padded_to(MAX_BODY), headers=JSON_HEADERS)
    assert exactly.status_code != 413, "a body of exactly 16 KiB is within the limit"
    assert exactly.status_code < 500, exactly.text
    before = scene.world.snapshot()  # the request within the limit may have written

    cases = [
        Case("one byte over", padded_to(MAX_BODY + 1)),
        Case("one MiB", padded_to(1024 * 1024)),
        Case("huge string field", json.dumps({**scene.bodies[endpoint_name], "x": "y" * 20_000}).encode()),
    ]
    refuse_all(scene, endpoint.path, cases, status=413, code="PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        yield valid[:-1]
        for _ in range(40):
            yield b" " * 1024
        yield b"}"

    chunked = scene.api.post(endpoint.path, content=chunks(), headers=JSON_HEADERS)
    assert "content-length" not in {k.lower() for k in chunked.request.headers}
    assert error_problems(chunked, 413, "PAYLOAD_TOO_LARGE") is None
    assert scene.world.snapshot() == before


FOREIGN_CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/plain",
    "text/json",
    "application/xml",
    "application/jsonp",
    "application/json-patch",
    "application/octet-stream",
    "",
    "json",
)
JSON_CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON;charset=UTF-8",
    " application/json ",
    "application/vnd.licenseserver+json",
    "application/merge-patch+json; charset=utf-8",
)


@pytest.mark.parametrize("endpoint_name", POST_ENDPOINTS)
def test_a_body_that_is_not_json_by_its_content_type_is_refused_with_415(scene: Scene, endpoint_name: str) -> None:
    """The body itself is valid JSON: only its declared type is wrong."""
    endpoint = ENDPOINTS[endpoint_name]
    valid = json.dumps(scene.bodies[endpoint_name]).encode()
    cases = [Case(f"Content-Type {value!r}", valid, headers={"content-type": value}) for value in FOREIGN_CONTENT_TYPES]
    refuse_all(scene, endpoint.path, cases, status=415, code="UNSUPPORTED_MEDIA_TYPE")

    async def chunks() -> AsyncIterator[bytes]:
        yield valid

    chunked = scene.api.post(endpoint.path, content=chunks(), headers={"content-type": "text/plain"})
    assert "transfer-encoding" in chunked.request.headers
    assert error_problems(chunked, 415, "UNSUPPORTED_MEDIA_TYPE") is None


def test_json_content_types_and_none_at_all_are_read_as_json(scene: Scene) -> None:
    verify = ENDPOINTS["verify"]
    valid = json.dumps(scene.bodies["verify"]).encode()
    for value in JSON_CONTENT_TYPES:
        response = scene.api.post(verify.path, content=valid, headers={"content-type": value})
        assert response.status_code == 200 and response.json()["valid"] is True, (value, response.text)
    bare = scene.api.post(verify.path, content=valid)
    assert "content-type" not in bare.request.headers
    assert bare.status_code == 200 and bare.json()["valid"] is True, bare.text
    # Without a body there is nothing to type: an empty body is bad input as before.
    empty = scene.api.post(verify.path, content=b"", headers={"content-type": "text/plain"})
    assert error_problems(empty, 400, "VALIDATION_ERROR") is None


def test_the_api_key_is_checked_before_the_content_type(scene: Scene) -> None:
    response = scene.api.post(
        ENDPOINTS["verify"].path, content=b"x=1", headers={"content-type": "text/plain", "X-API-Key": "wrong"}
    )
    assert error_problems(response, 401, "INVALID_API_KEY") is None


def test_non_numeric_content_length_refused(scene: Scene) -> None:
    before = scene.world.snapshot()
    for path in (e.path for e in ENDPOINTS.values()):
        response = scene.api.post(path, content=b"{}", headers={**JSON_HEADERS, "content-length": "-1"})
        assert 400 <= response.status_code < 500, response.text
    assert scene.world.snapshot() == before


BAD_PATH_KEYS = (
    *[quote(k, safe="") for k in BAD_KEYS if k.strip()],
    "AAAA-BBBB-CCCC-DDDD0",
    "A" * 100,
    "%00",
    "%FF%FE",
    "AAAA-BBBB-CCCC-DDD%00",
    "%E2%80%8BAAAA-BBBB-CCCC-DDDD",  # zero-width space
    "AAAA-BBBB-CCCC-DDDD%3Bdrop",
)


def test_info_with_bad_key_refused(scene: Scene) -> None:
    before = scene.world.snapshot()
    failures = []
    for raw_key in BAD_PATH_KEYS:
        response = scene.api.get(f"/api/license/info/{raw_key}")
        problem = error_problems(response, 400, "VALIDATION_ERROR", "license_key")
        if problem is not None:
            failures.append(f"{raw_key!r}: {problem}")
    assert not failures, "\n".join(failures)
    assert scene.world.snapshot() == before


def test_info_key_is_normalised_not_refused(scene: Scene) -> None:
    key = scene.bodies["verify"]["license_key"]
    assert scene.api.get(f"/api/license/info/{key.lower()}").status_code == 200
    assert scene.api.get(f"/api/license/info/%20{key}%20").status_code == 200
    unknown = scene.api.get(f"/api/license/info/{VALID_KEY_SHAPE}")
    assert error_problems(unknown, 404, "LICENSE_NOT_FOUND") is None


def test_unknown_fields_ignored_and_never_stored(scene: Scene) -> None:
    world, api = scene.world, scene.api
    sentinel = "SENTINEL-7f3a9c"
    key = world.license(max_activations=1)
    extras = {
        "evil": sentinel,
        "nested": {"deep": [sentinel]},
        "id": 987654,
        "license_id": 987654,
        "is_active": False,
        "activated_at": "2000-01-01T00:00:00Z",
        "deactivated_at": "2000-01-01T00:00:00Z",
        "max_activations": 1000,
        "customer_id": 987654,
        "session_token": sentinel,
        "ended_at": "2000-01-01T00:00:00Z",
        "end_reason": sentinel,
    }
    body = {"license_key": key, "hardware_hash": "hw-extra", "machine_name": "PC-X", "app_version": "1.0.0"}
    activated = api.post("/api/license/activate", json={**body, **extras})
    assert activated.status_code == 200, activated.text
    activation = activated.json()["activation"]
    assert activation["id"] != 987654 and activation["is_active"] is True
    assert not activation["activated_at"].startswith("2000")

    verified = api.post("/api/license/verify", json={**body, **extras})
    assert verified.status_code == 200 and verified.json()["valid"] is True

    started = api.post(
        "/api/license/session/start",
        json={"license_key": key, "hardware_hash": "hw-extra", "version": "1.0.0", **extras},
    )
    assert started.status_code == 200, started.text
    token = started.json()["session_token"]
    assert token != sentinel
    beat = api.post("/api/license/session/heartbeat", json={**extras, "session_token": token, "license_key": key})
    assert beat.status_code == 200, beat.text
    assert api.post("/api/version/check", json={**extras, "current_version": "1.0.0"}).status_code == 200

    # The limit of 1 was not raised by "max_activations": 1000.
    second = api.post("/api/license/activate", json={**body, "hardware_hash": "hw-extra-2", **extras})
    assert error_problems(second, 409, "ACTIVATION_LIMIT_REACHED") is None

    snapshot = world.snapshot()
    stored = [value for rows in snapshot.values() for row in rows for value in row]
    assert not [v for v in stored if sentinel in str(v)], "an unknown field's value was stored"
    assert 987654 not in stored
    row = world.rows("SELECT license_id, is_active, deactivated_at FROM activations WHERE hardware_hash = 'hw-extra'")
    assert len(row) == 1 and bool(row[0]["is_active"]) and row[0]["deactivated_at"] is None
    assert world.scalar("SELECT max_activations FROM licenses WHERE license_key = :k", k=key) == 1
    session = world.rows("SELECT ended_at, end_reason FROM sessions WHERE session_token = :t", t=token)
    assert session == [{"ended_at": None, "end_reason": None}]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 10**30, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.5, 1e308, 3.14159, rng.random()])
    if kind == 4:
        return rng.choice([VALID_KEY_SHAPE, "1.0.0", "1.10.0", "0", "", " ", "null", "\u0000", "x" * 300])
    if kind in (5, 6, 7):
        alphabet = "AZaz09-._ \u00e4\u20ac\U0001f600\u0000\n\t\"\\'/%{}[]"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 4, 19, 20, 50, 51, 64, 65, 257])))
    if kind in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(["a", "license_key", "\u0000", ""]): random_value(rng, depth + 1) for _ in range(rng.randrange(3))
    }


def random_body(rng: random.Random, endpoint: Endpoint, valid: dict[str, Any]) -> bytes:
    shape = rng.randrange(10)
    if shape == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if shape == 1:
        return json.dumps(random_value(rng)).encode()
    body: dict[str, Any] = {}
    for name in endpoint.fields:
        roll = rng.random()
        if roll < 0.45:
            body[name] = valid[name] if name in valid else random_value(rng)
        elif roll < 0.9:
            body[name] = random_value(rng)
    for _ in range(rng.randrange(3)):
        body[rng.choice(["extra", "id", "is_active", "license_id", "\u00e4"])] = random_value(rng)
    text = json.dumps(body, ensure_ascii=rng.random() < 0.5)
    if shape == 2 and text:  # corrupt one byte
        position = rng.randrange(len(text))
        return text[:position].encode() + bytes([rng.randrange(256)]) + text[position + 1 :].encode()
    return text.encode()


FUZZ_ROUNDS = 200


def test_fuzz_never_5xx(scene: Scene) -> None:
    rng = random.Random(1234)
    failures = []
    for endpoint in ENDPOINTS.values():
        valid = scene.bodies[endpoint.name]
        for index in range(FUZZ_ROUNDS):
            content = random_body(rng, endpoint, valid)
            response = scene.api.post(endpoint.path, content=content, headers=JSON_HEADERS)
            if response.status_code >= 500 or (
                response.status_code >= 400
                and error_problems(response, response.status_code, response.json().get("code", "?")) is not None
            ):
                failures.append(
                    f"{endpoint.name} #{index} {content[:120]!r}: {response.status_code} {response.text[:200]}"
                )
    for index in range(FUZZ_ROUNDS):
        segment = quote(str(random_value(rng)), safe="")[:200] or "x"
        response = scene.api.get(f"/api/license/info/{segment}")
        if response.status_code >= 500:
            failures.append(f"info #{index} {segment!r}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures[:20])


# --- over the wire: a real server process, chunked bodies without Content-Length -------------------


def raw_http(server: LiveServer, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # the server may answer and close before reading everything
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
            head, _, body = received.partition(b"\r\n\r\n")
            length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.slow
def test_chunked_and_broken_bodies_over_the_wire(world: TestWorld, live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    key = world.license(max_activations=5)
    before = world.snapshot()
    body = json.dumps({"license_key": key, "hardware_hash": "hw-chunked"}).encode()
    chunk = b" " * 4096
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [body[:-1], *[chunk] * 5, b"}"]) + b"0\r\n\r\n"
    head = (
        "POST /api/license/activate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {world.api_key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, answer = raw_http(server, head + chunks)
    assert status == 413, answer
    assert json.loads(answer) == {
        "error": json.loads(answer)["error"],
        "code": "PAYLOAD_TOO_LARGE",
        "status": 413,
    }

    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": world.api_key}, timeout=10) as client:

        def stream() -> Iterator[bytes]:
            yield body[:-1]
            for _ in range(20):
                yield b" " * 1024
            yield b"}"

        streamed = client.post("/api/license/activate", content=stream(), headers=JSON_HEADERS)
        assert error_problems(streamed, 413, "PAYLOAD_TOO_LARGE") is None
        declared = client.post(
            "/api/license/activate", content=body[:-1] + b" " * MAX_BODY + b"}", headers=JSON_HEADERS
        )
        assert error_problems(declared, 413, "PAYLOAD_TOO_LARGE") is None
        for content in (
            b"\xff\xfe\x00garbage",
            b'{"license_key": "' + key.encode() + b'", "hardware_hash": "a\\u0000"}',
        ):
            refused = client.post("/api/license/activate", content=content, headers=JSON_HEADERS)
            assert error_problems(refused, 400, "VALIDATION_ERROR") is None
        assert world.snapshot() == before

        # A small chunked body is read and served: the limit counts bytes, not the framing.
        small = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [body[:10], body[10:]]) + b"0\r\n\r\n"
        status, answer = raw_http(server, head + small)
        assert status == 200, answer
        assert client.get("/health").status_code == 200
