"""Live sessions: every session that has not ended and was heard from within the client's
timeout, with a button to end it (end_reason "admin", the clients' own END_SESSION rule)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.rendering import render
from licenseserver.domain.audit.service import record
from licenseserver.domain.licensing import staff_sessions as sessions
from licenseserver.domain.licensing.sessions import ended_json
from licenseserver.kit.jsonresp import JsonResponse
from licenseserver.kit.paging import MAX_PAGE, PageRequest, counted_page
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import MAX_ID

router = APIRouter()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PER_PAGE = 50


async def end_session_audited(
    request: Request, db: Db, staff: Staff, session_id: int, license_id: int | None = None
) -> dict[str, Any]:
    """End a session as staff, with its audit entry; the ended session as JSON."""
    row = await sessions.end_session_by_staff(db, session_id, license_id)
    after = {
        "ended_at": iso_utc(row["ended_at"]),
        "end_reason": row["end_reason"],
        "duration_seconds": ended_json(row)["duration_seconds"],
    }
    before = {"license_id": row["license_id"], "ended_at": None}
    await record(db, actor_of(request, staff), "session_end", "session", session_id, before=before, after=after)
    return {"session_id": session_id, "license_id": row["license_id"], **after}


@router.get("/sessions")
async def live_sessions_page(
    request: Request, db: Db, staff: Staff, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
) -> Response:
    wanted = PageRequest(page, PER_PAGE)
    rows, total = await sessions.live_sessions(db, wanted.per_page, wanted.offset)
    context = {
        "sessions": rows,
        "page": counted_page(rows, wanted, total),
        "timeout": await sessions.session_timeout(db),
        "done": request.query_params.get("done") == "session_ended",
    }
    return render(request, "sessions/live.html", context)


@router.post("/sessions/{session_id}/end")
async def end_session_form(request: Request, db: Db, staff: Staff, session_id: Id) -> Response:
    await end_session_audited(request, db, staff, session_id)
    return RedirectResponse("/sessions?done=session_ended", status_code=303)


@router.post("/api/sessions/{session_id}/end")
async def end_session_json(request: Request, db: Db, staff: Staff, session_id: Id) -> Response:
    ended = await end_session_audited(request, db, staff, session_id)
    return JsonResponse({"success": True, "message": "Session ended successfully", **ended})
