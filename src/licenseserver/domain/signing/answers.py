"""RFC 9421 signatures over License API answers, in the one shape docs/signatures.md fixes.

The server covers the same components whatever the request lists, so the signature base is a
fixed template: built by hand, it costs a string join (bench/run_bench.py, "signed-verify").
Accept-Signature is parsed with http-sf, a maintained RFC 8941 parser.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import http_sf

from licenseserver.domain.signing.keys import CurrentKey

COMPONENTS = '("@status" "content-digest" "@method";req "@path";req)'
DEFAULT_LABEL = "sig1"
NONCE_MAX = 128


class AcceptSignatureError(ValueError):
    """Accept-Signature is not what docs/signatures.md allows; the message says why."""


@dataclass(frozen=True, slots=True)
class SignatureRequest:
    label: str = DEFAULT_LABEL
    nonce: str | None = None


# The shape every client of ours sends (docs/signatures.md), as a subset of RFC 8941's grammar:
# one member whose inner list holds strings with flag parameters, then parameters whose values are
# strings without escapes. A value in this shape parses to what http-sf gives it, read in one regex
# match instead of http-sf's ~20 µs (tests/signing/test_accept_signature_fast.py compares the two);
# anything else (a token, a number, an escape, more members, spaces at the edges) goes to http-sf.
_SF_KEY = rb"[a-z*][a-z0-9_\-.*]*"
_SF_PLAIN_STRING = rb'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_PLAIN_ITEM = _SF_PLAIN_STRING + rb"(?:;" + _SF_KEY + rb")*"
_PLAIN_PARAM = rb";(" + _SF_KEY + rb")=\"([\x20\x21\x23-\x5b\x5d-\x7e]*)\""
_PLAIN_ACCEPT_SIGNATURE = re.compile(
    rb"(" + _SF_KEY + rb")=\( *(?:" + _PLAIN_ITEM + rb"(?: +" + _PLAIN_ITEM + rb")*)? *\)((?:" + _PLAIN_PARAM + rb")*)"
)
_PLAIN_PARAMS = re.compile(_PLAIN_PARAM)


def parse_accept_signature(value: bytes) -> SignatureRequest:
    """The label and nonce a request asks for. Several members: the first one is answered."""
    plain = _PLAIN_ACCEPT_SIGNATURE.fullmatch(value)
    if plain is not None:
        # A later parameter of the same name replaces an earlier one (RFC 8941, 4.2.3.2).
        params = {name.decode(): text.decode() for name, text in _PLAIN_PARAMS.findall(plain.group(2))}
        return _asked(plain.group(1).decode(), params)
    try:
        members = http_sf.parse(value, tltype="dictionary")
    except http_sf.StructuredFieldError as exc:
        raise AcceptSignatureError(f"Accept-Signature is not a structured field dictionary: {exc}") from None
    if not isinstance(members, dict) or not members:
        raise AcceptSignatureError("Accept-Signature names no signature")
    label, member = next(iter(members.items()))
    if not isinstance(member, tuple) or not isinstance(member[0], list) or not isinstance(member[1], dict):
        raise AcceptSignatureError("Accept-Signature's member must be an inner list of components")
    return _asked(str(label), member[1])


def _asked(label: str, params: dict[str, Any]) -> SignatureRequest:
    alg = params.get("alg")
    # A string, as RFC 9421 defines the parameter: a token ed25519 is refused like any other value.
    if alg is not None and (not isinstance(alg, str) or alg != "ed25519"):
        raise AcceptSignatureError('Accept-Signature\'s alg must be "ed25519"')
    nonce = params.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not 1 <= len(nonce) <= NONCE_MAX):
        raise AcceptSignatureError(f"Accept-Signature's nonce must be a string of 1 to {NONCE_MAX} characters")
    return SignatureRequest(label, nonce)


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest with sha-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(created: int, kid: str, nonce: str | None) -> str:
    params = f'{COMPONENTS};created={created};keyid="{kid}";alg="ed25519"'
    return params if nonce is None else params + ";nonce=" + _sf_string(nonce)


def signature_base(status: int, digest: str, method: str, path: str, params: str) -> str:
    """RFC 9421 section 2.5, for the fixed components."""
    return (
        f'"@status": {status}\n"content-digest": {digest}\n"@method";req: {method}\n'
        f'"@path";req: {path}\n"@signature-params": {params}'
    )


def signature_headers(
    key: CurrentKey, request: SignatureRequest, created: int, status: int, method: str, path: str, body: bytes
) -> list[tuple[bytes, bytes]]:
    """Content-Digest, Signature-Input and Signature for one answer."""
    digest = content_digest(body)
    params = signature_params(created, key.kid, request.nonce)
    signature = key.sign(signature_base(status, digest, method, path, params).encode())
    return [
        (b"content-digest", digest.encode()),
        (b"signature-input", f"{request.label}={params}".encode()),
        (b"signature", f"{request.label}=:{base64.b64encode(signature).decode()}:".encode()),
    ]


def previous_key_label(label: str, n: int) -> str:
    """The label of the n-th older key's signature (n = 1, 2, …): `sig1-1`, `sig1-2`, … A valid
    RFC 8941 key whatever the asked label is, and never the asked label itself."""
    return f"{label}-{n}"


def signature_headers_by_each(
    keys: Sequence[CurrentKey],
    request: SignatureRequest,
    created: int,
    status: int,
    method: str,
    path: str,
    body: bytes,
) -> list[tuple[bytes, bytes]]:
    """Content-Digest, and one signature per key in Signature-Input and Signature: the first key
    (the current one) under the asked label exactly as `signature_headers` signs, each older key
    under `previous_key_label`. For the JWK Set's answer (docs/signatures.md, "Key rotation")."""
    digest = content_digest(body)
    inputs, signatures = [], []
    for n, key in enumerate(keys):
        label = request.label if n == 0 else previous_key_label(request.label, n)
        params = signature_params(created, key.kid, request.nonce)
        signature = key.sign(signature_base(status, digest, method, path, params).encode())
        inputs.append(f"{label}={params}")
        signatures.append(f"{label}=:{base64.b64encode(signature).decode()}:")
    return [
        (b"content-digest", digest.encode()),
        (b"signature-input", ", ".join(inputs).encode()),
        (b"signature", ", ".join(signatures).encode()),
    ]
