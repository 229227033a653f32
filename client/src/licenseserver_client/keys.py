"""The pinned JWK Set: the public keys whose signatures the client believes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client._encoding import b64url_decode, b64url_encode
from licenseserver_client.errors import KeySetError

KeySource = Mapping[str, Any] | str | os.PathLike[str]


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK: the server's `kid` for that key."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def load_key_set(source: KeySource) -> dict[str, Ed25519PublicKey]:
    """Keys by kid from a JWK Set given as a dict, a JSON string or a file path."""
    document = _read_document(source)
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise KeySetError('the JWK Set is not an object with a "keys" list')
    loaded = dict(_load_key(entry, index) for index, entry in enumerate(keys))
    if not loaded:
        raise KeySetError("the JWK Set holds no key")
    return loaded


def _read_document(source: KeySource) -> Any:
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, str | os.PathLike):
        raise KeySetError(f"a JWK Set is a dict, a JSON string or a file path, not {type(source).__name__}")
    text = str(os.fspath(source))
    if not text.lstrip().startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise KeySetError(f"cannot read the JWK Set file {source!s}: {error}") from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise KeySetError(f"the JWK Set is not valid JSON: {error}") from error


def _load_key(entry: Any, index: int) -> tuple[str, Ed25519PublicKey]:
    where = f"key {index} of the JWK Set"
    if not isinstance(entry, Mapping):
        raise KeySetError(f"{where} is not an object")
    if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        raise KeySetError(f'{where} is not an Ed25519 key (kty "OKP", crv "Ed25519")')
    if entry.get("alg", "EdDSA") != "EdDSA" or entry.get("use", "sig") != "sig":
        raise KeySetError(f'{where} is not a signing key (alg "EdDSA", use "sig")')
    x = entry.get("x")
    x = x if isinstance(x, str) else ""
    try:
        raw = b64url_decode(x)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise KeySetError(f'{where} has no 32-byte base64url "x"')
    kid = entry.get("kid")
    # A kid that is not the key's own thumbprint would let one key pose as another in a rotation.
    if kid != jwk_thumbprint(x):
        raise KeySetError(f"{where} has a kid that is not its RFC 7638 thumbprint")
    return kid, Ed25519PublicKey.from_public_bytes(raw)
