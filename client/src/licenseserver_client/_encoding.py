"""Strict base64 helpers: a value that is not in canonical form is refused, so no two different
texts decode to the same bytes (a flipped padding bit must not pass as the original)."""

from __future__ import annotations

import base64
import binascii
import re

_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ValueError when the text is not its canonical encoding."""
    if not _URLSAFE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def b64_decode(text: str) -> bytes:
    """Decode padded standard base64 (RFC 8941 byte sequences); ValueError unless canonical."""
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError("not base64") from error
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data
