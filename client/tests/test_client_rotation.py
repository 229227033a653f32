"""A key rotation at the server: the client follows it through the JWK Set that a key it already
trusts signed, keeps what it learnt in its cache file, drops keys the set no longer lists, and
believes nothing else (docs/signatures.md, "Key rotation")."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import DEVICE, LICENSE_KEY
from fake_license_server import FakeServer, SigningKey, jwks, license_claims
from licenseserver_client import (
    LicenseClient,
    OfflineFailure,
    OfflineLicenseError,
    SignatureError,
    SignatureFailure,
)

MakeClient = Callable[..., LicenseClient]


def refused_with(call: Callable[[], object]) -> SignatureFailure:
    with pytest.raises(SignatureError) as refused:
        call()
    return refused.value.reason


def test_a_pinned_client_follows_a_rotation(make_client: MakeClient, server: FakeServer, key: SigningKey) -> None:
    client = make_client()
    assert client.verify(LICENSE_KEY, DEVICE).valid
    assert server.jwks_requests == 0  # nothing fetched while the pinned key signs

    new = server.rotate()
    assert client.verify(LICENSE_KEY, DEVICE).valid  # signed by the new key, learnt on the way
    assert server.jwks_requests == 1
    assert set(client.keys) == {new.kid, key.kid} and set(client.pinned_keys) == {key.kid}
    assert client.activate(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0").activation.id == 7
    assert server.jwks_requests == 1  # the overlap is re-read once an hour, not per call

    # A new client object on the same cache file (the program restarted) trusts the new key at once.
    again = make_client()
    assert set(again.keys) == {new.kid, key.kid}
    assert again.info(LICENSE_KEY).license.key == LICENSE_KEY
    assert server.jwks_requests == 2  # its first call re-reads the set once: two keys are trusted
    file = new.license_file(license_claims(DEVICE, time.time()))
    assert again.check_offline(file.encode(), DEVICE).kid == new.kid


def test_a_set_no_trusted_key_signed_is_not_believed(make_client: MakeClient, server: FakeServer) -> None:
    client = make_client()
    new = server.rotate()
    server.jwks_signers = [new]  # the real set, but signed by the new key alone
    assert refused_with(lambda: client.verify(LICENSE_KEY, DEVICE)) is SignatureFailure.UNKNOWN_KEY
    # Not again within the minute, however many answers name an unknown key.
    for _ in range(3):
        assert refused_with(lambda: client.info(LICENSE_KEY)) is SignatureFailure.UNKNOWN_KEY
    assert server.jwks_requests == 1
    assert new.kid not in client.keys


def test_a_forger_cannot_bring_his_key(make_client: MakeClient, server: FakeServer, key: SigningKey) -> None:
    client = make_client()
    forger = SigningKey()
    server.key, server.published = forger, [forger]  # every answer and the set: his key only
    assert refused_with(lambda: client.verify(LICENSE_KEY, DEVICE)) is SignatureFailure.UNKNOWN_KEY
    assert set(client.keys) == {key.kid}
    # A forger who also holds a copy of a set our key once signed cannot replay it: the nonce and
    # the signing time are checked as for any answer.
    server.key, server.published = key, [key]
    new = server.rotate()
    for tamper in ("nonce", "old"):
        server.jwks_tamper = tamper
        fresh = make_client(cache_path=Path(f"{client.state.path}.{tamper}"))
        with pytest.raises(SignatureError) as refused:
            fresh.info(LICENSE_KEY)
        assert refused.value.reason is SignatureFailure.UNKNOWN_KEY
        assert new.kid not in fresh.keys


def test_a_retired_key_is_dropped_even_when_pinned(
    make_client: MakeClient, server: FakeServer, key: SigningKey, tmp_path: Path
) -> None:
    old_file = key.license_file(license_claims(DEVICE, time.time()))
    client = make_client(key_refresh=timedelta(0))
    new = server.rotate()
    assert client.verify(LICENSE_KEY, DEVICE).valid
    assert set(client.keys) == {new.kid, key.kid}

    server.retire(key)
    assert client.verify(LICENSE_KEY, DEVICE).valid  # then the set is read again: the old key is gone
    assert set(client.keys) == {new.kid}
    with pytest.raises(OfflineLicenseError) as refused:
        client.check_offline(old_file.encode(), DEVICE)
    assert refused.value.reason is OfflineFailure.UNKNOWN_KEY
    restarted = make_client()
    assert set(restarted.keys) == {new.kid}  # through the chain: old key → new set → set without it

    # A program pinned to the old key alone, with nothing learnt, cannot follow any more.
    stranded = make_client(cache_path=tmp_path / "stranded.json")
    assert refused_with(lambda: stranded.verify(LICENSE_KEY, DEVICE)) is SignatureFailure.UNKNOWN_KEY
    assert set(stranded.keys) == {key.kid}


def test_rotations_in_a_row_keep_a_short_chain(make_client: MakeClient, server: FakeServer, key: SigningKey) -> None:
    client = make_client(key_refresh=timedelta(0))
    for _ in range(3):
        older = server.key
        newest = server.rotate()
        assert client.verify(LICENSE_KEY, DEVICE).valid
        server.retire(older)
        assert client.verify(LICENSE_KEY, DEVICE).valid
        assert set(client.keys) == {newest.kid}
    # Kept: each rotation's overlap set, vouched for by the key before it, and the last set. A set
    # whose signer an earlier link already trusted replaces the links after that one.
    assert len(client.state.keychain.links) == 4
    assert set(make_client().keys) == {server.key.kid}  # walked from the pinned key
    server.rotate()
    assert client.verify(LICENSE_KEY, DEVICE).valid
    assert len(client.state.keychain.links) == 4
    assert set(make_client().keys) == set(client.keys) and len(client.keys) == 2


def test_an_edited_cache_file_adds_no_key(make_client: MakeClient, server: FakeServer, key: SigningKey) -> None:
    client = make_client()
    server.rotate()
    assert client.verify(LICENSE_KEY, DEVICE).valid
    path = client.state.path
    data = json.loads(path.read_text())
    stored = data["key_sets"][0]
    intruder = SigningKey()
    body = json.loads(base64.b64decode(stored["body"]))
    body["keys"].append(intruder.jwk())
    stored["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    path.write_text(json.dumps(data))
    assert set(make_client().keys) == {key.kid}  # the edited link no longer holds: back to the pin


def test_the_chain_holds_only_from_the_keys_the_program_pins(
    make_client: MakeClient, server: FakeServer, key: SigningKey
) -> None:
    client = make_client()
    new = server.rotate()
    assert client.verify(LICENSE_KEY, DEVICE).valid
    # A release that pins the new set reads the same chain: the new key signed the set too.
    assert set(make_client(public_keys=jwks(new)).keys) == {new.kid, key.kid}
    # A program pinned to other keys believes none of it.
    other = SigningKey()
    assert set(make_client(public_keys=jwks(other)).keys) == {other.kid}
