"""The JWK Set's answer is signed by every published key, one signature each; every other answer
by the current key alone (docs/signatures.md, "Key rotation"). Checked with the independent
verification of tests/signing/rfc9421.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

from licenseserver.domain.installation import run_in_transaction, secret_key
from licenseserver.domain.signing.keys import retire_key, rotate_keys
from tests.api.helpers import VERIFY, activated_license
from tests.conftest import make_client
from tests.signing.helpers import JWKS, accept_signature
from tests.signing.rfc9421 import Answer, check_answer, check_every_signature, dictionary_members
from tests.support.world import TestWorld

SIGNATURE_HEADERS = {"content-digest", "signature-input", "signature"}


def rotate(world: TestWorld, times: int = 1) -> list[str]:
    """Rotate as the CLI does (the domain call, one transaction each); the new kids, oldest first."""
    settings = world.settings()
    secret = secret_key(settings)
    return [run_in_transaction(settings, lambda conn: rotate_keys(conn, secret)).kid for _ in range(times)]


def retire(world: TestWorld, kid: str) -> None:
    run_in_transaction(world.settings(), lambda conn: retire_key(conn, kid))


def one_key(document: dict[str, Any], kid: str) -> dict[str, Any]:
    return {"keys": [jwk for jwk in document["keys"] if jwk["kid"] == kid]}


def test_every_published_key_signs_the_jwk_set(world: TestWorld) -> None:
    first, second, third = rotate(world, 3)
    with make_client(world) as api:
        nonce = secrets.token_urlsafe(16)
        response = api.get(JWKS, headers={"Accept-Signature": accept_signature(nonce)})
        assert response.status_code == 200
        document = response.json()
        assert [k["kid"] for k in document["keys"]] == [third, second, first]

        signed = check_every_signature(Answer.of(response), "GET", JWKS, document, nonce)
        assert {label: params["keyid"] for label, params in signed.items()} == {
            "sig1": third,
            "sig1-1": second,
            "sig1-2": first,
        }
        assert list(signed) == ["sig1", "sig1-1", "sig1-2"]  # the current key's first, as sent
        assert len({params["created"] for params in signed.values()}) == 1
        # A program that trusts only the oldest key can check the set that brings it the newer ones.
        check_answer(Answer.of(response), "GET", JWKS, one_key(document, first), nonce, label="sig1-2")

        retire(world, first)
        nonce = secrets.token_urlsafe(16)
        after = api.get(JWKS, headers={"Accept-Signature": accept_signature(nonce, label="mine")})
        signed = check_every_signature(Answer.of(after), "GET", JWKS, after.json(), nonce)
        assert {label: params["keyid"] for label, params in signed.items()} == {"mine": third, "mine-1": second}


def test_other_answers_carry_one_signature_by_the_current_key(world: TestWorld) -> None:
    _, current = rotate(world, 2)
    with make_client(world) as api:
        key = activated_license(world, api)
        document = api.get(JWKS).json()
        calls = [
            ("POST", VERIFY, {"json": {"license_key": key, "hardware_hash": "hw-1"}}),
            ("GET", "/", {}),
            ("GET", "/health", {}),
            ("GET", "/api/nothing/here", {}),
        ]
        for method, path, kwargs in calls:
            nonce = secrets.token_urlsafe(16)
            response = api.request(method, path, headers={"Accept-Signature": accept_signature(nonce)}, **kwargs)
            signed = check_every_signature(Answer.of(response), method, path, document, nonce)
            assert {label: params["keyid"] for label, params in signed.items()} == {"sig1": current}, path
            assert list(dictionary_members(response.headers["signature"])) == ["sig1"], path


def test_without_accept_signature_the_jwk_set_is_unsigned(world: TestWorld) -> None:
    rotate(world, 2)
    with make_client(world) as api:
        plain = api.get(JWKS)
        signed = api.get(JWKS, headers={"Accept-Signature": accept_signature("n-1")})
        assert not SIGNATURE_HEADERS & set(plain.headers)
        assert plain.content == signed.content
        assert plain.headers["cache-control"] == "public, max-age=300"


def test_sign_all_responses_signs_the_jwk_set_by_every_key_without_a_nonce(world: TestWorld) -> None:
    first, second = rotate(world, 2)
    with make_client(world, sign_all_responses=True) as api:
        response = api.get(JWKS)
        signed = check_every_signature(Answer.of(response), "GET", JWKS, response.json(), None)
        assert {label: params["keyid"] for label, params in signed.items()} == {"sig1": second, "sig1-1": first}
        assert all("nonce" not in params for params in signed.values())


def test_a_key_the_secret_key_cannot_open_does_not_sign(world: TestWorld) -> None:
    (sealed_elsewhere,) = rotate(world)
    # Another SECRET_KEY: the instance replaces the current key it cannot open (logged), and the
    # old one, still published as previous, has no private half here to sign with.
    with make_client(world, secret_key="another-secret-key-set-by-the-operator") as api:
        nonce = secrets.token_urlsafe(16)
        response = api.get(JWKS, headers={"Accept-Signature": accept_signature(nonce)})
        document = response.json()
        assert [k["kid"] for k in document["keys"]][1:] == [sealed_elsewhere]
        signed = check_every_signature(Answer.of(response), "GET", JWKS, document, nonce)
        assert {label: params["keyid"] for label, params in signed.items()} == {"sig1": document["keys"][0]["kid"]}
