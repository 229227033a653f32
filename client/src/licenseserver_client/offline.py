"""Offline license files: a compact JWS (EdDSA) whose claims bind a license to one device."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client._encoding import b64url_decode
from licenseserver_client.errors import OfflineFailure, OfflineLicenseError
from licenseserver_client.results import OfflineLicense

# A file made a moment ago on a server whose clock runs slightly ahead is still "valid now".
NOT_BEFORE_LEEWAY_SECONDS = 60
_MAX_FILE_CHARS = 64 * 1024
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def verify_license_file(text: str, keys: Mapping[str, Ed25519PublicKey]) -> tuple[dict[str, Any], str]:
    """The payload claims and kid of a genuine file; OfflineLicenseError otherwise.

    Checks only the signature and the claims' shape: time and device are the caller's.
    """
    token = text.strip()
    if len(token) > _MAX_FILE_CHARS or not _COMPACT.fullmatch(token):
        raise _refuse(OfflineFailure.MALFORMED, "not a compact JWS")
    header_part, payload_part, signature_part = token.split(".")
    header = _json_part(header_part, "header")
    if header.get("alg") != "EdDSA" or not isinstance(header.get("kid"), str):
        raise _refuse(OfflineFailure.MALFORMED, 'the header names no kid or an algorithm other than "EdDSA"')
    if "crit" in header:  # RFC 7515: extensions we do not understand make the file unusable
        raise _refuse(OfflineFailure.MALFORMED, "the header lists critical extensions")
    kid = header["kid"]
    key = keys.get(kid)
    if key is None:
        raise _refuse(OfflineFailure.UNKNOWN_KEY, f"the file was signed by key {kid!r}, which is not pinned")
    try:
        signature = b64url_decode(signature_part)
        key.verify(signature, f"{header_part}.{payload_part}".encode("ascii"))
    except (ValueError, InvalidSignature):
        raise _refuse(OfflineFailure.BAD_SIGNATURE, "the signature does not match the file") from None
    claims = _json_part(payload_part, "payload")
    _check_shape(claims)
    return claims, kid


def check_claims(claims: dict[str, Any], kid: str, hardware_hash: str, now: float) -> OfflineLicense:
    if not hmac.compare_digest(str(claims["hardware_hash"]).encode(), hardware_hash.encode()):
        raise _refuse(OfflineFailure.WRONG_DEVICE, "the file is bound to another device")
    if now < claims["nbf"] - NOT_BEFORE_LEEWAY_SECONDS:
        raise _refuse(OfflineFailure.NOT_YET_VALID, f"the file is valid from {claims['nbf']}, now is {int(now)}")
    if now >= claims["exp"]:
        raise _refuse(OfflineFailure.EXPIRED, f"the file expired at {claims['exp']}, now is {int(now)}")
    return OfflineLicense(
        license_key=claims["sub"],
        hardware_hash=claims["hardware_hash"],
        license_type=claims["license_type"],
        valid_from=claims["valid_from"],
        valid_until=claims["valid_until"],
        max_activations=claims["max_activations"],
        max_users=claims["max_users"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        jti=claims["jti"],
        kid=kid,
        claims=claims,
    )


def _json_part(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _refuse(OfflineFailure.MALFORMED, f"the {name} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise _refuse(OfflineFailure.MALFORMED, f"the {name} is not a JSON object")
    return value


_CLAIM_TYPES: dict[str, tuple[type, ...]] = {
    "iat": (int,),
    "nbf": (int,),
    "exp": (int,),
    "jti": (str,),
    "sub": (str,),
    "hardware_hash": (str,),
    "license_type": (str,),
    "valid_from": (str,),
    "valid_until": (str, type(None)),
    "max_activations": (int,),
    "max_users": (int,),
}


def _check_shape(claims: dict[str, Any]) -> None:
    for name, types in _CLAIM_TYPES.items():
        value = claims.get(name, ...)
        # bool is an int in Python; a signed `true` where a number belongs is still malformed.
        if isinstance(value, bool) or not isinstance(value, types):
            raise _refuse(OfflineFailure.MALFORMED, f"the claim {name!r} is missing or of the wrong type")


def _refuse(reason: OfflineFailure, message: str) -> OfflineLicenseError:
    return OfflineLicenseError(reason, message)
