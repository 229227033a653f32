"""Safe targets and bounded attempts: refused addresses (after DNS, on every redirect), redirect
loops and huge answers each cost one bounded attempt."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import time

import pytest

from licenseserver.domain.webhooks import sender
from licenseserver.kit.safe_targets import check_url, refused_reason
from tests.support.world import TestWorld
from tests.webhooks_delivery.helpers import QUICK, add_endpoint, add_event, attempts, delivery, drain
from tests.webhooks_delivery.receiver import HUGE_BYTES, Receiver

BY_DEFAULT = dataclasses.replace(QUICK, allow_private=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("0.0.0.0", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "not a public address"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_refused_reason(address: str, reason: str | None) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


def test_check_url_explains_a_refusal() -> None:
    assert asyncio.run(check_url("ftp://example.com/x", False)) == "the URL must start with https:// or http://"
    assert asyncio.run(check_url("https:///nohost", False)) == "the URL names no host"
    assert (
        asyncio.run(check_url("http://127.0.0.1:8080/hook", False))
        == "127.0.0.1 resolves to 127.0.0.1, a loopback address"
    )
    assert "a loopback address" in (asyncio.run(check_url("http://localhost/hook", False)) or "")
    assert asyncio.run(check_url("http://127.0.0.1:8080/hook", True)) is None
    assert asyncio.run(check_url("https://93.184.215.14/hook", False)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_no_delivery_to_loopback_by_default(hooks: TestWorld, receiver: Receiver, host: str) -> None:
    add_endpoint(hooks, f"http://{host}:{receiver.port}/ok")
    event_id = add_event(hooks)

    asyncio.run(drain(hooks, BY_DEFAULT))

    assert receiver.received == []
    row = delivery(hooks, event_id)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    [tried] = attempts(hooks, row["id"])
    assert tried["status_code"] is None
    assert tried["error"].startswith(f"refused target: {host} resolves to ")
    assert tried["error"].endswith("a loopback address")


def test_no_delivery_to_a_private_or_metadata_address(hooks: TestWorld) -> None:
    add_endpoint(hooks, "http://10.0.0.7/hook")
    add_endpoint(hooks, "http://169.254.169.254/latest/meta-data/")
    add_event(hooks)

    started = time.monotonic()
    asyncio.run(drain(hooks, BY_DEFAULT))
    assert time.monotonic() - started < 1.5, "refused before any connection is tried"
    errors = sorted(row["error"] for row in hooks.rows("SELECT error FROM webhook_attempts"))
    assert errors == [
        "refused target: 10.0.0.7 resolves to 10.0.0.7, a private address",
        "refused target: 169.254.169.254 resolves to 169.254.169.254, a cloud metadata address",
    ]


def test_every_redirect_target_is_checked_again(hooks: TestWorld, receiver: Receiver) -> None:
    # Each hop goes through sender._post_once and so through the checking network backend; the
    # receiver here is on 127.0.0.1, so what it can show without a public address is the per-hop
    # URL check: a redirect to another scheme is refused, not followed.
    add_endpoint(hooks, receiver.url("/to-ftp"))
    event_id = add_event(hooks)
    asyncio.run(drain(hooks))
    [tried] = attempts(hooks, delivery(hooks, event_id)["id"])
    assert tried["error"] == "refused target: not an http(s) URL: ftp://127.0.0.1/elsewhere"
    assert receiver.tries(event_id) == 1


def test_a_redirect_loop_costs_one_bounded_attempt(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/loop"))
    event_id = add_event(hooks)

    started = time.monotonic()
    assert asyncio.run(drain(hooks)) == 1
    assert time.monotonic() - started < 2
    assert receiver.tries(event_id) == sender.MAX_REDIRECTS + 1  # the first and three redirects
    assert all(got.verified and got.path == "/loop" for got in receiver.received)
    [tried] = attempts(hooks, delivery(hooks, event_id)["id"])
    assert (tried["status_code"], tried["error"]) == (302, f"more than {sender.MAX_REDIRECTS} redirects")
    assert delivery(hooks, event_id)["state"] == "pending"


def test_a_huge_answer_is_read_up_to_its_cap_and_stored_capped(hooks: TestWorld, receiver: Receiver) -> None:
    add_endpoint(hooks, receiver.url("/huge"))
    event_id = add_event(hooks)

    started = time.monotonic()
    asyncio.run(drain(hooks))
    assert time.monotonic() - started < 2
    [tried] = attempts(hooks, delivery(hooks, event_id)["id"])
    assert tried["status_code"] == 200
    assert tried["answer_excerpt"] == "x" * sender.EXCERPT_CHARS
    assert HUGE_BYTES > 100 * sender.READ_CAP


def test_the_answer_reader_stops_at_the_cap() -> None:
    async def endless() -> sender.AsyncIterator[bytes]:
        while True:
            yield b"y" * 10_000

    assert len(asyncio.run(sender._read_capped(endless()))) == sender.READ_CAP
