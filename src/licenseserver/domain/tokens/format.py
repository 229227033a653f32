"""What a token looks like and how it is stored.

A token is `v2lm_<8 prefix characters>_<secret>`. The prefix (`v2lm_` and its 8 characters) is
shown in lists so staff recognise a token; the whole token is shown once, when it is made.

Only a keyed hash is stored: HMAC-SHA256 under a key derived from the installation's secret
(SECRET_KEY, or the one generated on first start), like kit/secretbox.py derives its key. A
token carries 256 random bits, so a fast hash is enough — no password hashing (argon2) is
needed to slow down guessing, and the check costs microseconds on every call. A stolen copy of
the database alone does not let anyone use the tokens: the key is not in the same row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_MARK = "v2lm_"  # noqa: S105  # nosec B105  # the marker every token starts with, not a secret
PREFIX_CHARS = 8
# Lower-case letters and digits without look-alikes (0/o, 1/l): the prefix is read off screens.
PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SECRET_BYTES = 32
# The longest token we would ever accept: a longer header is not worth hashing.
MAX_TOKEN_LENGTH = 200


def token_key(installation_secret: str) -> bytes:
    """The HMAC key of token hashes, derived from the installation's secret."""
    return hashlib.sha256(b"licenseserver/api-tokens/v1:" + installation_secret.encode()).digest()


def hash_token(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> tuple[str, str]:
    """(the whole token, its visible prefix)."""
    prefix = TOKEN_MARK + "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_CHARS))
    return f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}", prefix


def looks_like_token(presented: str) -> bool:
    """Cheap shape check before any hashing or database read."""
    return presented.startswith(TOKEN_MARK) and len(presented) <= MAX_TOKEN_LENGTH and presented.isascii()
