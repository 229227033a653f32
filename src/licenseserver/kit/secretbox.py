"""Encryption of secrets at rest (TOTP seeds) with a key derived from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"licenseserver/secretbox/v1:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, plaintext: str) -> str:
    sealed: bytes = _fernet(secret_key).encrypt(plaintext.encode())
    return sealed.decode()


def unseal(secret_key: str, token: str) -> str | None:
    try:
        opened: bytes = _fernet(secret_key).decrypt(token.encode())
    except InvalidToken:
        return None
    return opened.decode()
