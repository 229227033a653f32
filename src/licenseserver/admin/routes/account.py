"""The logged-in staff member's own account: password change and the TOTP second factor.

During enrolment the new secret travels in a signed hidden field (HMAC-SHA256 with the panel's
secret key, bound to the admin and the start time); it is stored, encrypted, only once a code
from the authenticator proves it was scanned. The QR code is drawn here, as inline SVG.
"""

from __future__ import annotations

import re
from typing import Any

import segno
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import form_fields
from licenseserver.admin.i18n import LANGUAGES, N_, gettext
from licenseserver.admin.login_throttle import LoginThrottledError, reserve_attempt, throttled_answer
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.db.models import AdminUser
from licenseserver.domain.audit.service import record
from licenseserver.domain.staff import account, recovery_codes
from licenseserver.domain.staff.service import StaffSession, enable_totp, is_totp_code, new_totp_secret, totp_uri
from licenseserver.kit.errors import AppError, ErrorCode

router = APIRouter()
STYLE_ATTRIBUTE = re.compile(r"\sstyle=\"[^\"]*\"")
SAVED_MESSAGES = {  # nosec B105  # messages shown after a change, no passwords
    "password": N_("Das Passwort wurde geändert. Andere Anmeldungen dieses Kontos wurden beendet."),
    "totp_enabled": N_("Die Zwei-Faktor-Anmeldung ist eingerichtet."),
    "totp_disabled": N_("Die Zwei-Faktor-Anmeldung wurde ausgeschaltet."),
    "recovery_codes": N_("Neue Wiederherstellungscodes erzeugt. Die bisherigen gelten nicht mehr."),
    "language": N_("Die Sprache wurde geändert."),
}


def _totp_on(admin: AdminUser) -> bool:
    return bool(admin.totp_secret_encrypted)


async def _account_page(
    request: Request,
    db: Db,
    staff: StaffSession,
    error: str = "",
    status: int = 200,
    saved: str = "",
    new_codes: list[str] | None = None,
) -> Response:
    """The account page; `new_codes` are recovery codes just made, shown in this answer only."""
    context = {
        "admin": staff.admin,
        "totp_on": _totp_on(staff.admin),
        "error": error,
        "languages": LANGUAGES,
        "saved": SAVED_MESSAGES.get(saved or request.query_params.get("saved", ""), ""),
        "recovery_codes_left": await recovery_codes.remaining(db, staff.admin.id) if _totp_on(staff.admin) else 0,
        "new_recovery_codes": new_codes or [],
    }
    return render(request, "account/index.html", context, status_code=status)


@router.get("/account")
async def account_overview(request: Request, db: Db, staff: Staff) -> Response:
    return await _account_page(request, db, staff)


@router.post("/account/language")
async def change_language(request: Request, db: Db, staff: Staff) -> Response:
    fields = await form_fields(request)
    chosen = fields.get("language", "")
    if chosen not in LANGUAGES:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, N_("Unbekannte Sprache."))
    admin = await _locked_admin(db, staff)
    if admin.language != chosen:
        before, admin.language = admin.language, chosen
        await record(
            db,
            actor_of(request, staff),
            "language_changed",
            "admin_user",
            admin.id,
            {"language": before},
            {"language": chosen},
        )
    return RedirectResponse("/account?saved=language", status_code=303)


async def _check_password(request: Request, staff: StaffSession, password: str) -> None:
    """The current password, checked under the log-in throttle: a stolen session cookie must not
    become an unthrottled way to guess it."""
    attempt = await reserve_attempt(
        request, staff.admin.username, N_("Zu viele Versuche. Bitte warten Sie eine Minute.")
    )
    await account.require_password(staff.admin, password)
    await attempt.give_back()


async def _locked_admin(db: Db, staff: StaffSession) -> AdminUser:
    """The admin row, locked (on PostgreSQL) so that two requests cannot interleave changes."""
    await db.refresh(staff.admin, with_for_update=True)
    return staff.admin


@router.post("/account/password")
async def change_password(request: Request, db: Db, staff: Staff) -> Response:
    fields = await form_fields(request)
    admin = await _locked_admin(db, staff)
    current, new = fields.get("current_password", ""), fields.get("new_password", "")
    try:
        account.validate_new_password(new, fields.get("new_password_repeat", ""))
        await _check_password(request, staff, current)
        await account.set_password(db, admin, new, keep_session_id=staff.record.id)
    except LoginThrottledError as exc:
        return throttled_answer(request, exc)
    except AppError as exc:
        if exc.status != 400:
            raise
        return await _account_page(request, db, staff, exc.message, exc.status)
    await record(db, actor_of(request, staff), "password_changed", "admin_user", admin.id)
    return RedirectResponse("/account?saved=password", status_code=303)


