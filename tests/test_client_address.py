"""The client address both apps act on: X-Forwarded-For from a trusted proxy is believed only
when it holds addresses; anything else falls back to the socket peer, never to a 500."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.kit.clientaddr import client_address, parse_networks
from tests.admin.conftest import STAFF_USERNAME, csrf_of, make_staff
from tests.api.helpers import VERSION_LATEST, client_at
from tests.support.world import TestWorld

PROXY = "127.0.0.1"
TRUSTED = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])
HOSTILE_FORWARDED_FOR = (
    "<script>alert(1)</script>",
    "203.0.113." + "7" * 80,  # over the 64 characters of the audit log's address column
    "203.0.113.7:4711",  # a port is not an address
    "fe80::1%" + "eth" * 30,  # a zone makes an address arbitrarily long
    "203.0.113.7, <script>",  # junk as the nearest hop
    "203.0.113.7\r\nX-Admin: 1",
)


def _scope(forwarded: str, peer: str = PROXY) -> dict[str, object]:
    return {"client": (peer, 5000), "headers": [(b"x-forwarded-for", forwarded.encode("latin-1"))]}


@pytest.mark.parametrize("forwarded", HOSTILE_FORWARDED_FOR)
def test_a_forwarded_value_that_is_no_address_falls_back_to_the_socket_peer(forwarded: str) -> None:
    assert client_address(_scope(forwarded), TRUSTED) == PROXY


def test_forwarded_addresses_are_still_believed_from_a_trusted_proxy() -> None:
    assert client_address(_scope("203.0.113.7"), TRUSTED) == "203.0.113.7"
    assert client_address(_scope("198.51.100.1, 10.1.2.3"), TRUSTED) == "198.51.100.1"
    assert client_address(_scope("2001:DB8::1"), TRUSTED) == "2001:db8::1"
    assert client_address(_scope("203.0.113.7", peer="192.0.2.9"), TRUSTED) == "192.0.2.9"


def test_api_counts_junk_forwarded_values_against_the_proxy_itself(world: TestWorld) -> None:
    """Each junk value used to be a client of its own, with a limit of its own."""
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 2 WHERE id = 1")
    if 60 - time.time() % 60 < 4:  # a burst across the minute's edge may let one more through
        time.sleep(5)
    with client_at(world, PROXY, trusted_proxies=["127.0.0.1/32"]) as proxy:
        statuses = [
            proxy.get(VERSION_LATEST, headers={"X-Forwarded-For": junk}).status_code
            for junk in ("<script>alert(1)</script>", "x" * 100, "<b>")
        ]
    assert statuses == [200, 200, 429]


def test_failed_login_behind_a_trusted_proxy_audits_the_socket_address(world: TestWorld) -> None:
    """The audit log's address column holds 64 characters: a longer value was a 500 on PostgreSQL."""
    make_staff(world)
    settings = world.settings(secret_key="test-secret-key-for-the-panel", trusted_proxies=["127.0.0.1/32"])
    app = create_admin_app(settings)
    with TestClient(app, raise_server_exceptions=False, client=(PROXY, 50000)) as panel:
        for forwarded in ("<script>alert(1)</script>", "203.0.113." + "7" * 80):
            csrf = csrf_of(panel.get("/login").text)
            form = {"username": STAFF_USERNAME, "password": "wrong-password", "csrf_token": csrf}
            response = panel.post("/login", data=form, headers={"X-Forwarded-For": forwarded})
            assert response.status_code == 401, response.text
        good = panel.get("/login", headers={"X-Forwarded-For": "198.51.100.4"})
        form = {"username": STAFF_USERNAME, "password": "wrong-password", "csrf_token": csrf_of(good.text)}
        panel.post("/login", data=form, headers={"X-Forwarded-For": "198.51.100.4"})
    rows = world.rows("SELECT action, address FROM audit_log ORDER BY id")
    assert rows == [{"action": "login_failed", "address": address} for address in (PROXY, PROXY, "198.51.100.4")]
