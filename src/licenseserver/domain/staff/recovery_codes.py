"""One-time recovery codes: ten per staff member with TOTP, each logs in once in place of a code
from the authenticator, so that a lost phone does not lock the account out.

The codes are shown once and stored as HMAC-SHA256 under a key derived from the panel's secret
key, not with argon2. A code carries 59 random bits (12 characters of a 31-character alphabet), so
a slow hash adds nothing against guessing it: at 5 log-in attempts a minute (the throttle) the
chance to hit one of ten codes is about 10 in 2^59 a try. argon2 would have cost each log-in
with a code up to ten verifications (~250 ms of CPU, the hash of a code being salted) where the
keyed hash is one indexed lookup. The key means a copy of the database alone cannot test codes;
like the encrypted TOTP secret, the codes stop working when SECRET_KEY changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import AdminRecoveryCode

CODE_COUNT = 10
# Lower-case letters and digits without the look-alikes 0/o, 1/l/i: 31 characters.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUP_LENGTH = 4
GROUPS = 3
RECOVERY_CODE = re.compile(f"[{ALPHABET}]{{{GROUP_LENGTH * GROUPS}}}")
# What a typed code may hold besides its characters: the dashes it is shown with, spaces.
SEPARATORS = re.compile(r"[\s-]")


def normalised(code: str) -> str | None:
    """The code's 12 characters (lower case, without dashes and spaces), or None when `code`
    cannot be a recovery code (a six-digit TOTP code never is)."""
    plain = SEPARATORS.sub("", code).lower()
    return plain if RECOVERY_CODE.fullmatch(plain) else None


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"licenseserver/recovery-codes/v1", hashlib.sha256).digest()


def code_hash(secret_key: str, admin_id: int, code: str) -> str:
    """The stored form of a normalised code, bound to its admin."""
    return hmac.new(_key(secret_key), f"{admin_id}|{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    plain = "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH * GROUPS))
    return "-".join(plain[i : i + GROUP_LENGTH] for i in range(0, len(plain), GROUP_LENGTH))


async def replace_codes(session: AsyncSession, secret_key: str, admin_id: int) -> list[str]:
    """Ten new codes for the admin, every older one gone; the codes in plain text, to be shown
    once and never again."""
    await delete_codes(session, admin_id)
    codes = [new_code() for _ in range(CODE_COUNT)]
    rows = [{"user_id": admin_id, "code_hash": code_hash(secret_key, admin_id, c.replace("-", ""))} for c in codes]
    await session.execute(insert(AdminRecoveryCode), rows)
    return codes


async def delete_codes(session: AsyncSession, admin_id: int) -> None:
    await session.execute(delete(AdminRecoveryCode).where(AdminRecoveryCode.user_id == admin_id))


async def remaining(session: AsyncSession, admin_id: int) -> int:
    stmt = select(func.count()).select_from(AdminRecoveryCode).where(AdminRecoveryCode.user_id == admin_id)
    return int(await session.scalar(stmt) or 0)


async def find_code(session: AsyncSession, secret_key: str, admin_id: int, code: str) -> int | None:
    """The row id of the admin's unused code `code`, else None (also for text that is no code)."""
    plain = normalised(code)
    if plain is None:
        return None
    stmt = select(AdminRecoveryCode.id).where(
        AdminRecoveryCode.user_id == admin_id, AdminRecoveryCode.code_hash == code_hash(secret_key, admin_id, plain)
    )
    found: int | None = await session.scalar(stmt)
    return found


async def use_code(session: AsyncSession, code_id: int) -> bool:
    """Spend a code: True for the one request whose DELETE removed the row. Two log-ins with
    the same code at once both find it, but the row is deleted once; the other gets False."""
    result = await session.execute(delete(AdminRecoveryCode).where(AdminRecoveryCode.id == code_id))
    return isinstance(result, CursorResult) and result.rowcount == 1
