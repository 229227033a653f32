"""Lizenzserver Administration → API-Zugänge: the management API's tokens (docs/integrations.md).

A token is shown whole once, in the answer to the form that made it, and never again: only its
keyed hash is stored (domain/tokens). The list shows the visible prefix. The audit log names the
token by id, name, scope and prefix, never by its secret, as the CLI's `token` commands do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from licenseserver.admin.deps import Db, Staff, actor_of
from licenseserver.admin.formdata import form_fields, parse_form
from licenseserver.admin.i18n import N_
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.admin.rendering import render
from licenseserver.admin.state import admin_state
from licenseserver.db.models.integrations import ApiToken
from licenseserver.domain.audit.service import record
from licenseserver.domain.tokens.service import (
    MAX_EXPIRY_DAYS,
    NewToken,
    TokenCreate,
    create_token,
    list_tokens,
    revoke_token,
    token_snapshot,
)
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import iso_utc
from licenseserver.kit.validation import MAX_ID

router = APIRouter()
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
PAGE = "/administration/api-tokens"
LABELS: dict[str, Any] = {
    "name": _l("Name"),
    "scope": _l("Berechtigung"),
    "expires_days": _l("Läuft ab nach (Tagen)"),
}
SCOPES: dict[str, Any] = {"read": _l("Lesen"), "write": _l("Schreiben")}
SAVED_MESSAGES: dict[str, Any] = {"revoked": _l("Der API-Zugang wurde widerrufen. Anfragen mit ihm werden abgelehnt.")}
EMPTY_FORM = {"name": "", "scope": "read", "expires_days": ""}


def _form_data(fields: dict[str, str]) -> dict[str, Any]:
    """The posted fields for TokenCreate: a blank expiry means "never"."""
    data: dict[str, Any] = {name: fields.get(name, "") for name in EMPTY_FORM}
    if not str(data["expires_days"]).strip():
        data["expires_days"] = None
    return data


async def _page(
    request: Request,
    db: Db,
    *,
    form: dict[str, str] | None = None,
    new_token: NewToken | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    context = {
        "tokens": list(reversed(await list_tokens(db))),  # newest first: the one just made on top
        "scopes": SCOPES,
        "form": form or EMPTY_FORM,
        "max_expiry_days": MAX_EXPIRY_DAYS,
        "new_token": new_token,
        "error": error,
        "saved": str(SAVED_MESSAGES.get(request.query_params.get("saved", ""), "")),
    }
    return render(request, "administration/api_tokens.html", context, status_code=status)


@router.get(PAGE)
async def tokens_page(request: Request, db: Db, staff: Staff) -> Response:
    return await _page(request, db)


@router.post(PAGE)
async def create(request: Request, db: Db, staff: Staff) -> Response:
    fields: dict[str, str] | None = None  # an empty form is shown when the post cannot be read
    try:
        fields = await form_fields(request)
        data = parse_form(TokenCreate, _form_data(fields), LABELS)
    except AppError as exc:
        return await _page(request, db, form=fields, error=exc.message, status=exc.status)
    made = await create_token(db, admin_state(request).secret_key, data, staff.admin.username)
    await record(db, actor_of(request, staff), "create", "api_token", made.id, after=token_snapshot(made))
    # The whole token in this answer only (no redirect: it must not travel in a URL or be
    # shown again by reloading a page). The answer is never cached (SecurityHeadersMiddleware).
    return await _page(request, db, new_token=made)


NOT_FOUND = N_("Diesen API-Zugang gibt es nicht.")
ALREADY_REVOKED = N_("Dieser API-Zugang ist bereits widerrufen.")


async def _token(db: Db, token_id: int) -> ApiToken:
    token = await db.get(ApiToken, token_id)
    if token is None:
        raise AppError(404, ErrorCode.NOT_FOUND, NOT_FOUND)
    if token.revoked_at is not None:
        raise AppError(409, ErrorCode.CONFLICT, ALREADY_REVOKED)
    return token


@router.get(PAGE + "/{token_id}/revoke")
async def confirm_revoke(request: Request, db: Db, staff: Staff, token_id: TokenId) -> Response:
    token = await _token(db, token_id)
    return render(request, "administration/revoke_token.html", {"token": token, "scopes": SCOPES})


@router.post(PAGE + "/{token_id}/revoke")
async def revoke(request: Request, db: Db, staff: Staff, token_id: TokenId) -> Response:
    try:
        token, changed = await revoke_token(db, token_id)  # locks the row and decides
    except AppError as exc:
        raise AppError(404, ErrorCode.NOT_FOUND, NOT_FOUND) if exc.status == 404 else exc from None
    if not changed:
        raise AppError(409, ErrorCode.CONFLICT, ALREADY_REVOKED)
    after = {"revoked_at": iso_utc(token.revoked_at)}
    await record(db, actor_of(request, staff), "revoke", "api_token", token.id, after=after)
    return RedirectResponse(f"{PAGE}?saved=revoked", status_code=303)
