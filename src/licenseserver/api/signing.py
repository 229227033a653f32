"""Signed answers (docs/signatures.md): the outermost layer of the License API.

A request without Accept-Signature costs one scan of its headers and passes straight through
(unless SIGN_ALL_RESPONSES); with it, the answer — whichever layer made it, 401, 413 and 429 of
the guard included — is held until its last byte, then sent with Content-Digest, Signature-Input
and Signature.

The JWK Set's answer is the one signed by more than the current key: its route names every
published key (`sign_with_every_published_key`), and each signs it, so a client that trusts only
an older key can check the set that brings it the new one (docs/signatures.md, "Key rotation").
"""

from __future__ import annotations

import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licenseserver.domain.signing.answers import (
    AcceptSignatureError,
    SignatureRequest,
    parse_accept_signature,
    signature_headers,
    signature_headers_by_each,
)
from licenseserver.domain.signing.cache import SigningKeyCache
from licenseserver.domain.signing.keys import CurrentKey
from licenseserver.kit.errors import ErrorCode, error_body

log = logging.getLogger(__name__)

ACCEPT_SIGNATURE = b"accept-signature"
# What the app's handler for unexpected errors answers (api/errors.py): Starlette runs that
# handler outside every middleware, so for a signed answer this layer sends the same body itself.
INTERNAL_ERROR_BODY = orjson.dumps(error_body(500, ErrorCode.INTERNAL_ERROR, "Internal server error"))
# Where a route leaves the keys that sign its answer instead of the current key alone.
SIGNERS_SCOPE_KEY = "licenseserver.signers"


def _accept_signature(scope: Scope) -> bytes | None:
    values = [value for name, value in scope["headers"] if name == ACCEPT_SIGNATURE]
    return b", ".join(values) if values else None


def request_path(scope: Scope) -> str:
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        return str(scope["path"])
    return raw.split(b"?", 1)[0].decode("latin-1") or "/"


def signature_wanted(header: bytes | None, sign_all: bool) -> SignatureRequest | bytes | None:
    """What the client asked to have signed (its Accept-Signature, or everything with
    SIGN_ALL_RESPONSES); None: nothing; bytes: the 400 body for a malformed header."""
    if header is None:
        return SignatureRequest() if sign_all else None
    try:
        return parse_accept_signature(header)
    except AcceptSignatureError as exc:
        return orjson.dumps(error_body(400, ErrorCode.VALIDATION_ERROR, str(exc)))


async def answer_signature(
    keys: SigningKeyCache, scope: Scope, wanted: SignatureRequest, status: int, body: bytes
) -> list[tuple[bytes, bytes]]:
    """Content-Digest, Signature-Input and Signature of one answer; none (and a warning) while
    no key could ever be read (the database away since start: the client will refuse it)."""
    key = await keys.get()
    if key is None:
        log.warning("answer sent unsigned: no signing key could be read")
        return []
    method = str(scope["method"]).upper()
    return signature_headers(key, wanted, int(time.time()), status, method, request_path(scope), body)


def sign_with_every_published_key(scope: Scope, keys: list[CurrentKey]) -> None:
    """Have this answer, if signed at all, signed by each of `keys` (the current key first) rather
    than by the current key alone."""
    scope[SIGNERS_SCOPE_KEY] = keys


def signatures_by_each(
    keys: list[CurrentKey], scope: Scope, wanted: SignatureRequest, status: int, body: bytes
) -> list[tuple[bytes, bytes]]:
    method = str(scope["method"]).upper()
    return signature_headers_by_each(keys, wanted, int(time.time()), status, method, request_path(scope), body)


class SignedAnswerMiddleware:
    def __init__(self, app: ASGIApp, keys: SigningKeyCache, sign_all: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.sign_all = sign_all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = signature_wanted(_accept_signature(scope), self.sign_all)
        if wanted is None:
            await self.app(scope, receive, send)
            return
        if isinstance(wanted, bytes):  # a malformed Accept-Signature: refused, and signed
            await SignedSender(self.keys, scope, send, SignatureRequest()).send_whole(400, wanted)
            return
        await self._signed(scope, receive, SignedSender(self.keys, scope, send, wanted))

    async def _signed(self, scope: Scope, receive: Receive, sender: SignedSender) -> None:
        try:
            await self.app(scope, receive, sender)
        except Exception:
            if not sender.started:
                await sender.send_whole(500, INTERNAL_ERROR_BODY)
            raise


class SignedSender:
    """A `send` that holds the answer until its last body message, then signs and sends it."""

    def __init__(self, keys: SigningKeyCache, scope: Scope, send: Send, wanted: SignatureRequest) -> None:
        self.keys = keys
        self.scope = scope
        self.downstream = send
        self.wanted = wanted
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.downstream(message)
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._flush(self.start, b"".join(self.chunks))

    async def send_whole(self, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await self._flush({"type": "http.response.start", "status": status, "headers": headers}, body)

    async def _flush(self, start: Message, body: bytes) -> None:
        self.started = True
        signers: list[CurrentKey] | None = self.scope.get(SIGNERS_SCOPE_KEY)
        if signers:
            extra = signatures_by_each(signers, self.scope, self.wanted, start["status"], body)
        else:
            extra = await answer_signature(self.keys, self.scope, self.wanted, start["status"], body)
        if extra:
            start = {**start, "headers": [*start.get("headers", ()), *extra]}
        await self.downstream(start)
        await self.downstream({"type": "http.response.body", "body": body})
