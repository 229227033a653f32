"""The small parts underneath: the structured-field parser, the device id, an unwritable cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import DEVICE, LICENSE_KEY
from fake_license_server import FakeServer
from licenseserver_client import LicenseClient, ServerUnavailableError, default_hardware_hash
from licenseserver_client._structured import Token, parse_dictionary


def test_dictionary_members_keep_their_raw_text() -> None:
    text = 'a=1, sig1=("@status" "@path";req);created=5;keyid="k\\"1";nonce="n", b=:AAEC:, c, d=tok/x;p'
    members = parse_dictionary(text)
    assert members["a"].value == 1
    assert members["sig1"].value == [("@status", {}), ("@path", {"req": True})]
    assert members["sig1"].params == {"created": 5, "keyid": 'k"1', "nonce": "n"}
    assert members["sig1"].raw == '("@status" "@path";req);created=5;keyid="k\\"1";nonce="n"'
    assert members["b"].value == b"\x00\x01\x02"
    assert members["c"].value is True
    assert members["d"].value == Token("tok/x") and members["d"].params == {"p": True}


@pytest.mark.parametrize(
    "text",
    ["a=", "a=(", 'a="unterminated', "a=:AAF=:", "A=1", "a=1,", "a=1 b=2", 'a="\\x"', "a=?2", "a=:not base64!:"],
)
def test_what_rfc_8941_forbids_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dictionary(text)


def test_the_default_hardware_hash_is_stable_and_opaque() -> None:
    first = default_hardware_hash()
    assert first == default_hardware_hash()
    assert len(first) == 64 and int(first, 16) >= 0
    machine_id = Path("/etc/machine-id")
    if machine_id.exists():
        assert machine_id.read_text().strip() not in first


def test_an_unwritable_cache_costs_the_grace_period_after_a_restart_only(
    make_client: Callable[..., LicenseClient], server: FakeServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    client = make_client(cache_path=blocker / "cache.json")  # its folder cannot be made
    assert client.verify(LICENSE_KEY, DEVICE).valid
    server.stop()
    assert client.verify(LICENSE_KEY, DEVICE).from_cache  # still held in memory
    with pytest.raises(ServerUnavailableError):
        make_client(cache_path=blocker / "cache.json").verify(LICENSE_KEY, DEVICE)


def test_a_base_url_with_a_prefix_signs_the_full_path(
    make_client: Callable[..., LicenseClient], server: FakeServer
) -> None:
    server.route("POST", "/licensing/api/license/verify", server.routes[("POST", "/api/license/verify")])
    client = make_client(base_url=server.base_url + "/licensing/")
    assert client.verify(LICENSE_KEY, DEVICE).valid
    assert server.requests[-1][1] == "/licensing/api/license/verify"


def test_only_http_addresses(make_client: Callable[..., LicenseClient]) -> None:
    for address in ("file:///etc/passwd", "ftp://example.test", "127.0.0.1:8000"):
        with pytest.raises(ValueError):
            make_client(base_url=address)
