"""The license page's "Offline-Lizenzdatei herunterladen": the `<license key>.lic` file of one
active device, the same file POST /api/license/checkout gives (domain.signing.offline).

A file is a credential: a program accepts it without asking the server until it expires. So it
is issued by POST with the CSRF token, never cached, and every issue is in the audit log.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.i18n import N_
from licenseserver.admin.routes.license_detail import license_page_view
from licenseserver.admin.state import admin_state
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import staff_devices as devices
from licenseserver.domain.signing.keys import ensure_current_key
from licenseserver.domain.signing.offline import LicenseFile, build_license_file
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import MAX_ID

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
# The builder speaks the License API's English; staff read why in German, status and code kept.
GERMAN_REFUSALS = {
    ErrorCode.LICENSE_INACTIVE: N_("Die Lizenz ist deaktiviert: keine Offline-Lizenzdatei."),
    ErrorCode.LICENSE_EXPIRED: N_("Die Lizenz ist abgelaufen: keine Offline-Lizenzdatei."),
    ErrorCode.LICENSE_NOT_YET_VALID: N_("Die Lizenz ist noch nicht gültig: keine Offline-Lizenzdatei."),
    ErrorCode.DEVICE_NOT_ACTIVATED: N_("Das Gerät ist nicht aktiv: keine Offline-Lizenzdatei."),
}


def _claims(token: str) -> dict[str, Any]:
    """The payload of our own compact JWS (for the audit entry; nothing here is trusted input)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return header


async def _issue(request: Request, db: Db, license_id: int, device_id: int) -> tuple[str, LicenseFile]:
    license_key = await devices.license_key_of(db, license_id)  # 404 for an unknown license
    device = next((d for d in await devices.devices_of_license(db, license_id) if d.id == device_id), None)
    if device is None:
        raise AppError(404, ErrorCode.DEVICE_NOT_FOUND, N_("Dieses Gerät gehört nicht zu der Lizenz."))
    conn = await sql_connection(db)
    # The current key; on an installation that never made one, the first one (as `serve` does).
    key = await ensure_current_key(conn, admin_state(request).secret_key)
    try:
        license_file = await build_license_file(conn, key, license_key, device.hardware_hash)
    except AppError as refusal:
        german = GERMAN_REFUSALS.get(refusal.code)
        if german is None:
            raise
        raise AppError(refusal.status, refusal.code, german) from None
    return license_key, license_file


@router.post("/licenses/{license_id}/devices/{device_id}/offline-file")
async def download_offline_file(request: Request, db: Db, staff: Staff, license_id: Id, device_id: Id) -> Response:
    try:
        license_key, license_file = await _issue(request, db, license_id, device_id)
    except AppError as refusal:
        if refusal.status == 404:
            raise
        # The page again with the reason and the refusal's status (the transaction rolls back).
        return await license_page_view(request, db, license_id, error=refusal)
    claims = _claims(license_file.token)
    after = {
        "device_id": device_id,
        "hardware_hash": claims["hardware_hash"],
        "kid": _header(license_file.token)["kid"],
        "jti": claims["jti"],
        "expires_at": iso_utc(license_file.expires_at),
    }
    await record(db, actor_of(request, staff), "offline_file_issued", "license", license_id, after=after)
    headers = {
        "Content-Disposition": f'attachment; filename="{license_key}.lic"',
        "Cache-Control": "no-store",
    }
    return Response(license_file.file_text(), media_type="text/plain; charset=utf-8", headers=headers)
