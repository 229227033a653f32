"""Lizenzserver Administration → Signaturschlüssel: the signing keys with their state, the JWK Set
clients trust, rotation and the retirement of older keys (docs/signatures.md).

The keys service works on the SQL layer's connection; here it runs inside the panel request's
transaction (db.unit_of_work.sql_connection), so a key change and its audit entry commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.db.sql import Connection
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import record
from licenseserver.domain.signing.keys import (
    CURRENT,
    PREVIOUS,
    RETIRED,
    SigningKeyInfo,
    jwks_document,
    list_keys,
    retire_key,
    rotate_keys,
)
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import as_utc, utc_now

router = APIRouter()

# A kid is an RFC 7638 thumbprint (43 base64url characters); the column holds up to 64. Anything
# else in the path is bad input (400), not an unknown key.
Kid = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
STATES = {CURRENT: ("aktuell", "ok"), PREVIOUS: (_l("veröffentlicht"), "warn"), RETIRED: (_l("zurückgezogen"), "off")}
ANCHOR = "#signaturschluessel"  # the section, so the browser scrolls back to it


@dataclass(frozen=True, slots=True)
class KeyView:
    """One key as the page shows it."""

    kid: str
    state: str
    state_label: str
    badge: str
    fingerprint: str
    age: str

    @property
    def retirable(self) -> bool:
        return self.state == PREVIOUS


def key_age(created_at: datetime, zone: ZoneInfo, today: date) -> str:
    """ "erstellt am TT.MM.JJJJ, vor N Tagen", counted in calendar days of the display time zone."""
    created = as_utc(created_at).astimezone(zone).date()
    days = (today - created).days
    ago = "heute" if days <= 0 else "vor 1 Tag" if days == 1 else f"vor {days} Tagen"
    return f"erstellt am {created:%d.%m.%Y}, {ago}"


def key_view(key: SigningKeyInfo, zone: ZoneInfo, today: date) -> KeyView:
    label, badge = STATES.get(key.state, (key.state, "off"))
    return KeyView(key.kid, key.state, label, badge, key.fingerprint, key_age(key.created_at, zone, today))


def _today(zone: ZoneInfo) -> date:
    return utc_now().astimezone(zone).date()


async def signing_section(request: Request, conn: Connection) -> dict[str, Any]:
    """The Administration page's context for its Signaturschlüssel section."""
    zone = admin_state(request).timezone
    today = _today(zone)
    keys = [key_view(key, zone, today) for key in await list_keys(conn)]
    jwks = json.dumps(await jwks_document(conn), indent=2, ensure_ascii=False)
    return {"signing_keys": keys, "jwks_json": jwks}


async def _find(conn: Connection, kid: str) -> SigningKeyInfo:
    for key in await list_keys(conn):
        if key.kid == kid:
            return key
    raise AppError(404, ErrorCode.NOT_FOUND, N_("Diesen Signaturschlüssel gibt es nicht."))


def _refuse_unless_previous(key: SigningKeyInfo) -> None:
    # The keys service refuses these too (under its lock); asking first gives staff the reason in
    # German before the confirmation step, not after it.
    if key.state == CURRENT:
        raise AppError(
            409,
            ErrorCode.CONFLICT,
            N_("Der aktuelle Schlüssel kann nicht zurückgezogen werden: zuerst einen neuen erzeugen."),
        )
    if key.state == RETIRED:
        raise AppError(409, ErrorCode.CONFLICT, N_("Dieser Signaturschlüssel ist bereits zurückgezogen."))


@router.post("/administration/signing-keys/rotate")
async def rotate(request: Request, db: Db, staff: Staff) -> Response:
    conn = await sql_connection(db)
    new = await rotate_keys(conn, admin_state(request).secret_key)
    # Read after the rotation, under its lock (held to the end of this transaction), so a rotation
    # racing this one cannot make the audit name the wrong key: the key just demoted is the newest
    # previous one, as every previous key was current once, before it.
    old = next((key.kid for key in await list_keys(conn) if key.state == PREVIOUS), None)
    before = None if old is None else {"current": old}
    after = {"current": new.kid, "previous": old}
    await record(db, actor_of(request, staff), "signing_key_rotated", "signing_key", new.kid, before, after)
    return RedirectResponse(f"/administration?saved=signing_key_rotated{ANCHOR}", status_code=303)


@router.get("/administration/signing-keys/{kid}/retire")
async def confirm_retire(request: Request, db: Db, staff: Staff, kid: Kid) -> Response:
    key = await _find(await sql_connection(db), kid)
    _refuse_unless_previous(key)
    view = key_view(key, admin_state(request).timezone, _today(admin_state(request).timezone))
    return render(request, "administration/retire_key.html", {"key": view})


@router.post("/administration/signing-keys/{kid}/retire")
async def retire(request: Request, db: Db, staff: Staff, kid: Kid) -> Response:
    conn = await sql_connection(db)
    _refuse_unless_previous(await _find(conn, kid))
    await retire_key(conn, kid)
    before, after = {"state": PREVIOUS}, {"state": RETIRED}
    await record(db, actor_of(request, staff), "signing_key_retired", "signing_key", kid, before, after)
    return RedirectResponse(f"/administration?saved=signing_key_retired{ANCHOR}", status_code=303)
