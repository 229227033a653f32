"""Random keys from the operating system's CSPRNG."""

from __future__ import annotations

import re
import secrets
import string

KEY_ALPHABET = string.ascii_uppercase + string.digits
LICENSE_KEY_PATTERN = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
API_KEY_PATTERN = re.compile(r"^AF-\d{4}-[A-Z0-9]{32}$")


def random_chars(count: int) -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(count))


def new_license_key() -> str:
    return "-".join(random_chars(4) for _ in range(4))


def new_api_key(year: int) -> str:
    return f"AF-{year:04d}-{random_chars(32)}"
