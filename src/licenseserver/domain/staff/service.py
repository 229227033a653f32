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
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.passwords import hash_password, needs_rehash, verify_password
from licenseserver.kit.secretbox import seal, unseal
from licenseserver.kit.timefmt import as_utc, utc_now

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9@._+-]{1,100}$")
MIN_PASSWORD_LENGTH = 10
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOTP_WINDOW_STEPS = 1  # accept the previous and next 30-second code for clock drift


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
    admin = AdminUser(username=username, password_hash=hash_password(password))
    session.add(admin)
    await session.flush()
    return admin


def _totp_step_accepted(admin: AdminUser, secret: str, code: str) -> int | None:
    """The time step the code belongs to, if valid and newer than the last accepted one."""
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - TOTP_WINDOW_STEPS, now_step + TOTP_WINDOW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if admin.totp_last_step is not None and step <= admin.totp_last_step:
                return None  # replayed
            return step
    return None


@dataclass(frozen=True, slots=True)
class LoginResult:
    admin: AdminUser | None
    needs_totp: bool = False


async def authenticate(
    session: AsyncSession, secret_key: str, username: str, password: str, totp_code: str | None
) -> LoginResult:
    admin = await find_admin(session, username)
    password_ok = verify_password(admin.password_hash if admin else None, password)
    if admin is None or not password_ok or not admin.is_active:
        return LoginResult(None)
    if admin.totp_secret_encrypted:
        secret = unseal(secret_key, admin.totp_secret_encrypted)
        if not totp_code:
            return LoginResult(None, needs_totp=True)
        step = _totp_step_accepted(admin, secret, totp_code.strip()) if secret else None
        if step is None:
            return LoginResult(None, needs_totp=True)
        admin.totp_last_step = step
    if needs_rehash(admin.password_hash):
        admin.password_hash = hash_password(password)
    admin.last_login_at = utc_now()
    await session.flush()
    return LoginResult(admin)


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
    step = _totp_step_accepted(admin, secret, code.strip())
    if step is None:
        return False
    admin.totp_secret_encrypted = seal(secret_key, secret)
    admin.totp_last_step = step
    await session.flush()
    return True
