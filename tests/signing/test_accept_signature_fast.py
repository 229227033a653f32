"""Accept-Signature's quick reading (a regex for the shape clients send) gives exactly what the
http-sf reading gives: the same label and nonce, or the same refusal."""

from __future__ import annotations

import http_sf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licenseserver.domain.signing import answers
from licenseserver.domain.signing.answers import AcceptSignatureError, SignatureRequest, parse_accept_signature

COMPONENTS = b'("@status" "content-digest" "@method";req "@path";req)'
# Near-misses of the quick shape as well as values in it: each must read as http-sf reads it.
PIECES = [
    "sig1",
    "sig-2",
    "*x",
    "A",
    "=",
    "(",
    ")",
    ";",
    ",",
    " ",
    "  ",
    '"',
    "\\",
    "nonce",
    "alg",
    "ed25519",
    '"ed25519"',
    "req",
    "@status",
    '"@path"',
    '"a"',
    ":",
    "?1",
    "?0",
    "7",
    "1.5",
    "\t",
    "é",
    '="n"',
    ';nonce="x"',
    ';alg="ed25519"',
    COMPONENTS.decode(),
]
VALUES = st.lists(st.sampled_from(PIECES), max_size=16).map("".join).map(lambda text: text.encode("utf-8"))


def by_http_sf(value: bytes) -> SignatureRequest | str:
    """What the reading through http-sf alone gives: the request, or the refusal's message."""
    try:
        members = http_sf.parse(value, tltype="dictionary")
    except http_sf.StructuredFieldError as exc:
        return f"Accept-Signature is not a structured field dictionary: {exc}"
    if not isinstance(members, dict) or not members:
        return "Accept-Signature names no signature"
    label, member = next(iter(members.items()))
    if not isinstance(member, tuple) or not isinstance(member[0], list) or not isinstance(member[1], dict):
        return "Accept-Signature's member must be an inner list of components"
    try:
        return answers._asked(str(label), member[1])
    except AcceptSignatureError as exc:
        return str(exc)


def read(value: bytes) -> SignatureRequest | str:
    try:
        return parse_accept_signature(value)
    except AcceptSignatureError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "value",
    [
        b"sig1=" + COMPONENTS + b';nonce="b1-123";alg="ed25519"',
        b"sig1=" + COMPONENTS,
        b"sig1=()",
        b"sig1=( )",
        b'sig1=("@status"  "@path";req;x );alg="ed25519";nonce="a";nonce="b"',
        b"x*.-_9=" + COMPONENTS + b';nonce=""',
        b"sig1=" + COMPONENTS + b';nonce="' + b"n" * 129 + b'"',
        b"sig1=" + COMPONENTS + b';alg="rsa"',
        b"sig1=" + COMPONENTS + b";alg=ed25519",
        b"sig1=" + COMPONENTS + b';nonce="a\\"b"',
        b" sig1=" + COMPONENTS,
        b"sig1=" + COMPONENTS + b", sig2=()",
        b"Sig1=" + COMPONENTS,
        b"sig1=" + COMPONENTS + b';nonce="\x7f"',
    ],
)
def test_known_values_read_alike(value: bytes) -> None:
    assert read(value) == by_http_sf(value)


def test_the_clients_shape_takes_the_quick_reading() -> None:
    value = b"sig1=" + COMPONENTS + b';nonce="b1-123";alg="ed25519"'
    assert answers._PLAIN_ACCEPT_SIGNATURE.fullmatch(value) is not None
    assert read(value) == SignatureRequest("sig1", "b1-123")


@settings(max_examples=2000, deadline=None)
@given(VALUES)
def test_any_value_reads_alike(value: bytes) -> None:
    assert read(value) == by_http_sf(value)
