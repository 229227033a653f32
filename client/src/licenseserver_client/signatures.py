"""Checking a signed answer (RFC 9421 with an RFC 9530 Content-Digest), step by step as
docs/signatures.md lays it out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client._encoding import b64url_encode
from licenseserver_client._structured import Member, parse_dictionary
from licenseserver_client.errors import SignatureError, SignatureFailure

LABEL = "sig1"
COMPONENTS = '("@status" "content-digest" "@method";req "@path";req)'
# The covered components, parsed: an answer covering anything else is not one we asked for.
_EXPECTED = [("@status", {}), ("content-digest", {}), ("@method", {"req": True}), ("@path", {"req": True})]
MAX_AGE_SECONDS = 300
MAX_AHEAD_SECONDS = 60


@dataclass(frozen=True)
class SignedAnswer:
    """An answer exactly as received, with the request it answered: enough to check it again later."""

    status: int
    headers: Mapping[str, str]  # lower-case names: content-digest, signature-input, signature
    body: bytes
    method: str
    path: str
    nonce: str
    request_body: bytes = b""


@dataclass(frozen=True)
class Verified:
    created: int
    kid: str


def new_nonce(request_body: bytes) -> str:
    """Fresh randomness, then a digest of the request body.

    The signature covers the request's method and path but not its body; carrying the body's
    digest in the nonce binds the answer to the very license key and device it was asked for, so
    a cached "valid" cannot be filed under another device.
    """
    return f"{secrets.token_urlsafe(16)}.{_body_tag(request_body)}"


def nonce_binds(nonce: str, request_body: bytes) -> bool:
    return hmac.compare_digest(nonce.rpartition(".")[2].encode(), _body_tag(request_body).encode())


def _body_tag(request_body: bytes) -> str:
    return b64url_encode(hashlib.sha256(request_body).digest()[:18])


def accept_signature(nonce: str) -> str:
    return f'{LABEL}={COMPONENTS};nonce="{nonce}";alg="ed25519"'


def verify_answer(
    answer: SignedAnswer, keys: Mapping[str, Ed25519PublicKey], now: float, *, check_age: bool = True
) -> Verified:
    """Raise SignatureError unless the answer is signed by a trusted key over this request.

    `check_age=False` is for answers read back from the cache, whose age the grace period judges.
    """
    signature_input, signature = _members(answer.headers, answer.status)
    return _verify_member(answer, signature_input, signature, keys, now, check_age)


def verify_by_any_trusted_key(
    answer: SignedAnswer, keys: Mapping[str, Ed25519PublicKey], now: float, *, check_age: bool = True
) -> Verified:
    """For an answer signed by several keys (the JWK Set's: one signature per published key, each
    under its own label): it holds when one signature by a key in `keys` holds, whatever its label."""
    status = answer.status
    inputs, signatures = _all_members(answer.headers, status)
    labels = [label for label, member in inputs.items() if label in signatures and member.params.get("keyid") in keys]
    if not labels:
        raise _refuse(SignatureFailure.UNKNOWN_KEY, "no signature of the answer is by a trusted key", status)
    refusal: SignatureError | None = None
    for label in labels:
        try:
            return _verify_member(answer, inputs[label], signatures[label], keys, now, check_age)
        except SignatureError as error:
            refusal = refusal or error
    assert refusal is not None
    raise refusal


def _verify_member(
    answer: SignedAnswer,
    signature_input: Member,
    signature: Member,
    keys: Mapping[str, Ed25519PublicKey],
    now: float,
    check_age: bool,
) -> Verified:
    status = answer.status
    params = signature_input.params
    if signature_input.value != _EXPECTED or params.get("alg") != "ed25519":
        raise _refuse(SignatureFailure.MALFORMED, "the signature covers other components or another algorithm", status)
    created, kid = params.get("created"), params.get("keyid")
    if isinstance(created, bool) or not isinstance(created, int) or not isinstance(kid, str):
        raise _refuse(SignatureFailure.MALFORMED, "the signature has no created time or keyid", status)
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), answer.nonce.encode()):
        raise _refuse(SignatureFailure.NONCE_MISMATCH, "the answer was signed for another request (nonce)", status)
    if check_age and not now - MAX_AGE_SECONDS <= created <= now + MAX_AHEAD_SECONDS:
        raise _refuse(
            SignatureFailure.STALE, f"the signature was made at {created}, the local clock says {int(now)}", status
        )
    key = keys.get(kid)
    if key is None:
        raise _refuse(
            SignatureFailure.UNKNOWN_KEY, f"the answer was signed by key {kid!r}, which is not a trusted key", status
        )
    digest_header = answer.headers.get("content-digest", "").strip()
    _check_digest(digest_header, answer.body, status)
    base = "\n".join(
        (
            f'"@status": {status}',
            f'"content-digest": {digest_header}',
            f'"@method";req: {answer.method.upper()}',
            f'"@path";req: {answer.path}',
            f'"@signature-params": {signature_input.raw}',
        )
    )
    signature_bytes = signature.value
    if not isinstance(signature_bytes, bytes):
        raise _refuse(SignatureFailure.MALFORMED, "the Signature member is not a byte sequence", status)
    try:
        key.verify(signature_bytes, base.encode("utf-8"))
    except InvalidSignature:
        raise _refuse(SignatureFailure.BAD_SIGNATURE, "the signature does not match this answer", status) from None
    return Verified(created, kid)


def _members(headers: Mapping[str, str], status: int) -> tuple[Member, Member]:
    inputs, signatures = _all_members(headers, status)
    if LABEL not in inputs or LABEL not in signatures:
        raise _refuse(SignatureFailure.MISSING, f"the answer carries no {LABEL} signature", status)
    return inputs[LABEL], signatures[LABEL]


def _all_members(headers: Mapping[str, str], status: int) -> tuple[dict[str, Member], dict[str, Member]]:
    raw_input, raw_signature = headers.get("signature-input"), headers.get("signature")
    if raw_input is None or raw_signature is None:
        raise _refuse(SignatureFailure.MISSING, "the answer is not signed", status)
    try:
        return parse_dictionary(raw_input), parse_dictionary(raw_signature)
    except (ValueError, KeyError) as error:
        raise _refuse(SignatureFailure.MALFORMED, f"unreadable signature headers: {error}", status) from None


def _check_digest(header: str, body: bytes, status: int) -> None:
    if not header:
        raise _refuse(SignatureFailure.DIGEST_MISMATCH, "the answer has no Content-Digest", status)
    try:
        stated = parse_dictionary(header).get("sha-256")
    except (ValueError, KeyError) as error:
        raise _refuse(SignatureFailure.MALFORMED, f"unreadable Content-Digest: {error}", status) from None
    if stated is None or not isinstance(stated.value, bytes):
        raise _refuse(SignatureFailure.DIGEST_MISMATCH, "the Content-Digest has no sha-256 value", status)
    if not hmac.compare_digest(stated.value, hashlib.sha256(body).digest()):
        raise _refuse(SignatureFailure.DIGEST_MISMATCH, "the body is not the one the server signed", status)


def _refuse(reason: SignatureFailure, message: str, status: int) -> SignatureError:
    return SignatureError(reason, message, status)
