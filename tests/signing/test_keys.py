"""Signing keys: made once, rotated, retired, published (docs/signatures.md "Signing keys"), on
SQLite and PostgreSQL, through the CLI as operators run it and through the domain functions."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.testclient import TestClient

from licenseserver.domain.installation import run_in_transaction, secret_key
from licenseserver.domain.signing.keys import ensure_current_key, list_keys, rotate_keys, thumbprint
from tests.api.helpers import VERIFY, activated_license
from tests.conftest import make_client
from tests.signing.helpers import JWKS, jwks, signed_request
from tests.signing.rfc9421 import Answer, VerificationError, check_answer
from tests.support.world import TestWorld
from tests.test_cli import assert_one_line, clean_env, cli_command

KID = re.compile(r"^[A-Za-z0-9_-]{43}$")
KEY_CACHE_SECONDS = 5.0


def run_cli(database_url: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *args],
        env=clean_env(DATABASE_URL=database_url, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(database_url: str, *args: str) -> str:
    done = run_cli(database_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def states(world: TestWorld) -> dict[str, str]:
    return {r["kid"]: r["state"] for r in world.rows("SELECT kid, state FROM signing_keys")}


def test_the_jwks_document(world: TestWorld, api: TestClient) -> None:
    response = api.get(JWKS, headers={"X-API-Key": ""})  # no API key needed
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/json"
    (jwk,) = response.json()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    raw = base64.urlsafe_b64decode(jwk["x"] + "=")
    Ed25519PublicKey.from_public_bytes(raw)
    assert KID.match(jwk["kid"]) and jwk["kid"] == thumbprint(jwk["x"])
    # The private key is stored sealed, never as the raw bytes or their base64.
    sealed = world.scalar("SELECT private_key FROM signing_keys")
    assert jwk["x"] not in sealed and len(sealed) > 80


def test_rfc7638_thumbprint_example() -> None:
    # RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
    assert thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rotation_keeps_the_old_key_published_until_retired(world: TestWorld, tmp_path: Path) -> None:
    with make_client(world) as api:
        key = activated_license(world, api)
        body = {"license_key": key, "hardware_hash": "hw-1"}
        old_kid = jwks(api)["keys"][0]["kid"]
        before, nonce = signed_request(api, "POST", VERIFY, json=body)
        old_answer = Answer.of(before)

        new_kid = ok(world.database_url, "signing-key", "rotate").strip()
        assert KID.match(new_kid) and new_kid != old_kid
        published = [k["kid"] for k in jwks(api)["keys"]]
        assert published == [new_kid, old_kid]  # current first
        check_answer(old_answer, "POST", VERIFY, jwks(api), nonce)  # still verifies

        # Another instance rotated: this one signs with the new key within a few seconds.
        deadline = time.monotonic() + KEY_CACHE_SECONDS + 2
        while True:
            after, nonce_after = signed_request(api, "POST", VERIFY, json=body)
            params = check_answer(Answer.of(after), "POST", VERIFY, jwks(api), nonce_after)
            if params["keyid"] == new_kid:
                break
            assert time.monotonic() < deadline, "the rotated key was not picked up"
            time.sleep(0.5)

        listed = ok(world.database_url, "signing-key", "list").splitlines()
        assert [line.split()[:2] for line in listed] == [[new_kid, "current"], [old_kid, "previous"]]
        assert all(line.split()[3].startswith("SHA256:") for line in listed)

        assert old_kid in ok(world.database_url, "signing-key", "retire", old_kid)
        assert [k["kid"] for k in jwks(api)["keys"]] == [new_kid]
        with pytest.raises(VerificationError, match="unknown kid"):
            check_answer(old_answer, "POST", VERIFY, jwks(api), nonce)
        assert states(world) == {new_kid: "current", old_kid: "retired"}
        assert world.scalar("SELECT retired_at FROM signing_keys WHERE kid = :k", k=old_kid) is not None


def test_retire_refuses_the_current_an_unknown_and_a_retired_key(world: TestWorld) -> None:
    first = ok(world.database_url, "signing-key", "rotate").strip()
    second = ok(world.database_url, "signing-key", "rotate").strip()
    ok(world.database_url, "signing-key", "retire", first)
    before = world.snapshot()
    # A thumbprint may begin with "-" (one in 64): the CLI must still read it as the kid.
    dashed = "-hYTKyQ01L8SynjXiwwxI4x7qe"
    refusals = (
        (second, "current"),
        ("no-such-kid", "No signing key"),
        (dashed, "No signing key"),
        (first, "retired already"),
    )
    for kid, reason in refusals:
        done = run_cli(world.database_url, "signing-key", "retire", kid)
        assert done.returncode == 1, done.stdout
        assert_one_line(done.stderr)
        assert reason in done.stderr
    assert world.snapshot() == before


def test_migrate_makes_one_key_and_keeps_it(empty_database_url: str) -> None:
    ok(empty_database_url, "migrate")
    listed = ok(empty_database_url, "signing-key", "list").splitlines()
    assert len(listed) == 1 and listed[0].split()[1] == "current"
    ok(empty_database_url, "migrate")
    assert ok(empty_database_url, "signing-key", "list").splitlines() == listed


def test_a_changed_secret_key_replaces_the_unreadable_key(empty_database_url: str) -> None:
    ok(empty_database_url, "migrate")
    (old,) = ok(empty_database_url, "signing-key", "list").split("\n")[:1]
    secret = {"SECRET_KEY": "a-new-secret-key-set-by-the-operator"}
    done = run_cli(empty_database_url, "migrate", **secret)
    assert done.returncode == 0, done.stderr
    assert "rotating" in done.stderr
    listed = run_cli(empty_database_url, "signing-key", "list", **secret).stdout.splitlines()
    assert [line.split()[1] for line in listed] == ["current", "previous"]
    assert listed[1].split()[0] == old.split()[0]


def _settings(world: TestWorld) -> Any:
    return world.settings()


def test_instances_starting_together_make_one_current_key(pg_world: TestWorld) -> None:
    settings = _settings(pg_world)
    secret = secret_key(settings)

    def start(_: int) -> str:
        return run_in_transaction(settings, lambda conn: ensure_current_key(conn, secret)).kid

    with ThreadPoolExecutor(max_workers=6) as pool:
        kids = set(pool.map(start, range(6)))
    assert len(kids) == 1
    assert states(pg_world) == {kids.pop(): "current"}


def test_rotations_at_once_leave_exactly_one_current_key(world: TestWorld) -> None:
    settings = _settings(world)
    secret = secret_key(settings)

    def rotate(_: int) -> str:
        return run_in_transaction(settings, lambda conn: rotate_keys(conn, secret)).kid

    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(rotate, range(4)))
    assert len(set(made)) == 4
    found = run_in_transaction(settings, list_keys)
    assert [k.state for k in found] == ["current", "previous", "previous", "previous"]
    assert {k.kid for k in found} == set(made)
