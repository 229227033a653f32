"""A staff member's own account: password change, second factor on and off (with its recovery
codes, recovery_codes.py), and the signed token that carries a TOTP secret through enrolment
(nothing is stored before it is confirmed)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import AdminSession, AdminUser
from licenseserver.domain.staff import recovery_codes
from licenseserver.domain.staff.service import MIN_PASSWORD_LENGTH
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.passwords import hash_password, verify_password

MAX_PASSWORD_LENGTH = 1024
# Long enough to scan a code and type it in; short enough that a leaked page is soon worthless.
ENROLMENT_SECONDS = 15 * 60
BASE32_SECRET = re.compile(r"^[A-Z2-7]{16,128}$")


def _enrolment_mac(secret_key: str, admin_id: int, secret: str, issued_at: int) -> str:
    message = f"licenseserver/totp-enrolment/v1|{admin_id}|{secret}|{issued_at}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def sign_enrolment(secret_key: str, admin_id: int, secret: str, issued_at: int | None = None) -> str:
    """`secret.issued_at.mac`: bound to this admin and to the time the enrolment started."""
    issued = int(time.time()) if issued_at is None else issued_at
    return f"{secret}.{issued}.{_enrolment_mac(secret_key, admin_id, secret, issued)}"


def open_enrolment(secret_key: str, admin_id: int, token: str, now: float | None = None) -> str | None:
    """The secret of a genuine, unexpired enrolment token of this admin; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not BASE32_SECRET.match(parts[0]) or not parts[1].isdigit():
        return None
    secret, issued, mac = parts[0], int(parts[1]), parts[2]
    expected = _enrolment_mac(secret_key, admin_id, secret, issued)
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    age = (time.time() if now is None else now) - issued
    return secret if 0 <= age <= ENROLMENT_SECONDS else None


async def require_password(admin: AdminUser, password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH or not await verify_password(admin.password_hash, password):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Das aktuelle Passwort ist falsch.")


def validate_new_password(password: str, repeated: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        message = f"Das neue Passwort muss {MIN_PASSWORD_LENGTH} bis {MAX_PASSWORD_LENGTH} Zeichen lang sein."
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message)
    if not hmac.compare_digest(password.encode(), repeated.encode()):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Die beiden neuen Passwörter stimmen nicht überein.")


async def set_password(session: AsyncSession, admin: AdminUser, new: str, keep_session_id: int) -> None:
    """Store a new password (the caller has checked the current one) and end the admin's other
    log-ins: whoever knew the old password is out."""
    admin.password_hash = await hash_password(new)
    await session.execute(
        delete(AdminSession).where(AdminSession.user_id == admin.id, AdminSession.id != keep_session_id)
    )
    await session.flush()


async def turn_off_totp(session: AsyncSession, admin: AdminUser) -> None:
    """Remove the second factor (the caller has checked the password)."""
    admin.totp_secret_encrypted = None
    # A later enrolment starts afresh: its first code must not be refused as a "replay".
    admin.totp_last_step = None
    await recovery_codes.delete_codes(session, admin.id)  # they stand in for a factor that is gone
    await session.flush()