def _qr_svg(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, light="#fff", svgclass="totp-qr-code", title=gettext("QR-Code für die Authenticator-App")
    )
    # The CSP allows no style attributes; segno writes none today, and this keeps it that way.
    return Markup(STYLE_ATTRIBUTE.sub("", svg))  # noqa: S704  # nosec B704  # segno's own output, our own input


def _enrolment_page(
    request: Request, staff: StaffSession, token: str, secret: str, error: str = "", status: int = 200
) -> Response:
    context: dict[str, Any] = {
        "enrolment": token,
        "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "qr_svg": _qr_svg(totp_uri(secret, staff.admin.username)),
        "error": error,
    }
    return render(request, "account/totp.html", context, status_code=status)


@router.get("/account/totp")
async def totp_enrolment(request: Request, staff: Staff) -> Response:
    if _totp_on(staff.admin):
        return RedirectResponse("/account", status_code=303)
    secret = new_totp_secret()
    token = account.sign_enrolment(admin_state(request).secret_key, staff.admin.id, secret)
    return _enrolment_page(request, staff, token, secret)


@router.post("/account/totp")
async def confirm_totp(request: Request, db: Db, staff: Staff) -> Response:
    fields = await form_fields(request)
    admin = await _locked_admin(db, staff)
    if _totp_on(admin):
        raise AppError(409, ErrorCode.CONFLICT, N_("Die Zwei-Faktor-Anmeldung ist bereits eingerichtet."))
    secret_key = admin_state(request).secret_key
    token = fields.get("enrolment", "")
    secret = account.open_enrolment(secret_key, admin.id, token)
    if secret is None:
        message = N_("Die Einrichtung ist abgelaufen oder ungültig. Bitte beginnen Sie sie neu.")
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message)
    code = fields.get("code", "").replace(" ", "")
    if not is_totp_code(code) or not await enable_totp(db, secret_key, admin, secret, code):
        message = N_("Der Code ist falsch. Bitte den aktuellen 6-stelligen Code der App eingeben.")
        return _enrolment_page(request, staff, token, secret, message, 400)
    actor = actor_of(request, staff)
    await record(db, actor, "totp_enabled", "admin_user", admin.id, {"totp_enabled": False}, {"totp_enabled": True})
    # Shown in this answer and never again (no redirect: the codes are not kept anywhere to show).
    codes = await recovery_codes.replace_codes(db, secret_key, admin.id)
    return await _account_page(request, db, staff, saved="totp_enabled", new_codes=codes)


async def _totp_change_confirmed(request: Request, db: Db, staff: Staff) -> AdminUser | Response:
    """The locked account when TOTP is on and the password was confirmed (throttled like a log-in),
    else the answer that says why not."""
    fields = await form_fields(request)
    admin = await _locked_admin(db, staff)
    if not _totp_on(admin):
        raise AppError(409, ErrorCode.CONFLICT, N_("Die Zwei-Faktor-Anmeldung ist nicht eingerichtet."))
    try:
        await _check_password(request, staff, fields.get("password", ""))
    except LoginThrottledError as exc:
        return throttled_answer(request, exc)
    except AppError as exc:
        if exc.status != 400:
            raise
        return await _account_page(request, db, staff, exc.message, exc.status)
    return admin


@router.post("/account/recovery-codes")
async def regenerate_recovery_codes(request: Request, db: Db, staff: Staff) -> Response:
    """Ten new recovery codes for the password; every older one stops working."""
    admin = await _totp_change_confirmed(request, db, staff)
    if isinstance(admin, Response):
        return admin
    codes = await recovery_codes.replace_codes(db, admin_state(request).secret_key, admin.id)
    count = {"recovery_codes": len(codes)}
    await record(db, actor_of(request, staff), "recovery_codes_generated", "admin_user", admin.id, after=count)
    return await _account_page(request, db, staff, saved="recovery_codes", new_codes=codes)


@router.post("/account/totp/disable")
async def disable_totp(request: Request, db: Db, staff: Staff) -> Response:
    admin = await _totp_change_confirmed(request, db, staff)
    if isinstance(admin, Response):
        return admin
    await account.turn_off_totp(db, admin)
    actor = actor_of(request, staff)
    await record(db, actor, "totp_disabled", "admin_user", admin.id, {"totp_enabled": True}, {"totp_enabled": False})
    return RedirectResponse("/account?saved=totp_disabled", status_code=303)
