"""Shortcuts of the signing tests: signed requests and the JWK Set as a client fetches it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from tests.signing.rfc9421 import Answer, check_answer

JWKS = "/.well-known/jwks.json"
CHECKOUT = "/api/license/checkout"
ASK = '("@status" "content-digest" "@method";req "@path";req)'


def accept_signature(nonce: str | None, label: str = "sig1", alg: str | None = "ed25519") -> str:
    value = f"{label}={ASK}"
    if nonce is not None:
        value += f';nonce="{nonce}"'
    if alg is not None:
        value += f';alg="{alg}"'
    return value


def jwks(client: TestClient | httpx.Client) -> dict[str, Any]:
    response = client.get(JWKS)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def signed_request(
    client: TestClient | httpx.Client, method: str, path: str, **kwargs: Any
) -> tuple[httpx.Response, str]:
    """Send with a fresh nonce; the answer and the nonce."""
    nonce = secrets.token_urlsafe(24)
    headers = {**kwargs.pop("headers", {}), "Accept-Signature": accept_signature(nonce)}
    return client.request(method, path, headers=headers, **kwargs), nonce


def assert_signed(
    response: httpx.Response, method: str, path: str, keys: dict[str, Any], nonce: str | None, label: str = "sig1"
) -> dict[str, Any]:
    return check_answer(Answer.of(response), method, path, keys, nonce, label)


def current_kid(client: TestClient | httpx.Client) -> str:
    kid: str = jwks(client)["keys"][0]["kid"]
    return kid
