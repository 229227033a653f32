"""Every License API answer to a request with Accept-Signature is signed (docs/signatures.md),
checked with the independent verification of tests/signing/rfc9421.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx2 as httpx
import pytest
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from licenseserver.api.app import create_api_app
from tests.api.helpers import (
    ACTIVATE,
    INFO,
    SESSION_END,
    SESSION_HEARTBEAT,
    SESSION_START,
    VERIFY,
    VERSION_CHECK,
    VERSION_LATEST,
    activate,
    activated_license,
    assert_error,
    remove_client,
)
from tests.conftest import make_client
from tests.signing.helpers import CHECKOUT, JWKS, accept_signature, assert_signed, jwks, signed_request
from tests.signing.rfc9421 import Answer, VerificationError, check_answer
from tests.support.world import TestWorld

SIGNATURE_HEADERS = {"content-digest", "signature-input", "signature"}


@dataclass
class Call:
    name: str
    method: str
    path: str
    status: int
    code: str | None = None
    kwargs: dict[str, Any] | None = None


def _calls(world: TestWorld, api: TestClient) -> Callable[[], list[Call]]:
    """The calls of one scene, built lazily so that each sees the data the previous ones made."""
    key = world.license(max_activations=1)
    body = {"license_key": key, "hardware_hash": "hw-1"}

    def build() -> list[Call]:
        return [
            Call("status", "GET", "/", 200),
            Call("health", "GET", "/health", 200),
            Call("metrics", "GET", "/metrics", 200),
            Call("jwks", "GET", JWKS, 200),
            Call("activate", "POST", ACTIVATE, 200, kwargs={"json": body}),
            Call("limit", "POST", ACTIVATE, 409, "ACTIVATION_LIMIT_REACHED", {"json": {**body, "hardware_hash": "x"}}),
            Call("verify", "POST", VERIFY, 200, kwargs={"json": body}),
            Call("info", "GET", INFO.format(key=key), 200),
            Call("checkout", "POST", CHECKOUT, 200, kwargs={"json": body}),
            Call("session start", "POST", SESSION_START, 200, kwargs={"json": {**body, "version": "1.0.0"}}),
            Call("version check", "POST", VERSION_CHECK, 200, kwargs={"json": {"current_version": "1.0.0"}}),
            Call("version latest", "GET", VERSION_LATEST, 200),
            Call("bad body", "POST", VERIFY, 400, "VALIDATION_ERROR", {"json": {"license_key": 1}}),
            Call("not json", "POST", ACTIVATE, 400, "VALIDATION_ERROR", {"content": b"{", "headers": {}}),
            Call("wrong key", "POST", VERIFY, 401, "INVALID_API_KEY", {"json": body, "headers": {"X-API-Key": "no"}}),
            Call("unknown license", "GET", INFO.format(key="AAAA-BBBB-CCCC-DDDD"), 404, "LICENSE_NOT_FOUND"),
            Call("unknown path", "GET", "/api/nothing/here", 404, "NOT_FOUND"),
            Call("wrong method", "GET", VERIFY, 405, "METHOD_NOT_ALLOWED"),
            Call("too large", "POST", ACTIVATE, 413, "PAYLOAD_TOO_LARGE", {"content": b"{" + b" " * 20_000 + b"}"}),
            Call("device off", "POST", CHECKOUT, 403, "DEVICE_NOT_ACTIVATED", {"json": {**body, "hardware_hash": "y"}}),
        ]

    return build


def _check(api: TestClient, call: Call, keys: dict[str, Any]) -> None:
    response, nonce = signed_request(api, call.method, call.path, **(call.kwargs or {}))
    if call.code is not None:
        assert_error(response, call.status, call.code)
    assert response.status_code == call.status, (call.name, response.text)
    params = assert_signed(response, call.method, call.path, keys, nonce)
    assert params["keyid"] == keys["keys"][0]["kid"], call.name


def test_every_answer_is_signed_and_verifies(world: TestWorld, api: TestClient) -> None:
    keys = jwks(api)
    for call in _calls(world, api)():
        _check(api, call, keys)
    heartbeat_and_end(world, api, keys)
    remove_client(world)
    _check(api, Call("no client", "GET", VERSION_LATEST, 503, "CLIENT_NOT_CONFIGURED"), keys)


def heartbeat_and_end(world: TestWorld, api: TestClient, keys: dict[str, Any]) -> None:
    key = activated_license(world, api, "hw-s")
    start = api.post(SESSION_START, json={"license_key": key, "hardware_hash": "hw-s", "version": "1.0.0"})
    token = start.json()["session_token"]
    _check(
        api,
        Call("heartbeat", "POST", SESSION_HEARTBEAT, 200, None, {"json": {"session_token": token, "license_key": key}}),
        keys,
    )
    _check(api, Call("end", "POST", SESSION_END, 200, None, {"json": {"session_token": token}}), keys)
    gone = {"json": {"session_token": token, "license_key": key}}
    _check(api, Call("ended", "POST", SESSION_HEARTBEAT, 404, "SESSION_NOT_FOUND", gone), keys)


def test_429_of_the_guard_is_signed(world: TestWorld) -> None:
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 1 WHERE id = 1")
    with make_client(world) as client:
        keys = jwks(client)  # not under /api/: not counted
        statuses = []
        for _ in range(3):
            response, nonce = signed_request(client, "GET", VERSION_LATEST)
            assert_signed(response, "GET", VERSION_LATEST, keys, nonce)
            statuses.append(response.status_code)
        assert statuses[-1] == 429
        assert response.headers["Retry-After"].isdigit()


def test_an_unexpected_500_is_signed(world: TestWorld) -> None:
    app = create_api_app(world.settings())

    async def broken(_request: Any) -> Response:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, Route("/api/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = world.api_key
        response, nonce = signed_request(client, "GET", "/api/broken")
        assert_error(response, 500, "INTERNAL_ERROR")
        assert_signed(response, "GET", "/api/broken", jwks(client), nonce)


# --- what the verification refuses ---------------------------------------------------------------


@pytest.fixture
def good(world: TestWorld, api: TestClient) -> tuple[Answer, str, dict[str, Any]]:
    """A verified answer to a verify, its nonce and the JWK Set."""
    key = activated_license(world, api)
    response, nonce = signed_request(api, "POST", VERIFY, json={"license_key": key, "hardware_hash": "hw-1"})
    keys = jwks(api)
    answer = Answer.of(response)
    check_answer(answer, "POST", VERIFY, keys, nonce)
    return answer, nonce, keys


def test_a_changed_body_byte_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    flipped = answer.body.replace(b"true", b"fals", 1)
    assert flipped != answer.body
    with pytest.raises(VerificationError, match="Content-Digest"):
        check_answer(replace(answer, body=flipped), "POST", VERIFY, keys, nonce)
    import base64
    import hashlib

    # Even with a digest recomputed for the new body, the signature no longer matches.
    forged = {
        **answer.headers,
        "content-digest": "sha-256=:" + base64.b64encode(hashlib.sha256(flipped).digest()).decode() + ":",
    }
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(replace(answer, body=flipped, headers=forged), "POST", VERIFY, keys, nonce)


def test_a_changed_status_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(replace(answer, status=201), "POST", VERIFY, keys, nonce)


def test_another_path_or_method_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(answer, "POST", ACTIVATE, keys, nonce)
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(answer, "PUT", VERIFY, keys, nonce)


def test_another_nonce_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    with pytest.raises(VerificationError, match="nonce"):
        check_answer(answer, "POST", VERIFY, keys, nonce + "x")
    # Rewriting the nonce in Signature-Input breaks the signature.
    headers = {**answer.headers, "signature-input": answer.headers["signature-input"].replace(nonce, "other")}
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(replace(answer, headers=headers), "POST", VERIFY, keys, "other")


def test_an_unknown_kid_or_a_foreign_key_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    with pytest.raises(VerificationError, match="unknown kid"):
        check_answer(answer, "POST", VERIFY, {"keys": []}, nonce)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from licenseserver.domain.signing.keys import b64url

    foreign = b64url(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    impostor = {"keys": [{**keys["keys"][0], "x": foreign}]}
    with pytest.raises(VerificationError, match="does not verify"):
        check_answer(answer, "POST", VERIFY, impostor, nonce)


def test_a_stale_answer_fails(good: tuple[Answer, str, dict[str, Any]]) -> None:
    answer, nonce, keys = good
    created = check_answer(answer, "POST", VERIFY, keys, nonce)["created"]
    with pytest.raises(VerificationError, match="created"):
        check_answer(answer, "POST", VERIFY, keys, nonce, now=created + 301)


# --- when answers are signed ----------------------------------------------------------------------


def test_without_accept_signature_the_answer_is_unchanged(world: TestWorld, api: TestClient) -> None:
    key = activated_license(world, api)
    body = {"license_key": key, "hardware_hash": "hw-1"}
    plain = api.post(VERIFY, json=body)
    signed, _ = signed_request(api, "POST", VERIFY, json=body)

    assert not SIGNATURE_HEADERS & set(plain.headers)
    assert plain.content == signed.content
    strip = lambda r: [(k, v) for k, v in r.headers.items() if k not in SIGNATURE_HEADERS | {"x-request-id"}]  # noqa: E731
    assert strip(plain) == strip(signed)


def test_sign_all_responses_signs_without_a_nonce(world: TestWorld) -> None:
    with make_client(world, sign_all_responses=True) as client:
        keys = jwks(client)
        for method, path, status in (("GET", VERSION_LATEST, 200), ("GET", "/", 200), ("POST", VERIFY, 400)):
            response = client.request(method, path)
            assert response.status_code == status
            params = assert_signed(response, method, path, keys, None)
            assert "nonce" not in params
        # A request that asks still gets its nonce and label.
        response = client.get(VERSION_LATEST, headers={"Accept-Signature": accept_signature("n-1", label="mine")})
        assert_signed(response, "GET", VERSION_LATEST, keys, "n-1", label="mine")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("a label alone", 'sig1=("@status");nonce="ab";alg="ed25519"'.replace('sig1=("@status")', "sig1")),
        ("an item, not an inner list", 'sig1="x";nonce="ab"'),
        ("not a dictionary", "sig1 sig2"),
        ("empty", ""),
        ("a token nonce", "sig1=();nonce=ab"),
        ("an empty nonce", 'sig1=();nonce=""'),
        ("a nonce of 129 characters", 'sig1=();nonce="' + "a" * 129 + '"'),
        ("a number nonce", "sig1=();nonce=5"),
        ("another alg", 'sig1=();alg="rsa-pss-sha512"'),
        ("a token alg", "sig1=();alg=ed25519"),
    ],
)
def test_a_malformed_accept_signature_is_a_signed_400(world: TestWorld, api: TestClient, name: str, value: str) -> None:
    key = world.license()
    keys = jwks(api)  # the first key is made on first use: before the snapshot
    before = world.snapshot()
    response = api.post(
        ACTIVATE, json={"license_key": key, "hardware_hash": "hw-1"}, headers={"Accept-Signature": value}
    )

    assert_error(response, 400, "VALIDATION_ERROR")
    params = assert_signed(response, "POST", ACTIVATE, keys, None, label="sig1")
    assert "nonce" not in params
    assert world.snapshot() == before, name


@pytest.mark.parametrize(
    ("name", "header", "label", "nonce"),
    [
        ("128 characters", 'sig1=();nonce="' + "n" * 128 + '"', "sig1", "n" * 128),
        ("quote and backslash", r'sig1=();nonce="a\"b\\c"', "sig1", 'a"b\\c'),
        ("another label, no alg", 'reply=("@status");nonce="x1"', "reply", "x1"),
        ("other parameters ignored", 'sig1=("@method");keyid="k";created=1;tag="t";nonce="x2"', "sig1", "x2"),
        ("two members: the first", 'one=();nonce="a", two=();nonce="b"', "one", "a"),
    ],
)
def test_accepted_accept_signature_forms(api: TestClient, name: str, header: str, label: str, nonce: str) -> None:
    response = api.get(VERSION_LATEST, headers={"Accept-Signature": header})
    assert response.status_code == 200, name
    assert_signed(response, "GET", VERSION_LATEST, jwks(api), nonce, label=label)


def test_the_path_is_signed_as_sent(world: TestWorld, api: TestClient) -> None:
    key = world.license()
    path = INFO.format(key=key.lower())
    response, nonce = signed_request(api, "GET", path + "?x=1")
    assert response.status_code == 200
    assert_signed(response, "GET", path, jwks(api), nonce)


def test_signed_answers_over_a_real_socket(world: TestWorld) -> None:
    from tests.api.helpers import served_api

    with served_api(world) as base_url, httpx.Client(base_url=base_url, headers={"X-API-Key": world.api_key}) as client:
        key = world.license()
        response = activate(client, key)
        assert response.status_code == 200
        signed, nonce = signed_request(client, "POST", VERIFY, json={"license_key": key, "hardware_hash": "hw-1"})
        assert json.loads(signed.content)["valid"] is True
        assert_signed(signed, "POST", VERIFY, jwks(client), nonce)
