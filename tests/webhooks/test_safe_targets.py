"""kit/safe_targets.py: which addresses a webhook may go to, after resolving the host."""

from __future__ import annotations

import asyncio

import pytest

from licenseserver.kit.safe_targets import check_url, refused_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("fd12:3456::1", "unique local"),
        ("fc00::1", "unique local"),
        ("fec0::1", "site-local"),
        ("240.0.0.1", "address"),
        ("192.0.2.10", "address"),  # documentation range: not public either
    ],
)
def test_refused_addresses_say_why(address: str, reason: str) -> None:
    said = refused_reason(address)
    assert said is not None and reason in said


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "100.128.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert refused_reason(address) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///hook", "no host"),
        ("http://127.0.0.1/hook", "loopback"),
        ("http://localhost:8080/hook", "localhost resolves to"),
        ("https://[::1]/hook", "loopback"),
        ("http://10.0.0.5/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::ffff:10.0.0.5]/", "IPv4-mapped"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_refused_urls_say_why(url: str, words: str) -> None:
    reason = asyncio.run(check_url(url, allow_private=False))
    assert reason is not None and words in reason, reason


def test_public_literal_addresses_pass_without_dns() -> None:
    assert asyncio.run(check_url("https://8.8.8.8/hook", allow_private=False)) is None
    assert asyncio.run(check_url("http://[2606:4700:4700::1111]:8443/hook", allow_private=False)) is None


def test_private_targets_pass_when_allowed_but_the_scheme_never_does() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.5/", "http://192.168.0.2/"):
        assert asyncio.run(check_url(url, allow_private=True)) is None, url
    assert asyncio.run(check_url("ftp://127.0.0.1/", allow_private=True)) is not None
