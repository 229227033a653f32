"""Leads as a CSV file: export everything, import a file all or nothing (format and limits:
domain/leads/csv_format.py, docs/leads.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import checked_form
from licenseserver.admin.i18n import N_
from licenseserver.admin.routes.leads import LeadListQuery, overview_page
from licenseserver.domain.audit.service import record
from licenseserver.domain.leads.csv_encoding import UTF8
from licenseserver.domain.leads.csv_format import MAX_IMPORT_BYTES
from licenseserver.domain.leads.import_check import check_file
from licenseserver.domain.leads.import_problems import ImportRefusedError
from licenseserver.domain.leads.transfer import export_csv, write_plan
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import utc_today

router = APIRouter()
# The upload's own limit (admin/app.py gives it to the body limit): the file, and room for the
# form's other fields and the multipart framing around it.
MAX_UPLOAD_BYTES = MAX_IMPORT_BYTES + 64 * 1024
TOO_LARGE = f"Die Datei ist zu groß: höchstens {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."


@router.get("/leads/export")
async def export_leads(db: Db, staff: Staff) -> Response:
    filename = f"leads-{utc_today().isoformat()}.csv"
    return Response(
        await export_csv(db),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _uploaded_bytes(request: Request) -> bytes:
    upload = (await checked_form(request)).get("file")
    if not isinstance(upload, UploadFile):
        raise AppError(400, ErrorCode.VALIDATION_ERROR, N_("Bitte eine CSV-Datei auswählen."))
    try:
        data = await upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        await upload.close()  # its spooled temporary file, now rather than at garbage collection
    if len(data) > MAX_IMPORT_BYTES:
        raise AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, TOO_LARGE)
    return data


@router.post("/leads/import")
async def import_leads(request: Request, db: Db, staff: Staff) -> Response:
    """All or nothing: a file with any problem writes nothing and the overview lists every one."""
    try:
        data = await _uploaded_bytes(request)
        checked = await check_file(db, data)
    except AppError as error:
        return await overview_page(request, db, LeadListQuery(), error=error)
    except ImportRefusedError as refusal:
        message = f"Nichts importiert: {len(refusal.problems)} Problem(e) in der Datei. {refusal.hint}".strip()
        refused = AppError(400, ErrorCode.VALIDATION_ERROR, message)
        return await overview_page(request, db, LeadListQuery(), error=refused, problems=refusal.problems)
    result = await write_plan(db, checked.institutions)
    after = {
        "institutions": result.institutions,
        "contacts": result.contacts,
        "details": result.details,
        "institution_id_range": [min(result.institution_ids), max(result.institution_ids)]
        if result.institution_ids
        else [],
    }
    if checked.encoding != UTF8:
        after["encoding"] = checked.encoding
    await record(db, actor_of(request, staff), "import", "lead_institution", None, after=after)
    read_as = "" if checked.encoding == UTF8 else f"&read_as={checked.encoding}"
    return RedirectResponse(f"/leads/?notice=imported&count={result.institutions}{read_as}", status_code=303)
