"""Staff accounts: creation, password and TOTP checks, and server-side log-in sessions."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import AdminSession, AdminUser
from licenseserver.domain.staff import recovery_codes
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.passwords import hash_password, needs_rehash, verify_password
from licenseserver.kit.secretbox import seal, unseal
from licenseserver.kit.timefmt import as_utc, utc_now

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9@._+-]{1,100}$")
MIN_PASSWORD_LENGTH = 10
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOTP_WINDOW_STEPS = 1  # accept the previous and next 30-second code for clock drift
TOTP_CODE = re.compile(r"[0-9]{6}")
# Checked (and its answer ignored) when an account has no second factor or no account has the
# name, so that every log-in costs one code check.
DUMMY_TOTP_SECRET = pyotp.random_base32()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_credentials(username: str, password: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Username: 1-100 characters of A-Z a-z 0-9 @ . _ + -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, f"Password: at least {MIN_PASSWORD_LENGTH} characters")


async def find_admin(session: AsyncSession, username: str) -> AdminUser | None:
    return await session.scalar(select(AdminUser).where(AdminUser.username == username))


async def create_admin(session: AsyncSession, username: str, password: str) -> AdminUser:
    validate_credentials(username, password)
    if await find_admin(session, username) is not None:
        raise AppError(409, ErrorCode.CONFLICT, f"Admin {username!r} already exists")
    admin = AdminUser(username=username, password_hash=await hash_password(password))
    session.add(admin)
    await session.flush()
    return admin


def is_totp_code(code: str) -> bool:
    """Six ASCII digits (`\\d` would also let in other scripts' digits, which no app shows)."""
    return TOTP_CODE.fullmatch(code) is not None


def matching_totp_step(secret: str, code: str) -> int | None:
    """The time step (previous, current or next) whose code `code` is, else None. Every step is
    compared, as bytes, so a match costs as long as a miss and no input can make it raise."""
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    given = code.encode() if is_totp_code(code) else b""
    found = None
    for step in range(now_step - TOTP_WINDOW_STEPS, now_step + TOTP_WINDOW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), given):
            found = step
    return found


def _is_fresh(admin: AdminUser, step: int | None) -> bool:
    """A matching code newer than the last one accepted: each code logs in once, never replayed."""
    return step is not None and (admin.totp_last_step is None or step > admin.totp_last_step)


def _totp_secret(admin: AdminUser | None, secret_key: str) -> str | None:
    if admin is None or not admin.totp_secret_encrypted:
        return None
    return unseal(secret_key, admin.totp_secret_encrypted)


@dataclass(frozen=True, slots=True)
class Authenticated:
    admin: AdminUser
    recovery_code_used: bool  # the second factor was a recovery code, now spent


async def _second_factor(
    session: AsyncSession, admin: AdminUser, secret: str | None, step: int | None, recovery_id: int | None
) -> bool | None:
    """None when the second factor fails; else whether a recovery code stood in for the TOTP code."""
    if secret is None:
        return None
    if _is_fresh(admin, step):
        admin.totp_last_step = step
        return False
    if recovery_id is not None and await recovery_codes.use_code(session, recovery_id):
        return True
    return None


async def authenticate(
    session: AsyncSession, secret_key: str, username: str, password: str, totp_code: str
) -> Authenticated | None:
    """The admin these credentials log in, or None. The code is a TOTP code or, in its place,
    one of the admin's recovery codes (spent by this log-in).

    Every failure does the same work, whichever part was wrong: one password verification (against
    a dummy hash for an unknown name), one code check (against a dummy secret for an account
    without a second factor) and, for text shaped like a recovery code, one lookup of it. So
    neither the answer nor its timing says that a password was right.
    """
    admin = await find_admin(session, username)
    password_ok = await verify_password(admin.password_hash if admin else None, password)
    secret = _totp_secret(admin, secret_key)
    step = matching_totp_step(secret or DUMMY_TOTP_SECRET, totp_code.replace(" ", ""))
    recovery_id = await recovery_codes.find_code(session, secret_key, admin.id if admin else 0, totp_code)
    if admin is None or not password_ok or not admin.is_active:
        return None
    used_recovery = False
    if admin.totp_secret_encrypted:
        second = await _second_factor(session, admin, secret, step, recovery_id)
        if second is None:
            return None
        used_recovery = second
    if needs_rehash(admin.password_hash):
        admin.password_hash = await hash_password(password)
    admin.last_login_at = utc_now()
    await session.flush()
    return Authenticated(admin, used_recovery)


@dataclass(frozen=True, slots=True)
class StaffSession:
    admin: AdminUser
    record: AdminSession


async def open_session(session: AsyncSession, admin: AdminUser, address: str) -> str:
    """A new session id at every log-in (no fixation); returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session.add(
        AdminSession(
            token_hash=_token_hash(token),
            user_id=admin.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            address=address,
        )
    )
    await session.flush()
    return token


async def resume_session(session: AsyncSession, token: str | None) -> StaffSession | None:
    """The staff member behind a cookie, if the session is within its idle and absolute limits."""
    if not token or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(AdminSession, AdminUser)
            .join(AdminUser, AdminUser.id == AdminSession.user_id)
            .where(AdminSession.token_hash == _token_hash(token))
        )
    ).first()
    if found is None:
        return None
    record, admin = found
    now = utc_now()
    expired = now - as_utc(record.last_seen_at) > IDLE_TIMEOUT or now - as_utc(record.created_at) > ABSOLUTE_TIMEOUT
    if expired or not admin.is_active:
        await session.delete(record)
        await session.flush()
        return None
    record.last_seen_at = now
    return StaffSession(admin, record)


async def close_session(session: AsyncSession, token: str | None) -> None:
    if token:
        await session.execute(delete(AdminSession).where(AdminSession.token_hash == _token_hash(token)))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="V2 License Server")


async def enable_totp(session: AsyncSession, secret_key: str, admin: AdminUser, secret: str, code: str) -> bool:
    """Turn on the second factor once the admin proves the authenticator shows the right code."""
    step = matching_totp_step(secret, code)
    if not _is_fresh(admin, step):
        return False
    admin.totp_secret_encrypted = seal(secret_key, secret)
    admin.totp_last_step = step
    await session.flush()
    return True
