"""An independent check of signed answers, written from RFC 9421, RFC 9530 and RFC 8941 and
docs/signatures.md "Checking an answer, step by step" — nothing of the server's code is used.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPECTED_COMPONENTS = ['"@status"', '"content-digest"', '"@method";req', '"@path";req']
MAX_AGE_SECONDS = 300
MAX_AHEAD_SECONDS = 60


class VerificationError(Exception):
    """The answer does not verify; the message says which step refused it."""


@dataclass(frozen=True)
class Answer:
    """What a client holds: the status, the headers and the body bytes as received."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(cls, response: Any) -> Answer:
        return cls(response.status_code, dict(response.headers), response.content)


def _read_string(text: str, at: int) -> tuple[str, int]:
    """An sf-string starting at text[at] == '"' (RFC 8941 section 4.2.5); the value and the next index."""
    assert text[at] == '"'
    out = []
    at += 1
    while at < len(text):
        char = text[at]
        if char == "\\":
            out.append(text[at + 1])
            at += 2
        elif char == '"':
            return "".join(out), at + 1
        else:
            out.append(char)
            at += 1
    raise VerificationError("unterminated string")


def dictionary_members(header: str) -> dict[str, str]:
    """Each member of a Dictionary header (RFC 8941 section 3.2) by name, its value as sent.

    Members are split at the commas outside sf-strings: inner lists, byte sequences, integers
    and tokens hold none.
    """
    members: dict[str, str] = {}
    start, at, in_string = 0, 0, False
    while at <= len(header):
        char = header[at] if at < len(header) else ","
        if in_string and char == "\\":
            at += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "," and not in_string:
            name, sep, value = header[start:at].strip().partition("=")
            if not sep or not name:
                raise VerificationError(f"not a Dictionary member: {header[start:at]!r}")
            members[name] = value.strip()
            start = at + 1
        at += 1
    return members


def _split_member(header: str, label: str) -> str:
    """The value of member `label` in a Dictionary header."""
    members = dictionary_members(header)
    if label not in members:
        raise VerificationError(f"no member {label!r} in {header!r}")
    return members[label]


def parse_signature_input(value: str) -> tuple[list[str], dict[str, Any]]:
    """The inner list (each component as serialised) and the parameters of one member's value."""
    if not value.startswith("("):
        raise VerificationError("Signature-Input member is not an inner list")
    end = value.index(")")
    components = value[1:end].split(" ")
    params: dict[str, Any] = {}
    at = end + 1
    while at < len(value):
        if value[at] != ";":
            raise VerificationError(f"unexpected {value[at]!r} in the parameters")
        name_end = value.index("=", at)
        name = value[at + 1 : name_end]
        at = name_end + 1
        if value[at] == '"':
            params[name], at = _read_string(value, at)
        else:
            stop = value.find(";", at)
            stop = len(value) if stop < 0 else stop
            params[name] = int(value[at:stop])
            at = stop
    return components, params


def find_key(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    for jwk in jwks["keys"]:
        if jwk["kid"] == kid:
            assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
            return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    raise VerificationError(f"unknown kid {kid!r}")


def check_answer(
    answer: Answer,
    method: str,
    path: str,
    jwks: Mapping[str, Any],
    nonce: str | None,
    label: str = "sig1",
    now: float | None = None,
) -> dict[str, Any]:
    """Every step of docs/signatures.md; returns the signature parameters, raises VerificationError."""
    headers = {k.lower(): v for k, v in answer.headers.items()}
    for name in ("content-digest", "signature-input", "signature"):
        if name not in headers:
            raise VerificationError(f"no {name} header")
    params_text = _split_member(headers["signature-input"], label)
    components, params = parse_signature_input(params_text)
    if components != EXPECTED_COMPONENTS:
        raise VerificationError(f"covered components {components}")
    if params.get("alg") != "ed25519":
        raise VerificationError("alg is not ed25519")
    if params.get("nonce") != nonce:
        raise VerificationError(f"nonce {params.get('nonce')!r} is not {nonce!r}")
    age = (time.time() if now is None else now) - params["created"]
    if age > MAX_AGE_SECONDS or age < -MAX_AHEAD_SECONDS:
        raise VerificationError(f"created is {age:.0f} s old")
    key = find_key(jwks, params["keyid"])
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(answer.body).digest()).decode() + ":"
    if headers["content-digest"] != digest:
        raise VerificationError("Content-Digest does not match the body")
    base = "\n".join(
        [
            f'"@status": {answer.status}',
            f'"content-digest": {headers["content-digest"]}',
            f'"@method";req: {method.upper()}',
            f'"@path";req: {path}',
            f'"@signature-params": {params_text}',
        ]
    )
    signature_value = _split_member(headers["signature"], label)
    if not (signature_value.startswith(":") and signature_value.endswith(":")):
        raise VerificationError("Signature member is not a byte sequence")
    try:
        key.verify(base64.b64decode(signature_value[1:-1]), base.encode())
    except InvalidSignature:
        raise VerificationError("the Ed25519 signature does not verify") from None
    return params


def check_every_signature(
    answer: Answer, method: str, path: str, jwks: Mapping[str, Any], nonce: str | None
) -> dict[str, dict[str, Any]]:
    """Every signature the answer carries, each checked as `check_answer` checks one: the
    parameters by label, in the order sent."""
    headers = {k.lower(): v for k, v in answer.headers.items()}
    labels = list(dictionary_members(headers.get("signature-input", "")))
    if sorted(labels) != sorted(dictionary_members(headers.get("signature", ""))):
        raise VerificationError("Signature-Input and Signature name other labels")
    return {label: check_answer(answer, method, path, jwks, nonce, label) for label in labels}
