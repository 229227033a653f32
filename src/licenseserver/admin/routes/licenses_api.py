"""The reference's JSON endpoints for licenses: toggle, bulk actions, quick edit, new key.
Paths and shapes are the reference's (api-reference.txt, "License Management API")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.query_params import EntityId
from licenseserver.domain.licensing.staff_bulk import LicenseIds, delete_licenses, set_active
from licenseserver.domain.licensing.staff_edits import QuickEdit, toggle_license, unused_license_key, update_license
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.validation import parse_body

router = APIRouter()


@router.post("/api/license/{license_id}/toggle")
async def toggle(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    active = await toggle_license(db, license_id, actor_of(request, staff))
    message = "License activated" if active else "License deactivated"
    return JsonResponse({"success": True, "is_active": active, "message": message})


def _bulk_answer(count: int, verb: str) -> Response:
    # CONTRACT §6: bulk endpoints report how many changed (unknown or unchanged ones are skipped).
    return JsonResponse({"success": True, "count": count, "message": f"{count} licenses {verb}"})


@router.post("/api/licenses/bulk-activate")
async def bulk_activate(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_body(request, LicenseIds)
    return _bulk_answer(await set_active(db, body.unique(), True, actor_of(request, staff)), "activated")


@router.post("/api/licenses/bulk-deactivate")
async def bulk_deactivate(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_body(request, LicenseIds)
    return _bulk_answer(await set_active(db, body.unique(), False, actor_of(request, staff)), "deactivated")


@router.post("/api/licenses/bulk-delete")
async def bulk_delete(request: Request, db: Db, staff: Staff) -> Response:
    body = await parse_body(request, LicenseIds)
    return _bulk_answer(await delete_licenses(db, body.unique(), actor_of(request, staff)), "deleted")


@router.post("/api/license/{license_id}/quick-edit")
async def quick_edit(request: Request, db: Db, staff: Staff, license_id: EntityId) -> Response:
    body = await parse_body(request, QuickEdit)
    await update_license(db, license_id, body.changes(), actor_of(request, staff))
    return JsonResponse({"success": True, "message": "License updated successfully"})


@router.post("/api/generate-license-key")
async def generate_license_key(db: Db, staff: Staff) -> Response:
    """A fresh key no license uses yet; nothing is stored until a license is saved with it."""
    return JsonResponse({"license_key": await unused_license_key(db)})
