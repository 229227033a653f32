"""Loading the pinned JWK Set: a dict, a JSON string or a file; anything else is a KeySetError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_license_server import SigningKey, jwks
from licenseserver_client import KeySetError, LicenseClient, jwk_thumbprint, load_key_set


def test_three_ways_to_pin(tmp_path: Path) -> None:
    one, two = SigningKey(), SigningKey()
    document = jwks(one, two)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    for source in (document, json.dumps(document), str(path), path):
        assert set(load_key_set(source)) == {one.kid, two.kid}
    assert jwk_thumbprint(one.x) == one.kid


def broken_sets() -> list[Any]:
    good = SigningKey().jwk()
    return [
        {},
        {"keys": []},
        {"keys": "nope"},
        [good],
        {"keys": [{**good, "kty": "RSA"}]},
        {"keys": [{**good, "crv": "X25519"}]},
        {"keys": [{**good, "x": good["x"][:-2]}]},
        {"keys": [{**good, "x": 42}]},
        {"keys": [{**good, "kid": "chosen-by-hand"}]},
        {"keys": [{**good, "alg": "RS256"}]},
        {"keys": [{**good, "use": "enc"}]},
        {"keys": [good, "string"]},
        "{not json",
        "/no/such/jwks.json",
    ]


@pytest.mark.parametrize("source", broken_sets())
def test_a_broken_set_fails_at_construction(source: Any) -> None:
    with pytest.raises(KeySetError):
        LicenseClient("http://127.0.0.1:9", "AF-2026-X", public_keys=source)
